-- Uploaded files: signed URLs, the File object, attachments and avatars
-- (fcgi/files; migrations/005_files.sql).

-- The hour slot whose end (plus an hour) signed URLs expire at now.
CREATE OR REPLACE FUNCTION file_url_period() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT ceil(extract(epoch FROM now()) / 3600)::bigint
$$;

CREATE OR REPLACE FUNCTION file_url(p_id bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT public.file_url_until(p_id, public.file_url_period() * 3600 + 3600)
$$;

-- The signed URL of file p_id valid until p_exp (seconds since the epoch):
-- files_check_signature() of fcgi/files/download.c checks it. An export's
-- archive gets one valid as long as the archive is kept (export.sql).
CREATE OR REPLACE FUNCTION file_url_until(p_id bigint, p_exp bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT '/api/files/' || p_id || '?exp=' || p_exp || '&sig=' ||
		encode(public.hmac(convert_to(p_id || ':' || p_exp, 'UTF8'),
			    decode(nullif(current_setting('msgr.secret', true), ''), 'hex'),
			    'sha256'), 'hex')
$$;

-- The File object of the API.
CREATE OR REPLACE FUNCTION file_json(f files) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT jsonb_build_object(
		'id', f.id,
		'name', f.name,
		'size', f.size,
		'mime', f.mime,
		'url', public.file_url(f.id),
		'created_at', public.api_ts(f.created_at))
$$;

-- A user's avatar: a URL the browser can load.
CREATE OR REPLACE FUNCTION avatar_url(file_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN file_id IS NULL THEN NULL ELSE public.file_url(file_id) END
$$;

-- Each given message's files that are not deleted, [File] in attachment
-- order; messages without any are left out.
CREATE OR REPLACE FUNCTION attachments_of(p_ids bigint[])
RETURNS TABLE (message_id bigint, attachments jsonb)
LANGUAGE sql STABLE AS $$
	SELECT f.message_id, jsonb_agg(public.file_json(f) ORDER BY f.attach_order, f.id)
	FROM public.files f WHERE f.message_id = ANY(p_ids) AND f.deleted_at IS NULL
	GROUP BY f.message_id
$$;

-- A message's files, [File] in the order of attach_files()' array.
-- message_json() leaves them out of deleted messages.
CREATE OR REPLACE FUNCTION message_attachments(msg_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN coalesce((SELECT attachments FROM public.attachments_of(ARRAY[msg_id])), '[]'::jsonb);
END
$$;

-- The bytes a user keeps in storage: every live file they uploaded,
-- attached or not, avatars included. A forwarded copy has its original's
-- uploader and bytes (storage_key), so the bytes count once. An export's
-- archive (kind 'export') is the server's copy of these, not counted.
CREATE OR REPLACE FUNCTION user_storage_bytes(p_user bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT coalesce(sum(k.size), 0)::bigint
	FROM (SELECT DISTINCT ON (f.storage_key) f.size
	      FROM public.files f WHERE f.uploader_id = p_user AND f.deleted_at IS NULL
		AND f.kind <> 'export'
	      ORDER BY f.storage_key) k
$$;

-- Adds the rows of freshly received files (the arrays of upload_sql_arrays,
-- in order), owned by p_uploader and attached to nothing. Returns the rows,
-- their ids in the order of the arrays. With p_quota (bytes; NULL: none)
-- the uploader's storage with these files must stay within it, else 413
-- quota_exceeded. The uploader's row is locked first, until the commit:
-- two uploads of one user then count one after the other (each sum is read
-- after the lock, in a snapshot that sees the other's committed rows), so
-- both cannot squeeze past the quota.
CREATE OR REPLACE FUNCTION files_add(p_uploader bigint, p_kind text, p_names text[], p_sizes bigint[],
			  p_mimes text[], p_keys text[], p_quota bigint DEFAULT NULL) RETURNS SETOF files
LANGUAGE plpgsql AS $$
DECLARE
	adding bigint := (SELECT coalesce(sum(s), 0) FROM unnest(p_sizes) s);
	used bigint;
BEGIN
	IF p_quota IS NOT NULL THEN
		PERFORM 1 FROM public.users WHERE id = p_uploader FOR NO KEY UPDATE;
		used := public.user_storage_bytes(p_uploader);
		IF used + adding > p_quota THEN
			PERFORM public.api_error(413, 'quota_exceeded', format(
				'this would store %s bytes of your files; the limit is %s bytes (%s in use)',
				used + adding, p_quota, used));
		END IF;
	END IF;
	RETURN QUERY
	INSERT INTO public.files (uploader_id, kind, name, size, mime, storage_key)
	SELECT p_uploader, p_kind, t.name, t.size, t.mime, t.key
	FROM unnest(p_names, p_sizes, p_mimes, p_keys) WITH ORDINALITY AS t(name, size, mime, key, ord)
	ORDER BY t.ord
	RETURNING *;
END
$$;

-- Marks files deleted (their bytes could not be published, or they are to
-- go): a user whose avatar one was has none any more. The caller purges.
CREATE OR REPLACE FUNCTION files_drop(p_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
	UPDATE public.users SET avatar_file_id = NULL WHERE avatar_file_id = ANY(p_ids);
	UPDATE public.files SET deleted_at = coalesce(deleted_at, now()) WHERE id = ANY(p_ids);
$$;

-- Whether p_user may read file p_id (0 = nobody signed in): its uploader, a
-- member of the chat of the message that holds it, anybody signed in for
-- an avatar (avatars show wherever their user does), and anybody at all
-- with a valid signed URL (p_signed, checked by the program).
CREATE OR REPLACE FUNCTION file_for_download(p_id bigint, p_user bigint, p_signed boolean)
RETURNS TABLE (storage_key text, mime text, name text)
LANGUAGE sql STABLE AS $$
	SELECT f.storage_key, f.mime, f.name
	FROM public.files f
	WHERE f.id = p_id AND f.deleted_at IS NULL
	  AND (p_signed
	       OR (p_user > 0 AND (f.uploader_id = p_user OR f.kind = 'avatar'))
	       OR (p_user > 0 AND f.message_id IS NOT NULL AND EXISTS (
			SELECT 1 FROM public.messages m
			JOIN public.chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = p_user
			WHERE m.id = f.message_id)))
$$;

-- Attaches uploads to a message: each must be an upload of p_user that is
-- not attached (nor deleted) yet, at most p_max of them; otherwise 422 with
-- errors.attachment_ids (api_field_error of api.sql). Called by
-- message_send() in the transaction that creates the message, before the
-- message's JSON is built; the row locks of the UPDATE make two sends of one
-- upload attach it once.
CREATE OR REPLACE FUNCTION attach_files(p_msg_id bigint, p_user bigint, p_ids bigint[], p_max int DEFAULT 10)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
		RETURN;
	END IF;
	IF cardinality(p_ids) > p_max THEN
		PERFORM public.api_field_error('attachment_ids',
			format('a message may carry at most %s attachments', p_max));
	END IF;
	WITH a AS (
		UPDATE public.files f SET message_id = p_msg_id, attach_order = t.ord
		FROM (SELECT DISTINCT ON (u.id) u.id, u.ord
		      FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord) ORDER BY u.id, u.ord) t
		WHERE f.id = t.id AND f.uploader_id = p_user AND f.kind = 'upload'
		  AND f.message_id IS NULL AND f.deleted_at IS NULL
		RETURNING 1)
	SELECT count(*) INTO n FROM a;
	IF n <> (SELECT count(DISTINCT u) FROM unnest(p_ids) u) THEN
		PERFORM public.api_field_error('attachment_ids',
			'each attachment must be an upload of yours that is not attached to a message yet');
	END IF;
END
$$;

-- A deleted message's files go: marked here, in the deleting transaction,
-- and unlinked by the program after the commit (storage_purge) or by the
-- next sweep.
CREATE OR REPLACE FUNCTION files_on_message_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE public.files SET deleted_at = now() WHERE message_id = NEW.id AND deleted_at IS NULL;
	RETURN NULL;
END
$$;

-- PUT /api/users/me/avatar, once the new picture is stored (its row added
-- by files_add(..., 'avatar', ...) and its bytes published: fcgi/files/
-- avatar.c): the user pointing at it and the old one marked deleted.
-- Returns the user (with email) and the old file's id.
CREATE OR REPLACE FUNCTION avatar_use(p_user bigint, p_file bigint)
RETURNS TABLE (usr jsonb, old_file_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	old_id bigint;
	u public.users;
BEGIN
	SELECT avatar_file_id INTO old_id FROM public.users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'user_not_found', 'the account of this token no longer exists');
	END IF;
	UPDATE public.users SET avatar_file_id = p_file WHERE id = p_user RETURNING * INTO u;
	UPDATE public.files SET deleted_at = now() WHERE id = old_id;
	RETURN QUERY SELECT public.user_json(u, true), old_id;
END
$$;

-- DELETE /api/users/me/avatar: the user without a picture; the old one, if
-- any, marked deleted. Returns the user and the old file's id.
CREATE OR REPLACE FUNCTION clear_avatar(p_user bigint)
RETURNS TABLE (usr jsonb, old_file_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	old_id bigint;
	u public.users;
BEGIN
	SELECT avatar_file_id INTO old_id FROM public.users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'user_not_found', 'the account of this token no longer exists');
	END IF;
	UPDATE public.users SET avatar_file_id = NULL WHERE id = p_user RETURNING * INTO u;
	UPDATE public.files SET deleted_at = now() WHERE id = old_id;
	RETURN QUERY SELECT public.user_json(u, true), old_id;
END
$$;
