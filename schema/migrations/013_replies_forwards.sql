-- Conversations (API.md "Conversations"): replies, forwards, mentions and
-- pins on messages; each member's own settings of a chat.
--
-- A reply names the message it answers (same chat: message_send() checks);
-- the quote is rendered from that row each time, so it shows the original
-- as it is now, and an edit or delete of the original bumps the chat's
-- page version like any change of the chat (006_page_versions.sql).
-- No foreign key, as for chat_id (011_send_batch.sql).
ALTER TABLE messages ADD COLUMN reply_to_id bigint;
-- A forwarded copy: {sender_id, sender_name, created_at} of the original,
-- fixed when it was forwarded (forwarding a copy keeps the first original).
ALTER TABLE messages ADD COLUMN forwarded_from jsonb;
-- The ids of the chat's members named @username in the text, computed at
-- send and edit (message_mentions()).
ALTER TABLE messages ADD COLUMN mentions bigint[] NOT NULL DEFAULT '{}';
-- Pinned since (NULL: not pinned). On the message's own row, so that a pin
-- bumps the page version through messages_page_updated.
ALTER TABLE messages ADD COLUMN pinned_at timestamptz;
CREATE INDEX messages_pinned ON messages (chat_id, pinned_at) WHERE pinned_at IS NOT NULL;

-- Forwarding copies a message's files: the copy's rows name the same
-- stored bytes, which therefore go only with the last row that names them
-- (storage_purge(), shared/storage.c).
ALTER TABLE files DROP CONSTRAINT files_storage_key_key;
CREATE INDEX files_storage_key ON files (storage_key);

-- A member's own settings of a chat (PATCH /api/chats/{id}/settings).
ALTER TABLE chat_members ADD COLUMN muted_until timestamptz;
ALTER TABLE chat_members ADD COLUMN notify text NOT NULL DEFAULT 'all'
	CHECK (notify IN ('all', 'mentions', 'none'));

-- message_send() and message_send_upload() take p_reply_to; chat_object()
-- takes the viewer's settings and the pins.
DROP FUNCTION IF EXISTS message_send(bigint, bigint, text, boolean, text, bigint[], int,
				     double precision, double precision);
DROP FUNCTION IF EXISTS message_send_upload(bigint, bigint, text, boolean, text, text[], bigint[],
					    text[], text[], int, double precision, double precision);
DROP FUNCTION IF EXISTS chat_object(chats, jsonb, jsonb, int);
DROP FUNCTION IF EXISTS message_append(bigint, bigint, text, text, text);
