-- Accounts, login sessions and login throttling (fcgi/auth), and the User
-- object.

-- The User object from a row and whether the user is online.
CREATE OR REPLACE FUNCTION user_object(u users, p_online boolean, with_email boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', u.id,
		'username', u.username,
		'display_name', u.display_name,
		'about', u.about,
		'avatar_url', public.avatar_url(u.avatar_file_id),
		'created_at', public.api_ts(u.created_at),
		'online', p_online,
		'last_seen_at', public.api_ts(u.last_seen_at))
	|| CASE WHEN with_email THEN jsonb_build_object('email', u.email) ELSE '{}'::jsonb END
$$;

CREATE OR REPLACE FUNCTION user_json(u users, with_email boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN public.user_object(u, EXISTS (SELECT 1 FROM public.user_presence p WHERE p.user_id = u.id),
			   with_email);
END
$$;

CREATE OR REPLACE FUNCTION user_name(p_user bigint) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT display_name FROM public.users WHERE id = p_user $$;

-- Seconds the caller must wait before another login attempt, or 0.
CREATE OR REPLACE FUNCTION login_throttle(login text, addr text, max_user int, max_addr int,
			       window_secs int) RETURNS int
LANGUAGE sql STABLE AS $$
	SELECT coalesce(max(ceil(extract(epoch FROM
			f.window_start + make_interval(secs => window_secs) - now())))::int, 0)
	FROM public.login_failures f
	WHERE ((f.scope = 'user' AND f.key = lower(login) AND f.failures >= max_user)
	    OR (f.scope = 'addr' AND f.key = addr AND f.failures >= max_addr))
	  AND f.window_start + make_interval(secs => window_secs) > now()
$$;

CREATE OR REPLACE FUNCTION login_failed(login text, addr text, window_secs int) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO public.login_failures AS f (scope, key, window_start, failures)
	VALUES ('user', lower(login), now(), 1), ('addr', addr, now(), 1)
	ON CONFLICT (scope, key) DO UPDATE SET
		window_start = CASE WHEN f.window_start + make_interval(secs => window_secs) <= now()
			THEN now() ELSE f.window_start END,
		failures = CASE WHEN f.window_start + make_interval(secs => window_secs) <= now()
			THEN 1 ELSE f.failures + 1 END
$$;

-- Creates a login session with its first refresh token; returns the token
-- pair's data for the C side: user id.
CREATE OR REPLACE FUNCTION session_open(p_user_id bigint, p_token_hash text, p_ttl_secs int)
RETURNS void LANGUAGE sql AS $$
	WITH s AS (INSERT INTO public.auth_sessions (user_id) VALUES (p_user_id) RETURNING id)
	INSERT INTO public.refresh_tokens (token_hash, session_id, expires_at)
	SELECT p_token_hash, s.id, now() + make_interval(secs => p_ttl_secs) FROM s
$$;

-- Rotates a refresh token: the old one stops working and the new one joins
-- its session. Presenting a token that was already rotated revokes the whole
-- session. Concurrent rotations of one token serialise on its row lock, so
-- exactly one succeeds. Returns the user id, or NULL when refused.
CREATE OR REPLACE FUNCTION session_rotate(p_old_hash text, p_new_hash text, p_ttl_secs int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	t public.refresh_tokens;
	uid bigint;
BEGIN
	UPDATE public.refresh_tokens SET rotated_at = now()
	WHERE token_hash = p_old_hash AND rotated_at IS NULL
	RETURNING * INTO t;
	IF NOT FOUND THEN
		UPDATE public.auth_sessions SET revoked_at = now()
		WHERE id = (SELECT session_id FROM public.refresh_tokens WHERE token_hash = p_old_hash)
		  AND revoked_at IS NULL;
		RETURN NULL;
	END IF;
	SELECT s.user_id INTO uid FROM public.auth_sessions s
	WHERE s.id = t.session_id AND s.revoked_at IS NULL;
	IF uid IS NULL OR t.expires_at <= now() THEN
		RETURN NULL;
	END IF;
	INSERT INTO public.refresh_tokens (token_hash, session_id, expires_at)
	VALUES (p_new_hash, t.session_id, now() + make_interval(secs => p_ttl_secs));
	RETURN uid;
END
$$;

-- Revokes the session a refresh token belongs to (logout). Returns whether
-- the token was known.
CREATE OR REPLACE FUNCTION session_close(p_hash text) RETURNS boolean
LANGUAGE sql AS $$
	WITH s AS (
		UPDATE public.auth_sessions SET revoked_at = coalesce(revoked_at, now())
		WHERE id = (SELECT session_id FROM public.refresh_tokens WHERE token_hash = p_hash)
		RETURNING id)
	SELECT EXISTS (SELECT 1 FROM s)
$$;

-- Registration in one round trip: the user, the first login session and the
-- welcome message (welcome_user() comes with the chats schema).
CREATE OR REPLACE FUNCTION register_user(p_username text, p_email text, p_hash text, p_display_name text,
			      p_token_hash text, p_ttl_secs int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
BEGIN
	IF EXISTS (SELECT 1 FROM public.users WHERE username = p_username) THEN
		PERFORM public.api_error(409, 'username_taken', 'this username is already taken');
	END IF;
	IF EXISTS (SELECT 1 FROM public.users WHERE lower(email) = lower(p_email)) THEN
		PERFORM public.api_error(409, 'email_taken', 'an account with this email already exists');
	END IF;
	BEGIN
		INSERT INTO public.users (username, email, password_hash, display_name)
		VALUES (p_username, p_email, p_hash, p_display_name) RETURNING * INTO u;
	EXCEPTION WHEN unique_violation THEN
		-- A concurrent registration took the name between the checks and here.
		IF EXISTS (SELECT 1 FROM public.users WHERE username = p_username) THEN
			PERFORM public.api_error(409, 'username_taken', 'this username is already taken');
		END IF;
		PERFORM public.api_error(409, 'email_taken', 'an account with this email already exists');
	END;
	PERFORM public.session_open(u.id, p_token_hash, p_ttl_secs);
	PERFORM public.welcome_user(u.id);
	RETURN public.user_json(u, true);
END
$$;

-- After a change of what others see of a user (migrations/014): the event
-- user.updated {user}, of no chat, for the user and everyone who shares a
-- chat with them now. The program that made the change does not know of
-- it, so the wake-up for wsd is sent from here, at the commit.
CREATE OR REPLACE FUNCTION users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	ev bigint;
BEGIN
	INSERT INTO public.events (chat_id, kind, payload, audience)
	VALUES (NULL, 'user.updated', jsonb_build_object('user', public.user_json(NEW)),
		ARRAY(SELECT NEW.id UNION
		      SELECT o.user_id FROM public.chat_members me
		      JOIN public.chat_members o ON o.chat_id = me.chat_id
		      WHERE me.user_id = NEW.id ORDER BY 1))
	RETURNING id INTO ev;
	PERFORM pg_notify('msgr_events', ev::text);
	RETURN NULL;
END
$$;

-- ---- blocks (migrations/015) ---------------------------------------------------

-- Whether p_blocker blocked p_user.
CREATE OR REPLACE FUNCTION is_blocked(p_blocker bigint, p_user bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM public.user_blocks
		       WHERE blocked_id = p_user AND blocker_id = p_blocker);
END
$$;

-- 403 blocked when p_user may not send into p_chat_id: a direct chat whose
-- other member blocked them.
CREATE OR REPLACE FUNCTION send_blocked_check(p_user bigint, p_chat_id bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM public.user_blocks b
		   JOIN public.chat_members cm ON cm.user_id = b.blocker_id AND cm.chat_id = p_chat_id
		   JOIN public.chats c ON c.id = p_chat_id AND c.type = 'direct'
		   WHERE b.blocked_id = p_user) THEN
		PERFORM public.api_error(403, 'blocked', 'this user has blocked you');
	END IF;
END
$$;

-- PUT (p_on) or DELETE /api/users/{id}/block: idempotent.
CREATE OR REPLACE FUNCTION user_block(p_user bigint, p_target bigint, p_on boolean) RETURNS api_reply
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM public.users WHERE id = p_target) THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	IF p_target = p_user THEN
		PERFORM public.api_field_error('user_id', 'must be another user than yourself');
	END IF;
	IF p_on THEN
		INSERT INTO public.user_blocks (blocked_id, blocker_id) VALUES (p_target, p_user)
		ON CONFLICT DO NOTHING;
	ELSE
		DELETE FROM public.user_blocks WHERE blocked_id = p_target AND blocker_id = p_user;
	END IF;
	RETURN (204, NULL, NULL)::public.api_reply;
END
$$;

-- GET /api/users/me/blocks: the users the caller blocked, the latest first.
CREATE OR REPLACE FUNCTION user_blocks_list(p_user bigint) RETURNS api_reply
LANGUAGE sql STABLE AS $$
	SELECT (200, jsonb_build_object('users', coalesce(jsonb_agg(public.user_json(u)
			ORDER BY b.created_at DESC, u.id DESC), '[]'::jsonb)), NULL)::public.api_reply
	FROM public.user_blocks b JOIN public.users u ON u.id = b.blocked_id
	WHERE b.blocker_id = p_user
$$;
