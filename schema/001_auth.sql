-- Accounts, login sessions, refresh tokens and login throttling.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Timestamps in the API are RFC 3339 UTC with milliseconds.
CREATE FUNCTION api_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Raises a domain error that the C layer (reply_db_problem) turns into a
-- problem document: SQLSTATE 'M0' || status, MESSAGE = code, DETAIL = text.
CREATE FUNCTION api_error(status int, code text, detail text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'M0' || lpad(status::text, 3, '0'),
		MESSAGE = code, DETAIL = detail;
END
$$;

-- A 422 for one field: the C side answers a validation problem with
-- "errors": {field: message}. MESSAGE = the problem code, DETAIL = the
-- field's message, HINT = the field's name.
CREATE FUNCTION api_field_error(field text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'M0422', MESSAGE = 'validation_failed',
		DETAIL = message, HINT = field;
END
$$;

CREATE TABLE users (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	username text NOT NULL CHECK (username ~ '^[a-z0-9_.]{3,32}$'),
	email text NOT NULL,
	password_hash text NOT NULL,
	display_name text NOT NULL,
	about text NOT NULL DEFAULT '',
	avatar_file_id bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- Prefix search on usernames, substring search on display names.
CREATE INDEX users_username_prefix ON users (username text_pattern_ops);
CREATE INDEX users_display_name_trgm ON users USING gin (lower(display_name) gin_trgm_ops);

-- One row per live wsd connection set: a user is online while any wsd
-- process has a row for them. wsd owns this table.
CREATE TABLE user_presence (
	user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	wsd_id text NOT NULL,
	connections int NOT NULL DEFAULT 1,
	since timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, wsd_id)
);

-- Avatar URLs are built by the files migration; until then a user has none.
CREATE FUNCTION avatar_url(file_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT NULL::text $$;

CREATE FUNCTION user_json(u users, with_email boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (
		SELECT jsonb_build_object(
			'id', u.id,
			'username', u.username,
			'display_name', u.display_name,
			'about', u.about,
			'avatar_url', avatar_url(u.avatar_file_id),
			'created_at', api_ts(u.created_at),
			'online', EXISTS (SELECT 1 FROM user_presence p WHERE p.user_id = u.id),
			'last_seen_at', api_ts(u.last_seen_at))
		|| CASE WHEN with_email THEN jsonb_build_object('email', u.email) ELSE '{}'::jsonb END);
END
$$;

-- A login session groups the refresh tokens of one login: reuse of a
-- rotated token revokes the whole session (RFC 6819 section 5.2.2.3).
CREATE TABLE auth_sessions (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE refresh_tokens (
	token_hash text PRIMARY KEY, -- hex SHA-256; the token itself is never stored
	session_id bigint NOT NULL REFERENCES auth_sessions ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	rotated_at timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed logins per scope ('user' = the login name as typed, lower-cased;
-- 'addr' = the client address) in a fixed window.
CREATE TABLE login_failures (
	scope text NOT NULL,
	key text NOT NULL,
	window_start timestamptz NOT NULL,
	failures int NOT NULL,
	PRIMARY KEY (scope, key)
);

-- Seconds the caller must wait before another login attempt, or 0.
CREATE FUNCTION login_throttle(login text, addr text, max_user int, max_addr int,
			       window_secs int) RETURNS int
LANGUAGE sql STABLE AS $$
	SELECT coalesce(max(ceil(extract(epoch FROM
			f.window_start + make_interval(secs => window_secs) - now())))::int, 0)
	FROM login_failures f
	WHERE ((f.scope = 'user' AND f.key = lower(login) AND f.failures >= max_user)
	    OR (f.scope = 'addr' AND f.key = addr AND f.failures >= max_addr))
	  AND f.window_start + make_interval(secs => window_secs) > now()
$$;

CREATE FUNCTION login_failed(login text, addr text, window_secs int) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO login_failures AS f (scope, key, window_start, failures)
	VALUES ('user', lower(login), now(), 1), ('addr', addr, now(), 1)
	ON CONFLICT (scope, key) DO UPDATE SET
		window_start = CASE WHEN f.window_start + make_interval(secs => window_secs) <= now()
			THEN now() ELSE f.window_start END,
		failures = CASE WHEN f.window_start + make_interval(secs => window_secs) <= now()
			THEN 1 ELSE f.failures + 1 END
$$;

-- Creates a login session with its first refresh token; returns the token
-- pair's data for the C side: user id.
CREATE FUNCTION session_open(p_user_id bigint, p_token_hash text, p_ttl_secs int)
RETURNS void LANGUAGE sql AS $$
	WITH s AS (INSERT INTO auth_sessions (user_id) VALUES (p_user_id) RETURNING id)
	INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
	SELECT p_token_hash, s.id, now() + make_interval(secs => p_ttl_secs) FROM s
$$;

-- Rotates a refresh token: the old one stops working and the new one joins
-- its session. Presenting a token that was already rotated revokes the whole
-- session. Concurrent rotations of one token serialise on its row lock, so
-- exactly one succeeds. Returns the user id, or NULL when refused.
CREATE FUNCTION session_rotate(p_old_hash text, p_new_hash text, p_ttl_secs int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	t refresh_tokens;
	uid bigint;
BEGIN
	UPDATE refresh_tokens SET rotated_at = now()
	WHERE token_hash = p_old_hash AND rotated_at IS NULL
	RETURNING * INTO t;
	IF NOT FOUND THEN
		UPDATE auth_sessions SET revoked_at = now()
		WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = p_old_hash)
		  AND revoked_at IS NULL;
		RETURN NULL;
	END IF;
	SELECT s.user_id INTO uid FROM auth_sessions s
	WHERE s.id = t.session_id AND s.revoked_at IS NULL;
	IF uid IS NULL OR t.expires_at <= now() THEN
		RETURN NULL;
	END IF;
	INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
	VALUES (p_new_hash, t.session_id, now() + make_interval(secs => p_ttl_secs));
	RETURN uid;
END
$$;

-- Revokes the session a refresh token belongs to (logout). Returns whether
-- the token was known.
CREATE FUNCTION session_close(p_hash text) RETURNS boolean
LANGUAGE sql AS $$
	WITH s AS (
		UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now())
		WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = p_hash)
		RETURNING id)
	SELECT EXISTS (SELECT 1 FROM s)
$$;

-- Registration in one round trip: the user, the first login session and the
-- welcome message (welcome_user() comes with the chats schema).
CREATE FUNCTION register_user(p_username text, p_email text, p_hash text, p_display_name text,
			      p_token_hash text, p_ttl_secs int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	u users;
BEGIN
	IF EXISTS (SELECT 1 FROM users WHERE username = p_username) THEN
		PERFORM api_error(409, 'username_taken', 'this username is already taken');
	END IF;
	IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(p_email)) THEN
		PERFORM api_error(409, 'email_taken', 'an account with this email already exists');
	END IF;
	BEGIN
		INSERT INTO users (username, email, password_hash, display_name)
		VALUES (p_username, p_email, p_hash, p_display_name) RETURNING * INTO u;
	EXCEPTION WHEN unique_violation THEN
		-- A concurrent registration took the name between the checks and here.
		IF EXISTS (SELECT 1 FROM users WHERE username = p_username) THEN
			PERFORM api_error(409, 'username_taken', 'this username is already taken');
		END IF;
		PERFORM api_error(409, 'email_taken', 'an account with this email already exists');
	END;
	PERFORM session_open(u.id, p_token_hash, p_ttl_secs);
	PERFORM welcome_user(u.id);
	RETURN user_json(u, true);
END
$$;
