-- Sends written in batches (docs/BENCHMARKS.md, "Send"). One transaction
-- per message costs the database ~550 µs of CPU, most of it per statement
-- and per commit, not per row: the messages program now hands plain text
-- sends to one process of its own, which writes all that are waiting in one
-- transaction (fcgi/messages/batch.c) and answers each after the commit.

-- The chat row's last message and version, once per statement and chat
-- rather than once per row: a batch of 16 messages paid 16 updates of
-- 16 chat rows through 16 trigger calls. The rows are updated in id order,
-- the order chat locks are taken in everywhere, so that two statements
-- never wait for each other.
-- (functions/messages.sql has the function, now a statement trigger's.)
DROP TRIGGER messages_page_inserted ON messages;

CREATE TRIGGER messages_page_inserted AFTER INSERT ON messages
	REFERENCING NEW TABLE AS inserted
	FOR EACH STATEMENT EXECUTE FUNCTION messages_page_inserted();

-- No foreign key from messages to chats: chats are never deleted by the
-- application, every writer of a message holds the chat's row lock (which
-- proves it exists), and the key's check cost each message a query and a
-- second lock of the chat row (~30 µs, 15% of a batched send). Deleting a
-- chat by hand still takes its messages with it.
ALTER TABLE messages DROP CONSTRAINT messages_chat_id_fkey;

-- The trigger below: declared here, defined in functions/chats.sql
-- (schema/README.md).
CREATE FUNCTION chats_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;
CREATE TRIGGER chats_deleted AFTER DELETE ON chats
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION chats_deleted();

-- How many sends the bucket's last update took (message_send_batch() reads
-- it back from the same statement that takes them).
ALTER TABLE send_buckets ADD COLUMN granted int NOT NULL DEFAULT 0;
