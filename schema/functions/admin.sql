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
-- (service messages are the server's); storage_bytes: every stored file
-- of theirs not deleted, attached or not, avatars too.
CREATE OR REPLACE FUNCTION admin_user_json(u users) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT public.user_json(u, true) || jsonb_build_object(
		'status', u.status,
		'created_at', public.api_ts(u.created_at),
		'last_seen_at', public.api_ts(u.last_seen_at),
		'messages_count', (SELECT count(*) FROM public.messages m
				   WHERE m.sender_id = u.id AND m.kind <> 'service' AND m.deleted_at IS NULL),
		'storage_bytes', (SELECT coalesce(sum(f.size), 0) FROM public.files f
				  WHERE f.uploader_id = u.id AND f.deleted_at IS NULL))
$$;

-- PATCH /api/admin/users/{id} {status?, role?} and msgrctl's admin and
-- user commands (p_target NULL: no such user, 404). A ban ends every
-- session of the user at once (their sockets close with 4401) and keeps
-- them from signing in (user_login_check()). An administrator cannot ban
-- or demote themselves (422 naming the field): the last one could lock
-- everybody out. Only a change is recorded; the same value again is a
-- no-op answered with the user.
CREATE OR REPLACE FUNCTION admin_user_update(p_admin bigint, p_actor text, p_target bigint,
					     p_status text, p_role text) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_target FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	IF u.id = p_admin AND p_status IS DISTINCT FROM NULL AND p_status <> u.status THEN
		PERFORM public.api_field_error('status', 'you cannot ban yourself');
	END IF;
	IF u.id = p_admin AND p_role IS DISTINCT FROM NULL AND p_role <> u.role THEN
		PERFORM public.api_field_error('role', 'you cannot take your own administrator role');
	END IF;
	IF p_status IS NOT NULL AND p_status <> u.status THEN
		UPDATE public.users SET status = p_status WHERE id = u.id;
		PERFORM public.admin_audit_add(p_admin, p_actor,
			CASE p_status WHEN 'banned' THEN 'user.ban' ELSE 'user.unban' END,
			jsonb_build_object('user_id', u.id, 'username', u.username));
		IF p_status = 'banned' THEN
			PERFORM public.user_sessions_end_all(u.id);
		END IF;
	END IF;
	IF p_role IS NOT NULL AND p_role <> u.role THEN
		UPDATE public.users SET role = p_role WHERE id = u.id;
		PERFORM public.admin_audit_add(p_admin, p_actor,
			CASE p_role WHEN 'admin' THEN 'admin.grant' ELSE 'admin.revoke' END,
			jsonb_build_object('user_id', u.id, 'username', u.username));
	END IF;
	SELECT * INTO u FROM public.users WHERE id = u.id;
	RETURN (200, public.admin_user_json(u), NULL)::public.api_reply;
END
$$;
