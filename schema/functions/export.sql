-- The export of a user's data (migrations/027_export.sql): the requests of
-- POST/GET/DELETE /api/users/me/export (fcgi/files/export.c), and what the
-- builder (the files program's periodic job, same file) reads the archive's
-- parts with, a page at a time, and records its runs with.

-- How long an archive is kept, and its download URL valid (API.md: 7 days).
CREATE OR REPLACE FUNCTION export_retention() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '7 days' $$;

-- How often a failed build is tried before the export is 'failed'.
CREATE OR REPLACE FUNCTION export_max_attempts() RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT 3 $$;

-- The export object of the API: the URL only when ready, signed until the
-- archive expires (a File url of its own expiry: files.sql).
CREATE OR REPLACE FUNCTION export_json(e exports) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'status', e.status,
		'requested_at', public.api_ts(e.requested_at),
		'ready_at', public.api_ts(e.ready_at),
		'expires_at', public.api_ts(e.expires_at),
		'size', e.size,
		'url', CASE WHEN e.status = 'ready'
			THEN public.file_url_until(e.file_id, extract(epoch FROM e.expires_at)::bigint) END)
$$;

-- POST /api/users/me/export: a new request, 202 {status, requested_at};
-- 409 export_running while one is pending or running. The unique index
-- exports_one_running makes two requests at once one row and one 409.
-- The previous archive, if any, stays until this one is ready.
CREATE OR REPLACE FUNCTION export_request(p_user bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	e public.exports;
BEGIN
	IF p_user IS NULL THEN
		PERFORM public.api_error(401, 'unauthorized', 'sign in again');
	END IF;
	INSERT INTO public.exports (user_id) VALUES (p_user)
	ON CONFLICT (user_id) WHERE status IN ('pending', 'running') DO NOTHING
	RETURNING * INTO e;
	IF e.id IS NULL THEN
		PERFORM public.api_error(409, 'export_running',
			'an export of your data is being made; wait until it is ready');
	END IF;
	RETURN (202, jsonb_build_object('status', e.status,
					'requested_at', public.api_ts(e.requested_at)), NULL)::public.api_reply;
END
$$;

-- GET /api/users/me/export: the newest export, or 404 export_not_found.
CREATE OR REPLACE FUNCTION export_get(p_user bigint) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
	e public.exports;
BEGIN
	SELECT * INTO e FROM public.exports WHERE user_id = p_user ORDER BY id DESC LIMIT 1;
	IF e.id IS NULL THEN
		PERFORM public.api_error(404, 'export_not_found', 'you have no export');
	END IF;
	RETURN (200, public.export_json(e), NULL)::public.api_reply;
END
$$;

-- DELETE /api/users/me/export: discards every finished export of the
-- caller (their archives marked deleted, for the caller to purge after
-- the commit: the returned file ids). 409 while one is being made (its
-- builder would write an archive nobody asked for any more: let it end),
-- 404 when there is none.
CREATE OR REPLACE FUNCTION export_discard(p_user bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
BEGIN
	IF EXISTS (SELECT 1 FROM public.exports WHERE user_id = p_user
		   AND status IN ('pending', 'running')) THEN
		PERFORM public.api_error(409, 'export_running',
			'an export of your data is being made; wait until it is ready');
	END IF;
	WITH d AS (DELETE FROM public.exports WHERE user_id = p_user RETURNING file_id)
	SELECT array_agg(file_id) INTO ids FROM d;
	IF ids IS NULL THEN
		PERFORM public.api_error(404, 'export_not_found', 'you have no export');
	END IF;
	ids := array_remove(ids, NULL);
	PERFORM public.files_drop(ids);
	RETURN ids;
END
$$;

-- ---- the builder -------------------------------------------------------------
-- Called by a holder of the files program's periodic lock only: at most one
-- builder runs, on any host, so a row 'running' that it finds is a run that
-- died (SIGKILL, a crash, the host gone).

-- Puts the runs that died back to 'pending' (or 'failed' after
-- export_max_attempts()), marking an archive they stored but never
-- published deleted: no half-written archive is ever named by a ready row.
-- Returns how many.
CREATE OR REPLACE FUNCTION export_recover() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	PERFORM public.files_drop(ARRAY(SELECT file_id FROM public.exports
					WHERE status = 'running' AND file_id IS NOT NULL));
	UPDATE public.exports
	SET status = CASE WHEN attempts >= public.export_max_attempts() THEN 'failed' ELSE 'pending' END,
	    file_id = NULL, size = NULL,
	    last_error = coalesce(last_error, 'the builder stopped before the end')
	WHERE status = 'running';
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- The oldest pending export, now 'running' (committed by the caller's
-- statement, so GET shows it); none when there is none.
CREATE OR REPLACE FUNCTION export_claim() RETURNS TABLE (id bigint, user_id bigint)
LANGUAGE sql AS $$
	UPDATE public.exports e
	SET status = 'running', started_at = now(), attempts = e.attempts + 1
	WHERE e.id = (SELECT p.id FROM public.exports p WHERE p.status = 'pending'
		      ORDER BY p.id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING e.id, e.user_id
$$;

-- A build that failed: tried again at the next run, up to
-- export_max_attempts() runs, then 'failed'. An archive it stored but
-- could not publish is marked deleted (the sweep purges it).
CREATE OR REPLACE FUNCTION export_failed(p_id bigint, p_error text) RETURNS void
LANGUAGE sql AS $$
	SELECT public.files_drop(ARRAY(SELECT file_id FROM public.exports
				       WHERE id = p_id AND status = 'running' AND file_id IS NOT NULL));
	UPDATE public.exports
	SET status = CASE WHEN attempts >= public.export_max_attempts() THEN 'failed' ELSE 'pending' END,
	    last_error = left(p_error, 500), file_id = NULL, size = NULL
	WHERE id = p_id AND status = 'running'
$$;

-- The archive of export p_id is written (not yet published): its files
-- row, of kind 'export' and uploaded by the user. Returns the file id, or
-- NULL when the export went meanwhile (discarded, the account deleted):
-- the caller then removes the bytes.
CREATE OR REPLACE FUNCTION export_stored(p_id bigint, p_key text, p_size bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	e public.exports;
	fid bigint;
BEGIN
	SELECT * INTO e FROM public.exports WHERE id = p_id AND status = 'running' FOR UPDATE;
	IF e.id IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO public.files (uploader_id, kind, name, size, mime, storage_key)
	VALUES (e.user_id, 'export', 'messenger-export-' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')
		|| '.zip', p_size, 'application/zip', p_key)
	RETURNING id INTO fid;
	UPDATE public.exports SET file_id = fid, size = p_size WHERE id = p_id;
	RETURN fid;
END
$$;

-- The mail that says an export is ready (subject, plain text, HTML), for
-- p_user, whose archive downloads from p_link until p_expires, in the
-- user's language; its words are in i18n.sql's catalogue.
CREATE OR REPLACE FUNCTION mail_export_ready(p_user bigint, p_link text, p_expires timestamptz,
					     OUT subject text, OUT body_text text, OUT body_html text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	u public.users;
	lang text := public.mail_language(p_user);
	p jsonb;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_user;
	-- the date stays in UTC ISO form in every language: the reader's time
	-- zone is not known to the server
	p := jsonb_build_object('name', u.display_name,
		'date', to_char(p_expires AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'));
	subject := public.mail_text(lang, 'export.subject');
	body_text := public.mail_text(lang, 'hello', p) || E'\n\n'
		|| public.mail_text(lang, 'export.ready', p) || E'\n\n' || p_link || E'\n\n'
		|| public.mail_text(lang, 'export.contents') || E'\n'
		|| public.mail_text(lang, 'export.private') || E'\n';
	body_html := '<p>' || public.mail_html(lang, 'hello', p) || '</p>'
		|| '<p>' || public.mail_html(lang, 'export.ready', p) || '</p>'
		|| '<p><a href="' || public.html_escape(p_link) || '">' || public.html_escape(p_link) || '</a></p>'
		|| '<p>' || public.mail_html(lang, 'export.contents') || '</p>'
		|| '<p>' || public.mail_html(lang, 'export.private') || '</p>';
END
$$;

-- The archive of export p_id is published: the export is ready (the
-- user's earlier ones go, their archives marked deleted for the caller to
-- purge), the user's sockets get export.ready {export}, and a user with an
-- e-mail address gets the mail, its link p_public_url + the signed URL.
-- Returns the event's id (NULL when the export went meanwhile).
CREATE OR REPLACE FUNCTION export_ready(p_id bigint, p_public_url text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	e public.exports;
	u public.users;
	ev bigint;
	mail record;
BEGIN
	UPDATE public.exports
	SET status = 'ready', ready_at = now(), expires_at = now() + public.export_retention(),
	    last_error = NULL
	WHERE id = p_id AND status = 'running' AND file_id IS NOT NULL
	RETURNING * INTO e;
	IF e.id IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM public.files_drop(ARRAY(SELECT file_id FROM public.exports
					WHERE user_id = e.user_id AND id <> e.id AND file_id IS NOT NULL));
	DELETE FROM public.exports WHERE user_id = e.user_id AND id <> e.id
		AND status IN ('ready', 'failed');
	INSERT INTO public.events (chat_id, kind, payload, audience)
	VALUES (NULL, 'export.ready', jsonb_build_object('export', public.export_json(e)),
		ARRAY[e.user_id])
	RETURNING id INTO ev;
	SELECT * INTO u FROM public.users WHERE id = e.user_id;
	IF u.email IS NOT NULL AND u.status = 'active' THEN
		mail := public.mail_export_ready(u.id, p_public_url || (public.export_json(e)->>'url'),
						 e.expires_at);
		PERFORM public.mail_enqueue(u.email, mail.subject, mail.body_text, mail.body_html);
	END IF;
	RETURN ev;
END
$$;

-- Exports past their retention: their archives marked deleted (the sweep,
-- or the caller, purges them) and their rows deleted. Returns how many.
CREATE OR REPLACE FUNCTION export_expire() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	PERFORM public.files_drop(ARRAY(SELECT file_id FROM public.exports
					WHERE expires_at <= now() AND file_id IS NOT NULL));
	DELETE FROM public.exports WHERE expires_at <= now();
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- ---- the archive's parts, read a page at a time --------------------------------

-- profile.json: the caller's User as GET /api/users/me shows it, with
-- "settings" as GET /api/users/me/settings.
CREATE OR REPLACE FUNCTION export_profile(p_user bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT public.user_json(u, true)
		|| jsonb_build_object('settings', public.user_settings_json(public.user_settings_of(u.id)))
	FROM public.users u WHERE u.id = p_user
$$;

-- The chats whose messages the archive holds: those of the chat list
-- (chat_list(): a hidden one only once a message came after the clearing),
-- after p_after by id, p_limit of them.
CREATE OR REPLACE FUNCTION export_chat_ids(p_user bigint, p_after bigint, p_limit int)
RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
	SELECT c.id FROM public.chats c
	JOIN public.chat_members me ON me.chat_id = c.id AND me.user_id = p_user
	WHERE c.id > p_after AND public.chat_listed(c, me)
	ORDER BY c.id LIMIT p_limit
$$;

-- A file's name inside the archive.
CREATE OR REPLACE FUNCTION export_file_path(p_id bigint, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'files/' || p_id || '-' || p_name $$;

-- s percent-encoded for a URL path (RFC 3986: unreserved characters and
-- "/" as they are), as a link of index.html names a file of the archive.
CREATE OR REPLACE FUNCTION url_path_encode(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(string_agg(CASE WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90
					     OR b BETWEEN 97 AND 122 OR b IN (45, 46, 47, 95, 126)
					THEN chr(b) ELSE '%' || lpad(upper(to_hex(b)), 2, '0') END,
				   '' ORDER BY i), '')
	FROM (SELECT i, get_byte(x, i) AS b
	      FROM (SELECT convert_to(s, 'UTF8') AS x) v, generate_series(0, length(v.x) - 1) i) t
$$;

-- One page of a chat's history as GET /api/chats/{id}/messages?after=
-- answers it (chat_messages(): what the caller cleared is left out), oldest
-- first: each message's id, its JSON, and its HTML for index.html.
CREATE OR REPLACE FUNCTION export_messages(p_user bigint, p_chat_id bigint, p_after bigint,
					   p_limit int)
RETURNS TABLE (id bigint, json text, html text)
LANGUAGE sql STABLE AS $$
	SELECT (m->>'id')::bigint, m::text,
		'<div class="m' || CASE WHEN m->>'kind' = 'service' THEN ' s' ELSE '' END
		|| '" id="m' || (m->>'id') || '"><p class="h"><b>'
		|| public.html_escape(coalesce(u.display_name, '')) || '</b> <time>'
		|| public.html_escape(m->>'created_at') || '</time>'
		|| CASE WHEN m->>'edited_at' IS NOT NULL THEN ' (edited)' ELSE '' END || '</p>'
		|| CASE WHEN (m->>'deleted')::boolean THEN '<p class="d">(deleted)</p>'
			ELSE '<p class="t">' || replace(public.html_escape(m->>'text'), E'\n', '<br>') || '</p>' END
		|| coalesce((SELECT string_agg('<p class="f"><a href="'
				|| public.html_escape(public.url_path_encode(
					public.export_file_path((a->>'id')::bigint, a->>'name')))
				|| '">' || public.html_escape(a->>'name') || '</a> ('
				|| (a->>'size') || ' bytes)</p>', '' ORDER BY o)
			     FROM jsonb_array_elements(m->'attachments') WITH ORDINALITY AS x(a, o)), '')
		|| '</div>'
	FROM jsonb_array_elements(
		(public.chat_messages(p_user, p_chat_id, NULL, p_after, p_limit)).body->'messages')
		WITH ORDINALITY AS p(m, ord)
	LEFT JOIN public.users u ON u.id = (p.m->>'sender_id')::bigint
	ORDER BY p.ord
$$;

-- The files of the messages the archive holds (export_messages() lists
-- them as attachments), after p_after by id: where the bytes are and
-- where in the archive they go.
CREATE OR REPLACE FUNCTION export_files(p_user bigint, p_after bigint, p_limit int)
RETURNS TABLE (id bigint, storage_key text, size bigint, path text)
LANGUAGE sql STABLE AS $$
	SELECT f.id, f.storage_key, f.size, public.export_file_path(f.id, f.name)
	FROM public.files f
	JOIN public.messages m ON m.id = f.message_id AND m.deleted_at IS NULL
	JOIN public.chats c ON c.id = m.chat_id
	JOIN public.chat_members me ON me.chat_id = m.chat_id AND me.user_id = p_user
	WHERE f.id > p_after AND f.deleted_at IS NULL AND m.id > me.cleared_upto
	  AND public.chat_listed(c, me)
	ORDER BY f.id LIMIT p_limit
$$;

-- The start of index.html: the user, then the list of chats (each linking
-- to its messages below).
CREATE OR REPLACE FUNCTION export_html_head(p_user bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
		|| '<meta name="viewport" content="width=device-width, initial-scale=1">'
		|| '<title>Messenger export of ' || public.html_escape(u.display_name) || '</title>'
		|| '<style>body{font-family:sans-serif;max-width:50em;margin:auto;padding:1em}'
		|| '.m{border-bottom:1px solid #ddd;padding:.3em 0}.m p{margin:.2em 0}'
		|| '.s{color:#666;font-style:italic}.d{color:#999}time{color:#666;font-size:.85em}</style>'
		|| '</head><body><h1>' || public.html_escape(u.display_name) || ' (@'
		|| public.html_escape(u.username) || ')</h1><p>Exported '
		|| public.api_ts(now()) || '. The same data as JSON: profile.json, chats.json, messages/.</p>'
		|| '<h2>Chats</h2><ul>'
		|| coalesce((SELECT string_agg('<li><a href="#c' || c.id || '">'
			|| public.html_escape(public.export_chat_title(c.id, p_user)) || '</a></li>', '' ORDER BY c.id)
			FROM public.chats c
			JOIN public.chat_members me ON me.chat_id = c.id AND me.user_id = p_user
			WHERE public.chat_listed(c, me)), '')
		|| '</ul>'
	FROM public.users u WHERE u.id = p_user
$$;

-- A chat's name as its member sees it: a group's title, a direct chat's
-- other member.
CREATE OR REPLACE FUNCTION export_chat_title(p_chat_id bigint, p_user bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(c.title, (SELECT string_agg(u.display_name, ', ' ORDER BY u.id)
				  FROM public.chat_members o JOIN public.users u ON u.id = o.user_id
				  WHERE o.chat_id = c.id AND o.user_id <> p_user), '')
	FROM public.chats c WHERE c.id = p_chat_id
$$;

-- The heading of a chat's messages in index.html.
CREATE OR REPLACE FUNCTION export_html_chat(p_chat_id bigint, p_user bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT '<h2 id="c' || p_chat_id || '">' || public.html_escape(public.export_chat_title(p_chat_id, p_user))
		|| '</h2><p><a href="messages/' || p_chat_id || '.json">messages/' || p_chat_id || '.json</a></p>'
$$;
