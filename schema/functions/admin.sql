-- Administration (API.md "Administration", migrations/022_admin.sql): the
-- statements of the admin API (fcgi/auth/admin.c) and of the command line
-- (msgrctl/), which share every function here.
--
-- Who may: an API statement passes its caller through
-- admin_require(live_session_user(...)), which answers 403 admin_only for
-- anybody else, before anything is looked at (so a plain user learns
-- nothing, not even whether an id exists). msgrctl passes p_admin NULL:
-- whoever holds the database's credentials on the server is the
-- sysadmin. Every change is written to admin_audit in its own transaction,
-- named by p_actor (msgrctl: "msgrctl:" and the OS user) or, when that is
-- NULL, by the admin's username. Reads are not recorded.

-- p_user when it is an active administrator; 403 admin_only otherwise.
CREATE OR REPLACE FUNCTION admin_require(p_user bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM public.users
					 WHERE id = p_user AND role = 'admin' AND status = 'active') THEN
		PERFORM public.api_error(403, 'admin_only', 'only administrators may do this');
	END IF;
	RETURN p_user;
END
$$;

CREATE OR REPLACE FUNCTION admin_audit_add(p_admin bigint, p_actor text, p_action text, p_target jsonb)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO public.admin_audit (admin_id, actor, action, target)
	VALUES (p_admin, coalesce(p_actor, (SELECT username FROM public.users WHERE id = p_admin), '?'),
		p_action, p_target)
$$;

-- The admin's User: the user's own view (email, role) and what only an
-- administrator sees. messages_count: the user's messages not deleted
-- (service messages are the server's); storage_bytes: what their quota
-- counts (user_storage_bytes()).
CREATE OR REPLACE FUNCTION admin_user_json(u users) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT public.user_json(u, true) || jsonb_build_object(
		'status', u.status,
		'created_at', public.api_ts(u.created_at),
		'last_seen_at', public.api_ts(u.last_seen_at),
		'messages_count', (SELECT count(*) FROM public.messages m
				   WHERE m.sender_id = u.id AND m.kind <> 'service' AND m.deleted_at IS NULL),
		'storage_bytes', public.user_storage_bytes(u.id))
$$;

-- GET /api/admin/users?q=&status=&limit=&before=: newest first, keyset by
-- id; q is a substring of the username, display name or e-mail (LIKE's
-- metacharacters taken literally).
CREATE OR REPLACE FUNCTION admin_users_list(p_q text, p_status text, p_limit int, p_before bigint)
RETURNS api_reply LANGUAGE sql STABLE AS $$
	WITH q AS (SELECT '%' || replace(replace(replace(lower(p_q), '\', '\\'), '%', '\%'), '_', '\_')
			  || '%' AS pat),
	page AS (
		SELECT u AS usr, u.id
		FROM public.users u, q
		WHERE (p_before IS NULL OR u.id < p_before)
		  AND (p_status IS NULL OR u.status = p_status)
		  AND (p_q IS NULL OR u.username LIKE q.pat OR lower(u.display_name) LIKE q.pat
		       OR lower(u.email) LIKE q.pat)
		ORDER BY u.id DESC LIMIT p_limit + 1),
	numbered AS (SELECT usr, id, row_number() OVER (ORDER BY id DESC) AS n FROM page)
	SELECT (200, jsonb_build_object(
		'users', coalesce(jsonb_agg(public.admin_user_json(usr) ORDER BY id DESC)
				  FILTER (WHERE n <= p_limit), '[]'::jsonb),
		'has_more', count(*) > p_limit), NULL)::public.api_reply
	FROM numbered
$$;

-- PATCH /api/admin/users/{id} {status?, role?} and msgrctl's admin and
-- user commands (p_target NULL: no such user, 404). A ban ends every
-- session of the user at once (their sockets close with 4401) and keeps
-- them from signing in (user_login_check()). An administrator cannot ban
-- or demote themselves (422 naming the field): the last one could lock
-- everybody out. Only a change is recorded; the same value again is a
-- no-op answered with the user. A role changed is told to the user alone,
-- as user.updated with their own view (e-mail and role, as GET
-- /api/users/me): their open apps show or drop the administration page
-- at once. Others see no role, so they are not told.
CREATE OR REPLACE FUNCTION admin_user_update(p_admin bigint, p_actor text, p_target bigint,
					     p_status text, p_role text) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
	ev bigint;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_target FOR UPDATE;
	-- A deleted account stays deleted: no status or role brings it back.
	IF NOT FOUND OR u.status = 'deleted' THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	IF u.id = p_admin AND p_status IS DISTINCT FROM NULL AND p_status <> u.status THEN
		PERFORM public.api_field_error('status', 'you cannot ban yourself');
	END IF;
	IF u.id = p_admin AND p_role IS DISTINCT FROM NULL AND p_role <> u.role THEN
		PERFORM public.api_field_error('role', 'you cannot take your own administrator role');
	END IF;
	IF p_status IS NOT NULL AND p_status <> u.status THEN
		UPDATE public.users SET status = p_status WHERE id = u.id RETURNING * INTO u;
		PERFORM public.admin_audit_add(p_admin, p_actor,
			CASE p_status WHEN 'banned' THEN 'user.ban' ELSE 'user.unban' END,
			jsonb_build_object('user_id', u.id, 'username', u.username));
		IF p_status = 'banned' THEN
			PERFORM public.user_sessions_end_all(u.id);
		END IF;
	END IF;
	IF p_role IS NOT NULL AND p_role <> u.role THEN
		UPDATE public.users SET role = p_role WHERE id = u.id RETURNING * INTO u;
		PERFORM public.admin_audit_add(p_admin, p_actor,
			CASE p_role WHEN 'admin' THEN 'admin.grant' ELSE 'admin.revoke' END,
			jsonb_build_object('user_id', u.id, 'username', u.username));
		INSERT INTO public.events (chat_id, kind, payload, audience)
		VALUES (NULL, 'user.updated', jsonb_build_object('user', public.user_json(u, true)),
			ARRAY[u.id])
		RETURNING id INTO ev;
	END IF;
	RETURN (200, public.admin_user_json(u), ev)::public.api_reply;
END
$$;

-- DELETE /api/admin/users/{id}/messages?since=: soft-deletes the user's
-- messages created at or after p_since (all when NULL; text of the form
-- of an RFC 3339 time, which the program checked) with their files, each
-- as DELETE /api/messages/{id} does (message_soft_delete(): the same
-- message.deleted events, so that clients update live). Returns
-- {"deleted": N} and the last event.
--
-- At most 500 a call, each call its own transaction, with its own entry
-- in the audit log: the program calls again until a call deletes none
-- (fcgi/auth/admin.c). A spammer's tens of thousands of messages do not
-- fit in one statement's time (the application role's statement_timeout:
-- 20,000 took 29 s), and a call that fails leaves those before it
-- deleted and recorded, so that the request again takes up the rest.
CREATE OR REPLACE FUNCTION admin_user_messages_delete(p_admin bigint, p_actor text, p_target bigint,
						      p_since text) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
	since timestamptz;
	m public.messages;
	n int := 0;
	ev bigint;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_target;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	-- The calendar is checked here (a 30 February), as chat_settings()
	-- does.
	BEGIN
		since := p_since::timestamptz;
	EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
		PERFORM public.api_field_error('since', 'must be an RFC 3339 timestamp');
	END;
	-- In id order, the order every path locks messages and chats in.
	FOR m IN SELECT * FROM public.messages
		 WHERE sender_id = u.id AND kind <> 'service' AND deleted_at IS NULL
		   AND (since IS NULL OR created_at >= since)
		 ORDER BY id LIMIT 500 FOR NO KEY UPDATE
	LOOP
		ev := public.message_soft_delete(m);
		n := n + 1;
	END LOOP;
	IF n > 0 THEN
		PERFORM public.admin_audit_add(p_admin, p_actor, 'user.messages_delete',
			jsonb_build_object('user_id', u.id, 'username', u.username,
					   'since', public.api_ts(since), 'deleted', n));
	END IF;
	RETURN (200, jsonb_build_object('deleted', n), ev)::public.api_reply;
END
$$;

CREATE OR REPLACE FUNCTION admin_report_json(r message_reports) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', r.id,
		'message', (SELECT public.message_json(m) FROM public.messages m WHERE m.id = r.message_id),
		'reporter_id', r.reporter_id,
		'reason', r.reason,
		'created_at', public.api_ts(r.created_at),
		'status', r.status)
$$;

-- GET /api/admin/reports?status=: a queue, oldest first, at most 100 (the
-- next ones show as these are resolved or dismissed); every status when
-- p_status is NULL.
CREATE OR REPLACE FUNCTION admin_reports_list(p_status text) RETURNS api_reply
LANGUAGE sql STABLE AS $$
	SELECT (200, jsonb_build_object('reports', coalesce(jsonb_agg(public.admin_report_json(r)
			ORDER BY r.id), '[]'::jsonb)), NULL)::public.api_reply
	FROM (SELECT * FROM public.message_reports
	      WHERE p_status IS NULL OR status = p_status ORDER BY id LIMIT 100) r
$$;

-- PATCH /api/admin/reports/{id} {status}.
CREATE OR REPLACE FUNCTION admin_report_update(p_admin bigint, p_actor text, p_id bigint, p_status text)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	r public.message_reports;
	old text;
BEGIN
	SELECT status INTO old FROM public.message_reports WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'report_not_found', 'no such report');
	END IF;
	UPDATE public.message_reports SET status = p_status WHERE id = p_id RETURNING * INTO r;
	IF old <> p_status THEN
		PERFORM public.admin_audit_add(p_admin, p_actor, 'report.' || p_status,
			jsonb_build_object('report_id', r.id, 'message_id', r.message_id));
	END IF;
	RETURN (200, public.admin_report_json(r), NULL)::public.api_reply;
END
$$;

-- GET /api/admin/stats and `msgrctl stats`. users_active_24h: seen online,
-- signed in or refreshed a session in the last 24 hours, or online now;
-- messages_24h: users' messages (not service messages) sent then;
-- websockets: what wsd's presence rows record. Today a row is a user
-- connected to one wsd process, however many sockets they have open
-- there (user_presence.connections stays 1): a lower bound, exact when
-- wsd counts a row's sockets in connections.
CREATE OR REPLACE FUNCTION admin_stats() RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'users', (SELECT count(*) FROM public.users),
		'users_active_24h', (SELECT count(*) FROM public.users u
			WHERE u.last_seen_at > now() - interval '24 hours'
			   OR EXISTS (SELECT 1 FROM public.user_presence p WHERE p.user_id = u.id)
			   OR EXISTS (SELECT 1 FROM public.auth_sessions s
				      WHERE s.user_id = u.id AND s.last_used_at > now() - interval '24 hours')),
		'messages_24h', (SELECT count(*) FROM public.messages
				 WHERE kind <> 'service' AND created_at > now() - interval '24 hours'),
		-- a forwarded copy shares its original's stored bytes: counted once
		'storage_bytes', (SELECT coalesce(sum(k.size), 0) FROM
				  (SELECT DISTINCT ON (storage_key) size FROM public.files
				   WHERE deleted_at IS NULL ORDER BY storage_key) k),
		'websockets', (SELECT coalesce(sum(connections), 0) FROM public.user_presence))
$$;

-- GET /api/admin/audit?limit=&before=: newest first, keyset by id.
CREATE OR REPLACE FUNCTION admin_audit_list(p_limit int, p_before bigint) RETURNS api_reply
LANGUAGE sql STABLE AS $$
	WITH page AS (
		SELECT a.*, row_number() OVER (ORDER BY a.id DESC) AS n FROM (
			SELECT * FROM public.admin_audit
			WHERE p_before IS NULL OR id < p_before
			ORDER BY id DESC LIMIT p_limit + 1) a)
	SELECT (200, jsonb_build_object(
		'entries', coalesce(jsonb_agg(jsonb_build_object(
				'id', id,
				'admin_id', admin_id,
				'actor', actor,
				'action', action,
				'target', target,
				'created_at', public.api_ts(created_at)) ORDER BY id DESC)
			FILTER (WHERE n <= p_limit), '[]'::jsonb),
		'has_more', count(*) > p_limit), NULL)::public.api_reply
	FROM page
$$;

-- msgrctl user reset-password: a reset token for the user (p_token_hash:
-- its SHA-256, as POST /api/auth/password-reset stores it; the link is
-- msgrctl's to print), used by POST /api/auth/password-reset/confirm like
-- one sent by mail (and counted with those in the 3 an hour of the address).
CREATE OR REPLACE FUNCTION admin_password_reset(p_admin bigint, p_actor text, p_target bigint,
						p_token_hash text) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_target;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	INSERT INTO public.password_resets (email, user_id, token_hash)
	VALUES (u.email, u.id, p_token_hash);
	PERFORM public.admin_audit_add(p_admin, p_actor, 'user.password_reset',
		jsonb_build_object('user_id', u.id, 'username', u.username));
	RETURN (200, jsonb_build_object('user_id', u.id), NULL)::public.api_reply;
END
$$;
