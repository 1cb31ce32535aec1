-- Accounts, login sessions, refresh tokens and login throttling.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

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
