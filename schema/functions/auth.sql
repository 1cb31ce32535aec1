-- Accounts, login sessions and login throttling (fcgi/auth), and the User
-- object.

-- The User object from a row and whether the user is online; with_email
-- is the user's own view (GET /api/users/me...), which adds the e-mail and
-- the role. A deleted account (account.sql) is never online: its last
-- socket may close after the event that announces the deletion.
CREATE OR REPLACE FUNCTION user_object(u users, p_online boolean, with_email boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', u.id,
		'username', u.username,
		'display_name', u.display_name,
		'about', u.about,
		'avatar_url', public.avatar_url(u.avatar_file_id),
		'created_at', public.api_ts(u.created_at),
		'online', p_online AND u.status <> 'deleted',
		'last_seen_at', public.api_ts(u.last_seen_at))
	|| CASE WHEN with_email THEN jsonb_build_object('email', u.email, 'role', u.role)
		ELSE '{}'::jsonb END
$$;

CREATE OR REPLACE FUNCTION user_json(u users, with_email boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN public.user_object(u, EXISTS (SELECT 1 FROM public.user_presence p WHERE p.user_id = u.id),
			   with_email);
END
$$;

-- GET /api/users?q=: users other than p_me whose username starts with p_q
-- (first) or whose display name contains it, case-insensitively, each part
-- in username order, at most p_limit. The order is the bytes' (usernames
-- are [a-z0-9_.]; the stack's C.UTF-8 database sorts so too).
--
-- Written so that its plan, kept for the connection's life (generic: p_q
-- unknown), still uses the indexes (docs/BENCHMARKS.md, "User search"):
-- - the prefix part walks users_username_prefix (text_pattern_ops) from
--   lo up to lo followed by the highest code point, in that index's order
--   (USING ~<~), and stops after p_limit users: "username LIKE p || '%'"
--   is indexable only for a constant pattern, so the generic plan of the
--   former statement read every user for every search;
-- - the display-name part takes the trigram index
--   (users_display_name_trgm), MATERIALIZED: else the planner walks the
--   username index, filtering every user by the pattern;
-- - under one LIMIT, UNION ALL runs the second part only when the first
--   has fewer than p_limit users.
-- The LIKE metacharacters of p_q are escaped.
CREATE OR REPLACE FUNCTION user_search(p_me bigint, p_q text, p_limit int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	lo text := lower(p_q);
	pat text := replace(replace(replace(lower(p_q), '\', '\\'), '%', '\%'), '_', '\_');
	found jsonb;
BEGIN
	WITH named AS MATERIALIZED (
		SELECT u.id, u.username FROM public.users u
		WHERE lower(u.display_name) LIKE '%' || pat || '%' AND u.status <> 'deleted'),
	f AS ((SELECT u.id, u.username, true AS prefix FROM public.users u
	       WHERE u.username ~>=~ lo AND u.username ~<~ (lo || U&'\+10FFFF')
		 AND u.id <> p_me AND u.status <> 'deleted'
	       ORDER BY u.username USING ~<~ LIMIT p_limit)
	      UNION ALL
	      (SELECT n.id, n.username, false FROM named n
	       WHERE NOT starts_with(n.username, lo) AND n.id <> p_me
	       ORDER BY n.username USING ~<~ LIMIT p_limit)
	      LIMIT p_limit)
	SELECT jsonb_build_object('users', coalesce(jsonb_agg(public.user_json(u)
		ORDER BY f.prefix DESC, f.username USING ~<~), '[]'::jsonb))
	INTO found
	FROM f JOIN public.users u ON u.id = f.id;
	RETURN found;
END
$$;

CREATE OR REPLACE FUNCTION user_name(p_user bigint) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT display_name FROM public.users WHERE id = p_user $$;

-- Failed logins are counted per (login, client address) pair (scope
-- 'pair', the key from login_key()) and per client address (scope
-- 'addr'). Not per login alone: then anyone, from anywhere, could lock an
-- account out with a few wrong passwords, the owner's right one answered
-- 429 (issue 18); now a stranger's guesses lock out only the stranger's
-- address, and guessing one password from many addresses is what the
-- password hash's cost is for. The login is the account when the name
-- given names one, so that its username and its e-mail are one login
-- (else each would have its own count); a name that names no account
-- counts as typed, lower-cased. 'user:' and 'name:' keep an unknown name
-- "12" apart from the account 12.
CREATE OR REPLACE FUNCTION login_key(p_user bigint, p_login text, p_addr text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_user IS NOT NULL THEN 'user:' || p_user::text
		    ELSE 'name:' || lower(p_login) END || ' ' || p_addr
$$;

-- Seconds the caller must wait before another login attempt, or 0. p_key
-- is login_key() of the attempt.
CREATE OR REPLACE FUNCTION login_throttle(p_key text, p_addr text, p_max_pair int, p_max_addr int,
					  p_window_secs int) RETURNS int
LANGUAGE sql STABLE AS $$
	SELECT coalesce(max(ceil(extract(epoch FROM
			f.window_start + make_interval(secs => p_window_secs) - now())))::int, 0)
	FROM public.login_failures f
	WHERE ((f.scope = 'pair' AND f.key = p_key AND f.failures >= p_max_pair)
	    OR (f.scope = 'addr' AND f.key = p_addr AND f.failures >= p_max_addr))
	  AND f.window_start + make_interval(secs => p_window_secs) > now()
$$;

CREATE OR REPLACE FUNCTION login_failed(p_key text, p_addr text, window_secs int) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO public.login_failures AS f (scope, key, window_start, failures)
	VALUES ('pair', p_key, now(), 1), ('addr', p_addr, now(), 1)
	ON CONFLICT (scope, key) DO UPDATE SET
		window_start = CASE WHEN f.window_start + make_interval(secs => window_secs) <= now()
			THEN now() ELSE f.window_start END,
		failures = CASE WHEN f.window_start + make_interval(secs => window_secs) <= now()
			THEN 1 ELSE f.failures + 1 END
$$;

-- 403 account_banned when p_user is banned (migrations/022): called where
-- a session is opened or refreshed, after the password or refresh token
-- was found good, so that a guesser learns nothing of a ban. The row is
-- read FOR SHARE, which a ban's UPDATE of it waits for (and the other way
-- round): a session opened concurrently with a ban is either refused here
-- or already committed when the ban ends every session.
CREATE OR REPLACE FUNCTION user_login_check(p_user bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_status text;
BEGIN
	SELECT status INTO v_status FROM public.users WHERE id = p_user FOR SHARE;
	IF v_status = 'banned' THEN
		PERFORM public.api_error(403, 'account_banned',
			'this account has been suspended by an administrator');
	END IF;
END
$$;

-- Seconds until addr may register again, or 0: asked before the password
-- is hashed, so that a refused registration costs no scrypt. Only a hint:
-- register_counted() is what holds the limit.
CREATE OR REPLACE FUNCTION register_wait(p_addr text, p_max int, p_window_secs int) RETURNS int
LANGUAGE sql STABLE AS $$
	SELECT coalesce(max(greatest(1, ceil(extract(epoch FROM
			r.window_start + make_interval(secs => p_window_secs) - now()))))::int, 0)
	FROM public.registrations_per_addr r
	WHERE r.addr = p_addr AND r.registrations >= p_max
	  AND r.window_start + make_interval(secs => p_window_secs) > now()
$$;

-- Counts a registration from addr in the registration's own statement,
-- after the account was made; one too many raises 429 (Retry-After in the
-- HINT), which rolls the account back. The upsert locks the address's row
-- until the commit, so registrations racing from one address (a worker
-- each) are counted one after another and no more than p_max get through;
-- a registration refused for another reason (409) is not counted.
CREATE OR REPLACE FUNCTION register_counted(p_addr text, p_max int, p_window_secs int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r public.registrations_per_addr;
BEGIN
	INSERT INTO public.registrations_per_addr AS c (addr, window_start, registrations)
	VALUES (p_addr, now(), 1)
	ON CONFLICT (addr) DO UPDATE SET
		window_start = CASE WHEN c.window_start + make_interval(secs => p_window_secs) <= now()
			THEN now() ELSE c.window_start END,
		registrations = CASE WHEN c.window_start + make_interval(secs => p_window_secs) <= now()
			THEN 1 ELSE c.registrations + 1 END
	RETURNING * INTO r;
	IF r.registrations > p_max THEN
		RAISE EXCEPTION USING ERRCODE = 'M0429', MESSAGE = 'too_many_registrations',
			DETAIL = 'too many accounts were made from this address; try again later',
			HINT = greatest(1, ceil(extract(epoch FROM
				r.window_start + make_interval(secs => p_window_secs) - now())))::int::text;
	END IF;
END
$$;

-- Forgets the failed-login and registration counts whose window has
-- passed (the auth master's periodic job, MSGR_PRUNE_INTERVAL): such a
-- row counts for nothing (the next failure or registration would start a
-- new window in it), but each (login, address) pair leaves one, and most
-- are never used again. Returns how many went.
CREATE OR REPLACE FUNCTION prune_auth_counters(p_login_window_secs int,
					       p_register_window_secs int) RETURNS bigint
LANGUAGE sql AS $$
	WITH l AS (DELETE FROM public.login_failures
		   WHERE window_start + make_interval(secs => p_login_window_secs) <= now()
		   RETURNING 1),
	r AS (DELETE FROM public.registrations_per_addr
	      WHERE window_start + make_interval(secs => p_register_window_secs) <= now()
	      RETURNING 1)
	SELECT (SELECT count(*) FROM l) + (SELECT count(*) FROM r)
$$;

-- Creates a login session with its first refresh token; returns the
-- session's id (the access tokens' sid). p_user_agent and p_ip are shown in
-- the sessions list only. A banned user gets none (user_login_check()).
CREATE OR REPLACE FUNCTION session_open(p_user_id bigint, p_token_hash text, p_ttl_secs int,
				 p_user_agent text, p_ip text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	sid bigint;
BEGIN
	PERFORM public.user_login_check(p_user_id);
	INSERT INTO public.auth_sessions (user_id, user_agent, ip)
	VALUES (p_user_id, left(coalesce(p_user_agent, ''), 512), coalesce(p_ip, ''))
	RETURNING id INTO sid;
	INSERT INTO public.refresh_tokens (token_hash, session_id, expires_at)
	VALUES (p_token_hash, sid, now() + make_interval(secs => p_ttl_secs));
	RETURN sid;
END
$$;

-- Rotates a refresh token: the old one stops working and the new one joins
-- its session. Presenting a token that was already rotated revokes the whole
-- session. Concurrent rotations of one token serialise on its row lock, so
-- exactly one succeeds. Returns the user and the session, or no row when
-- refused. A refresh is when a session counts as used (last_used_at): once
-- an access-token lifetime, not once a request.
CREATE OR REPLACE FUNCTION session_rotate(p_old_hash text, p_new_hash text, p_ttl_secs int,
					  OUT user_id bigint, OUT session_id bigint)
RETURNS SETOF record LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	t public.refresh_tokens;
	uid bigint;
BEGIN
	UPDATE public.refresh_tokens SET rotated_at = now()
	WHERE token_hash = p_old_hash AND rotated_at IS NULL
	RETURNING * INTO t;
	IF NOT FOUND THEN
		PERFORM public.sessions_end(s.user_id, ARRAY[s.id])
		FROM public.auth_sessions s
		WHERE s.id = (SELECT r.session_id FROM public.refresh_tokens r WHERE r.token_hash = p_old_hash);
		RETURN;
	END IF;
	-- A banned user's token (its session ended with the ban) is answered
	-- 403 account_banned rather than as a dead token: the client can say
	-- why. The error undoes the rotation above.
	PERFORM public.user_login_check(s.user_id)
	FROM public.auth_sessions s WHERE s.id = t.session_id;
	UPDATE public.auth_sessions s SET last_used_at = now()
	WHERE s.id = t.session_id AND s.revoked_at IS NULL
	RETURNING s.user_id INTO uid;
	IF uid IS NULL OR t.expires_at <= now() THEN
		RETURN;
	END IF;
	INSERT INTO public.refresh_tokens (token_hash, session_id, expires_at)
	VALUES (p_new_hash, t.session_id, now() + make_interval(secs => p_ttl_secs));
	user_id := uid;
	session_id := t.session_id;
	RETURN NEXT;
END
$$;

-- Revokes the session a refresh token belongs to (logout). Returns whether
-- the token was known.
CREATE OR REPLACE FUNCTION session_close(p_hash text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	s public.auth_sessions;
BEGIN
	SELECT * INTO s FROM public.auth_sessions
	WHERE id = (SELECT session_id FROM public.refresh_tokens WHERE token_hash = p_hash);
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM public.sessions_end(s.user_id, ARRAY[s.id]);
	RETURN true;
END
$$;

-- ---- sessions that take effect at once (API.md) -------------------------------
--
-- Every authenticated statement passes its user through
-- live_session_user(user, sid), sid being the access token's (NULL for a
-- token without one): the check costs an index lookup inside the statement
-- the request makes anyway, not a round trip. Function arguments are
-- evaluated before the call, so a revoked session's statement changes
-- nothing. A revocation is a committed revoked_at: every statement that
-- starts after the commit sees it. wsd hears of it on msgr_wsd
-- (wsd_notify_revoked(), sent in the same transaction) and checks the sid
-- of each connection as it authenticates.

-- p_user when p_sid is NULL or a live session of p_user; else 401
-- session_revoked. STABLE, so that a statement that compares a column with
-- it (WHERE id = live_session_user($1, $2)) still uses an index: it is
-- evaluated once, at the start.
CREATE OR REPLACE FUNCTION live_session_user(p_user bigint, p_sid bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT public.session_live(p_user, p_sid) THEN
		PERFORM public.api_error(401, 'session_revoked',
			'this login session has ended (logout, revoked, password changed); sign in again');
	END IF;
	RETURN p_user;
END
$$;

-- The same question for statements that serve many requests at once (the
-- messages loop's batches) and for wsd: true or false, never an error, so
-- that one revoked session does not fail the others; its request is then
-- answered alone, through live_session_user(). plpgsql, not sql: a sql
-- function with a subquery is never inlined, and then plans its query
-- again in every statement that calls it (measured: 0.1 ms a kept-history
-- check), where plpgsql keeps the plan for the connection's life.
CREATE OR REPLACE FUNCTION session_live(p_user bigint, p_sid bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN p_sid IS NULL OR EXISTS (
		SELECT 1 FROM public.auth_sessions
		WHERE id = p_sid AND user_id = p_user AND revoked_at IS NULL);
END
$$;

-- Revokes the live sessions of p_user that p_ids names (NULL: every one),
-- but p_except; tells wsd to close their sockets. Returns how many. The one
-- place a session ends: logout, DELETE /api/auth/sessions/{id}, password
-- change and reset, a ban (user_sessions_end_all()).
CREATE OR REPLACE FUNCTION sessions_end(p_user bigint, p_ids bigint[], p_except bigint DEFAULT NULL)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	ended bigint[];
BEGIN
	WITH e AS (
		UPDATE public.auth_sessions SET revoked_at = now()
		WHERE user_id = p_user AND revoked_at IS NULL
		  AND (p_ids IS NULL OR id = ANY (p_ids))
		  AND id IS DISTINCT FROM p_except
		RETURNING id)
	SELECT array_agg(id ORDER BY id) INTO ended FROM e;
	PERFORM public.wsd_notify_revoked(p_user, ended);
	RETURN coalesce(array_length(ended, 1), 0);
END
$$;

-- Every session of p_user ends: a password reset, a ban, a deleted account.
CREATE OR REPLACE FUNCTION user_sessions_end_all(p_user bigint) RETURNS int
LANGUAGE sql AS $$ SELECT public.sessions_end(p_user, NULL) $$;

-- A session that can still be refreshed: not revoked, and with a refresh
-- token that is neither rotated nor expired.
CREATE OR REPLACE FUNCTION session_usable(s auth_sessions) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT s.revoked_at IS NULL AND EXISTS (
		SELECT 1 FROM public.refresh_tokens t
		WHERE t.session_id = s.id AND t.rotated_at IS NULL AND t.expires_at > now())
$$;

-- GET /api/auth/sessions: the caller's usable sessions, newest first.
CREATE OR REPLACE FUNCTION sessions_list(p_user bigint, p_sid bigint) RETURNS api_reply
LANGUAGE sql STABLE AS $$
	SELECT (200, jsonb_build_object('sessions', coalesce(jsonb_agg(jsonb_build_object(
			'id', s.id,
			'created_at', public.api_ts(s.created_at),
			'last_used_at', public.api_ts(s.last_used_at),
			'user_agent', s.user_agent,
			'ip', s.ip,
			'current', s.id IS NOT DISTINCT FROM p_sid)
		ORDER BY s.created_at DESC, s.id DESC), '[]'::jsonb)), NULL)::public.api_reply
	FROM public.auth_sessions s
	WHERE s.user_id = p_user AND public.session_usable(s)
$$;

-- DELETE /api/auth/sessions/{id}: one of the caller's sessions (the current
-- one too: that is a logout); another user's, or one already ended, 404.
CREATE OR REPLACE FUNCTION session_delete(p_user bigint, p_id bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
BEGIN
	IF public.sessions_end(p_user, ARRAY[p_id]) = 0 THEN
		PERFORM public.api_error(404, 'session_not_found', 'no such session');
	END IF;
	RETURN (204, NULL, NULL)::public.api_reply;
END
$$;

-- POST /api/users/me/password, after the C side checked the current
-- password against p_old_hash: sets the new hash unless the password
-- changed meanwhile (409), and ends every other session of the caller.
CREATE OR REPLACE FUNCTION password_change(p_user bigint, p_sid bigint, p_old_hash text,
					   p_new_hash text) RETURNS api_reply
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE public.users SET password_hash = p_new_hash
	WHERE id = p_user AND password_hash = p_old_hash;
	IF NOT FOUND THEN
		PERFORM public.api_error(409, 'password_changed',
			'the password was changed meanwhile; try again');
	END IF;
	PERFORM public.sessions_end(p_user, NULL, p_sid);
	RETURN (204, NULL, NULL)::public.api_reply;
END
$$;

-- Registration in one round trip: the user, the first login session and the
-- welcome message (welcome_user() comes with the chats schema).
CREATE OR REPLACE FUNCTION register_user(p_username text, p_email text, p_hash text, p_display_name text,
			      p_token_hash text, p_ttl_secs int, p_user_agent text, p_ip text,
			      OUT usr jsonb, OUT sid bigint)
LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
BEGIN
	-- A deleted account's names stay taken for its grace (account.sql).
	IF EXISTS (SELECT 1 FROM public.users WHERE username = p_username)
	   OR public.account_name_reserved(p_username, NULL) THEN
		PERFORM public.api_error(409, 'username_taken', 'this username is already taken');
	END IF;
	IF EXISTS (SELECT 1 FROM public.users WHERE lower(email) = lower(p_email))
	   OR public.account_name_reserved(NULL, p_email) THEN
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
	sid := public.session_open(u.id, p_token_hash, p_ttl_secs, p_user_agent, p_ip);
	PERFORM public.welcome_user(u.id);
	usr := public.user_json(u, true);
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
-- other member blocked them; 403 user_deleted when that member is a
-- deleted account, which blocks the other of each of its direct chats
-- (account_delete()), so that the send paths refuse it where they refuse
-- a block, at no cost to the others' sends.
CREATE OR REPLACE FUNCTION send_blocked_check(p_user bigint, p_chat_id bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_status text;
BEGIN
	SELECT u.status INTO v_status FROM public.user_blocks b
	JOIN public.chat_members cm ON cm.user_id = b.blocker_id AND cm.chat_id = p_chat_id
	JOIN public.chats c ON c.id = p_chat_id AND c.type = 'direct'
	JOIN public.users u ON u.id = b.blocker_id
	WHERE b.blocked_id = p_user;
	IF v_status = 'deleted' THEN
		PERFORM public.api_error(403, 'user_deleted', 'this account was deleted');
	ELSIF v_status IS NOT NULL THEN
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

-- POST /api/auth/password-reset: 202 whatever happens, so that the answer
-- tells nobody whether an account has the address. At most 3 requests an
-- hour per address (counted for every address, known or not); within that,
-- an account's gets a mail, through the outbox, with p_link (the app's
-- page with the token, built by the C side: only p_token_hash is stored).
CREATE OR REPLACE FUNCTION password_reset_request(p_email text, p_token_hash text, p_link text)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
	lang text;
BEGIN
	-- One request of an address at a time: the count below is then exact.
	PERFORM pg_advisory_xact_lock(hashtext('password_reset ' || lower(p_email)));
	IF (SELECT count(*) FROM public.password_resets
	    WHERE lower(email) = lower(p_email) AND created_at > now() - interval '1 hour') >= 3 THEN
		RETURN (202, NULL, NULL)::public.api_reply;
	END IF;
	SELECT * INTO u FROM public.users WHERE lower(email) = lower(p_email);
	INSERT INTO public.password_resets (email, user_id, token_hash)
	VALUES (p_email, u.id, CASE WHEN u.id IS NOT NULL THEN p_token_hash END);
	IF u.id IS NOT NULL THEN
		-- In the account's language (schema/functions/i18n.sql).
		lang := public.mail_language(u.id);
		PERFORM public.mail_enqueue(u.email, public.mail_text(lang, 'reset.subject'),
			public.mail_text(lang, 'hello', jsonb_build_object('name', u.display_name)) || E'\n\n'
			|| public.mail_text(lang, 'reset.asked', jsonb_build_object('username', u.username)) || E'\n'
			|| public.mail_text(lang, 'reset.open') || E'\n\n'
			|| p_link || E'\n\n' || public.mail_text(lang, 'reset.notYou') || E'\n',
			'<p>' || public.mail_html(lang, 'hello', jsonb_build_object('name', u.display_name)) || '</p>'
			|| '<p>' || public.mail_html(lang, 'reset.asked', jsonb_build_object('username', u.username),
						     '{username}')
			|| ' ' || public.mail_html(lang, 'reset.open') || '</p>'
			|| '<p><a href="' || public.html_escape(p_link) || '">' || public.html_escape(p_link) || '</a></p>'
			|| '<p>' || public.mail_html(lang, 'reset.notYou') || '</p>');
	END IF;
	RETURN (202, NULL, NULL)::public.api_reply;
END
$$;

-- POST /api/auth/password-reset/confirm: the token's account gets the new
-- hash, every token of that account is used up, and every session of it
-- ends (whoever asked for the reset may not be the only one signed in).
-- An unknown, used or expired token: 400 invalid_token, one answer for all.
CREATE OR REPLACE FUNCTION password_reset_confirm(p_token_hash text, p_new_hash text)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	v_user bigint;
BEGIN
	UPDATE public.password_resets SET used_at = now()
	WHERE token_hash = p_token_hash AND used_at IS NULL AND expires_at > now()
	RETURNING user_id INTO v_user;
	IF v_user IS NULL THEN
		PERFORM public.api_error(400, 'invalid_token', 'this reset link has expired or was used');
	END IF;
	UPDATE public.password_resets SET used_at = now() WHERE user_id = v_user AND used_at IS NULL;
	UPDATE public.users SET password_hash = p_new_hash WHERE id = v_user;
	PERFORM public.user_sessions_end_all(v_user);
	RETURN (204, NULL, NULL)::public.api_reply;
END
$$;
