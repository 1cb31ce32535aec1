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

-- A signed download URL, valid until exp: the hex HMAC-SHA256 of "id:exp"
-- with the server secret (the session setting msgr.secret, hex, set by the
-- programs' db_connect). exp is the end of the current hour plus one hour,
-- so a URL stays the same for an hour and caches can keep it; it is valid
-- for one to two hours. The files program checks it (download.c). NULL in
-- a session without the secret.
CREATE FUNCTION file_url(p_id bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT '/api/files/' || p_id || '?exp=' || e.exp || '&sig=' ||
		encode(hmac(convert_to(p_id || ':' || e.exp, 'UTF8'),
			    decode(nullif(current_setting('msgr.secret', true), ''), 'hex'),
			    'sha256'), 'hex')
	FROM (SELECT (ceil(extract(epoch FROM now()) / 3600) * 3600 + 3600)::bigint AS exp) e
$$;

-- The File object of the API.
CREATE FUNCTION file_json(f files) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT jsonb_build_object(
		'id', f.id,
		'name', f.name,
		'size', f.size,
		'mime', f.mime,
		'url', file_url(f.id),
		'created_at', api_ts(f.created_at))
$$;

-- Replaces the placeholder of 001_auth.sql: a URL the browser can load.
CREATE OR REPLACE FUNCTION avatar_url(file_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN file_id IS NULL THEN NULL ELSE file_url(file_id) END
$$;

-- Replaces the placeholder of 003_chats.sql: a message's files in the order
-- of attach_files()' array. message_json() leaves them out of deleted
-- messages.
CREATE OR REPLACE FUNCTION message_attachments(msg_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (
		SELECT coalesce(jsonb_agg(file_json(f) ORDER BY f.attach_order, f.id), '[]'::jsonb)
		FROM files f WHERE f.message_id = msg_id AND f.deleted_at IS NULL);
END
$$;

-- Adds the rows of freshly received files (the arrays of upload_sql_arrays,
-- in order), owned by p_uploader and attached to nothing. Returns the rows,
-- their ids in the order of the arrays.
CREATE FUNCTION files_add(p_uploader bigint, p_kind text, p_names text[], p_sizes bigint[],
			  p_mimes text[], p_keys text[]) RETURNS SETOF files
LANGUAGE sql AS $$
	INSERT INTO files (uploader_id, kind, name, size, mime, storage_key)
	SELECT p_uploader, p_kind, t.name, t.size, t.mime, t.key
	FROM unnest(p_names, p_sizes, p_mimes, p_keys) WITH ORDINALITY AS t(name, size, mime, key, ord)
	ORDER BY t.ord
	RETURNING *
$$;

-- Marks files deleted (their bytes could not be published, or they are to
-- go): a user whose avatar one was has none any more. The caller purges.
CREATE FUNCTION files_drop(p_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
	UPDATE users SET avatar_file_id = NULL WHERE avatar_file_id = ANY(p_ids);
	UPDATE files SET deleted_at = coalesce(deleted_at, now()) WHERE id = ANY(p_ids);
$$;

-- Whether p_user may read file p_id (0 = nobody signed in): its uploader, a
-- member of the chat of the message that holds it, anybody signed in for
-- an avatar (avatars show wherever their user does), and anybody at all
-- with a valid signed URL (p_signed, checked by the program).
CREATE FUNCTION file_for_download(p_id bigint, p_user bigint, p_signed boolean)
RETURNS TABLE (storage_key text, mime text, name text)
LANGUAGE sql STABLE AS $$
	SELECT f.storage_key, f.mime, f.name
	FROM files f
	WHERE f.id = p_id AND f.deleted_at IS NULL
	  AND (p_signed
	       OR (p_user > 0 AND (f.uploader_id = p_user OR f.kind = 'avatar'))
	       OR (p_user > 0 AND f.message_id IS NOT NULL AND EXISTS (
			SELECT 1 FROM messages m
			JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = p_user
			WHERE m.id = f.message_id)))
$$;

-- Attaches uploads to a message: each must be an upload of p_user that is
-- not attached (nor deleted) yet, at most p_max of them; otherwise 422 with
-- errors.attachment_ids (api_field_error of 003_chats.sql). Called by
-- message_send() in the transaction that creates the message, before the
-- message's JSON is built; the row locks of the UPDATE make two sends of one
-- upload attach it once.
CREATE FUNCTION attach_files(p_msg_id bigint, p_user bigint, p_ids bigint[], p_max int DEFAULT 10)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
		RETURN;
	END IF;
	IF cardinality(p_ids) > p_max THEN
		PERFORM api_field_error('attachment_ids',
			format('a message may carry at most %s attachments', p_max));
	END IF;
	WITH a AS (
		UPDATE files f SET message_id = p_msg_id, attach_order = t.ord
		FROM (SELECT DISTINCT ON (u.id) u.id, u.ord
		      FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord) ORDER BY u.id, u.ord) t
		WHERE f.id = t.id AND f.uploader_id = p_user AND f.kind = 'upload'
		  AND f.message_id IS NULL AND f.deleted_at IS NULL
		RETURNING 1)
	SELECT count(*) INTO n FROM a;
	IF n <> (SELECT count(DISTINCT u) FROM unnest(p_ids) u) THEN
		PERFORM api_field_error('attachment_ids',
			'each attachment must be an upload of yours that is not attached to a message yet');
	END IF;
END
$$;

-- A deleted message's files go: marked here, in the deleting transaction,
-- and unlinked by the program after the commit (storage_purge) or by the
-- next sweep.
CREATE FUNCTION files_on_message_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE files SET deleted_at = now() WHERE message_id = NEW.id AND deleted_at IS NULL;
	RETURN NULL;
END
$$;
CREATE TRIGGER messages_files_deleted AFTER UPDATE OF deleted_at ON messages
	FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
	EXECUTE FUNCTION files_on_message_deleted();

-- PUT /api/users/me/avatar: the new picture's row (the arrays of one file),
-- the user pointing at it and the old one marked deleted, in one go.
-- Returns the user (with email) and the ids of the old and new files.
CREATE FUNCTION set_avatar(p_user bigint, p_names text[], p_sizes bigint[], p_mimes text[],
			   p_keys text[])
RETURNS TABLE (usr jsonb, old_file_id bigint, new_file_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	old_id bigint;
	new_id bigint;
	u users;
BEGIN
	SELECT avatar_file_id INTO old_id FROM users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM api_error(404, 'user_not_found', 'the account of this token no longer exists');
	END IF;
	SELECT a.id INTO new_id FROM files_add(p_user, 'avatar', p_names, p_sizes, p_mimes, p_keys) a;
	UPDATE users SET avatar_file_id = new_id WHERE id = p_user RETURNING * INTO u;
	UPDATE files SET deleted_at = now() WHERE id = old_id;
	RETURN QUERY SELECT user_json(u, true), old_id, new_id;
END
$$;

-- DELETE /api/users/me/avatar: the user without a picture; the old one, if
-- any, marked deleted. Returns the user and the old file's id.
CREATE FUNCTION clear_avatar(p_user bigint)
RETURNS TABLE (usr jsonb, old_file_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	old_id bigint;
	u users;
BEGIN
	SELECT avatar_file_id INTO old_id FROM users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM api_error(404, 'user_not_found', 'the account of this token no longer exists');
	END IF;
	UPDATE users SET avatar_file_id = NULL WHERE id = p_user RETURNING * INTO u;
	UPDATE files SET deleted_at = now() WHERE id = old_id;
	RETURN QUERY SELECT user_json(u, true), old_id;
END
$$;
