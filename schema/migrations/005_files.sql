-- Uploaded files: message attachments and avatars (API.md "Files").
--
-- The bytes live in the storage directory under storage_key, a random name
-- the server drew (shared/storage.h); this table is the only way from an id
-- to them. A file is removed in two steps: its row is marked (deleted_at) in
-- the transaction that drops it, then, after the commit, the program unlinks
-- the bytes and deletes the row (storage_purge). The periodic sweep of the
-- files program finishes whatever a crash left marked.

CREATE TABLE files (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	uploader_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	-- 'upload': POST /api/files or a multipart message, attachable once;
	-- 'avatar': a user's picture, never attachable nor swept as unattached.
	kind text NOT NULL DEFAULT 'upload' CHECK (kind IN ('upload', 'avatar')),
	-- Cleaned by the program (upload_clean_name): the last path segment,
	-- no control characters, valid UTF-8, at most 255 bytes.
	name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 255
		AND name !~ '[\x01-\x1f\x7f/\\]'),
	size bigint NOT NULL CHECK (size >= 0),
	mime text NOT NULL CHECK (mime ~ '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$'),
	storage_key text NOT NULL UNIQUE CHECK (storage_key ~ '^[0-9a-f]{32}$'),
	message_id bigint REFERENCES messages ON DELETE SET NULL,
	attach_order smallint, -- its place among the message's attachments
	created_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	CHECK (kind = 'upload' OR message_id IS NULL)
);
CREATE INDEX files_message ON files (message_id, attach_order) WHERE message_id IS NOT NULL;
CREATE INDEX files_uploader ON files (uploader_id);
-- The sweep's two searches.
CREATE INDEX files_unattached ON files (created_at)
	WHERE kind = 'upload' AND message_id IS NULL AND deleted_at IS NULL;
CREATE INDEX files_deleted ON files (id) WHERE deleted_at IS NOT NULL;

-- A user's avatar row goes away only after the user stops pointing at it.
ALTER TABLE users ADD CONSTRAINT users_avatar_file_fkey
	FOREIGN KEY (avatar_file_id) REFERENCES files ON DELETE SET NULL;
CREATE INDEX users_avatar_file ON users (avatar_file_id) WHERE avatar_file_id IS NOT NULL;

-- The trigger below: declared here, defined in functions/files.sql
-- (schema/README.md).
CREATE FUNCTION files_on_message_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;
CREATE TRIGGER messages_files_deleted AFTER UPDATE OF deleted_at ON messages
	FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
	EXECUTE FUNCTION files_on_message_deleted();
