-- Chats, memberships, messages, reactions, read markers and search
-- (API.md "Chats and messages").
--
-- Every request of the chats and messages programs is one call of one
-- function (functions/chats.sql, messages.sql), which checks, changes, writes its events (002_events.sql)
-- and builds the answer's JSON in one transaction. Write functions return an
-- api_reply: the HTTP status, the body (NULL for 204) and the highest event
-- id they emitted (NULL when nothing changed); the C side sends NOTIFY with
-- that id after the commit, never inside the writing transaction.
--
-- Locking: every change to a chat's membership or title, and every message
-- sent into it, first takes the chat row FOR NO KEY UPDATE. So the changes of
-- one chat are serialised in one order (no deadlocks), the member limit holds
-- under concurrency, and a member removed concurrently with a send either
-- sent before the removal or gets 404.
--
-- Event payloads are the "data" objects clients receive and are the same for
-- every viewer: reactions carry "me": false and chats "unread_count": 0 there.

CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TYPE api_reply AS (status int, body jsonb, event_id bigint);

CREATE TABLE chats (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	type text NOT NULL CHECK (type IN ('direct', 'group')),
	title text,
	-- A direct chat's two users, lower id first: at most one chat a pair.
	direct_lo bigint,
	direct_hi bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- Denormalised for the chat list: the newest message and its time.
	last_message_id bigint,
	last_activity_at timestamptz NOT NULL DEFAULT now(),
	CHECK (type = 'group' AND title IS NOT NULL AND direct_lo IS NULL AND direct_hi IS NULL
	    OR type = 'direct' AND title IS NULL AND direct_lo < direct_hi),
	UNIQUE (direct_lo, direct_hi)
);

CREATE TABLE chat_members (
	chat_id bigint NOT NULL REFERENCES chats ON DELETE CASCADE,
	user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
	-- Grows with every join: the longest-standing member has the lowest.
	seq bigint GENERATED ALWAYS AS IDENTITY,
	joined_at timestamptz NOT NULL DEFAULT now(),
	-- 0 = nothing yet (shown as null). Not indexed, so moving them is a
	-- HOT update.
	last_read_message_id bigint NOT NULL DEFAULT 0,
	last_delivered_message_id bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members (user_id, chat_id);
CREATE UNIQUE INDEX chat_members_one_owner ON chat_members (chat_id) WHERE role = 'owner';

-- The generated column messages.search: declared here, defined in functions/search.sql
-- (schema/README.md).
CREATE FUNCTION message_tsv(t text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;

CREATE TABLE messages (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	chat_id bigint NOT NULL REFERENCES chats ON DELETE CASCADE,
	-- The author. For a service message the user whose action it tells of
	-- (NULL for the server's own); the API shows sender_id null for those.
	-- No foreign key: users are never deleted, and the key check would lock
	-- the sender's users row on every send.
	sender_id bigint,
	kind text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'service')),
	text text NOT NULL,
	client_id text,
	created_at timestamptz NOT NULL DEFAULT now(),
	edited_at timestamptz,
	deleted_at timestamptz,
	search tsvector GENERATED ALWAYS AS (message_tsv(text)) STORED
);
-- History pages, last messages and unread counts (index-only: the count
-- needs sender_id and deleted_at).
CREATE INDEX messages_chat ON messages (chat_id, id) INCLUDE (sender_id, deleted_at);
CREATE UNIQUE INDEX messages_client_id ON messages (chat_id, sender_id, client_id)
	WHERE client_id IS NOT NULL;
-- Search within given chats: btree_gin puts chat_id into the same GIN
-- index, so a search costs what the hits in the caller's chats cost, not
-- what the word's hits everywhere cost.
CREATE INDEX messages_search ON messages USING gin (chat_id, search);

CREATE TABLE message_reactions (
	message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
	user_id bigint NOT NULL, -- no foreign key, as messages.sender_id
	emoji text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (message_id, emoji, user_id)
);

-- A token bucket per user for sending messages. Unlogged: losing it in a
-- crash only forgives some sends, and it costs no WAL.
CREATE UNLOGGED TABLE send_buckets (
	user_id bigint PRIMARY KEY,
	tokens double precision NOT NULL,
	at timestamptz NOT NULL
);
