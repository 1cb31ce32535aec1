-- Message search out of the send's transaction (issue 20). The GIN index
-- on messages.search cost every send its insert, and could not give a
-- word's matches newest first: a search read and sorted every match (53
-- searches/s over 1,000,000 messages). A RUM index (Debian's
-- postgresql-15-rum, a dependency: scripts/deps.sh) keeps each message's
-- id beside its lexemes and gives them in order, but has no pending list:
-- on messages it cut the send's ceiling by 40%. So it indexes a table of
-- its own, message_search, filled after the send's commit in batches:
--   - every new message, and every change of a message's text or
--     deletion, queues it in message_search_queue (triggers below, in
--     the writer's transaction: one row each);
--   - search_index_drain() (functions/search.sql), run by the messages
--     companion (fcgi/messages/search_index.c), takes the queue's oldest
--     rows and writes their messages' documents as they are now;
--   - search_messages() takes from the index what the queue does not name,
--     and the queued messages from messages itself: a search never misses
--     a message, however far behind the index is.
-- The walk of a chat's messages for common words reads messages.search,
-- which stays. rum is not a trusted extension: scripts/migrate.sh runs as a
-- superuser. Re-runnable (schema/README.md).
CREATE EXTENSION IF NOT EXISTS rum WITH SCHEMA public;

CREATE TABLE IF NOT EXISTS message_search (
	id bigint PRIMARY KEY REFERENCES messages ON DELETE CASCADE,
	chat_id bigint NOT NULL,
	search tsvector NOT NULL
);

-- Ids may repeat (a message sent, then edited): each row is drained once,
-- by its seq. No foreign key: a message deleted for good is simply not
-- found by the drain, and the send pays no extra check. By chat: a search
-- reads only the queued messages of the caller's chats.
CREATE TABLE IF NOT EXISTS message_search_queue (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	chat_id bigint NOT NULL,
	id bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS message_search_queue_chat ON message_search_queue (chat_id, id);

-- The messages already there, indexed once (about 40 s a million on two
-- cores); nothing is queued while the migration's transaction holds them.
INSERT INTO message_search (id, chat_id, search)
SELECT id, chat_id, search FROM messages
WHERE deleted_at IS NULL AND NOT EXISTS (SELECT FROM message_search s WHERE s.id = messages.id);
CREATE INDEX IF NOT EXISTS message_search_rum ON message_search
	USING rum (search rum_tsvector_addon_ops, id) WITH (attach = 'id', to = 'search');

DROP INDEX IF EXISTS messages_search;

CREATE OR REPLACE FUNCTION messages_search_queue_new() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;
CREATE OR REPLACE FUNCTION messages_search_queue_changed() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;

DROP TRIGGER IF EXISTS messages_search_queue_new ON messages;
CREATE TRIGGER messages_search_queue_new AFTER INSERT ON messages
	REFERENCING NEW TABLE AS inserted
	FOR EACH STATEMENT EXECUTE FUNCTION messages_search_queue_new();
DROP TRIGGER IF EXISTS messages_search_queue_changed ON messages;
CREATE TRIGGER messages_search_queue_changed AFTER UPDATE OF text, deleted_at ON messages
	FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
	EXECUTE FUNCTION messages_search_queue_changed();
