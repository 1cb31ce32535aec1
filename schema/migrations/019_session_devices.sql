-- Sessions take effect at once (API.md): access tokens carry their login
-- session's id (sid) and every request's statement checks it is live
-- (live_session_user(), functions/auth.sql). The sessions list shows where
-- each is used: the client's User-Agent and address at login, and when it
-- last refreshed its access token (not every request: a write per request
-- would cost every read a row update; a refresh comes every access-token
-- lifetime, 15 minutes, so the time is that exact).
ALTER TABLE auth_sessions
	ADD COLUMN IF NOT EXISTS user_agent text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS ip text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS last_used_at timestamptz NOT NULL DEFAULT now();

-- They now return the session's id, and session_open() and register_user()
-- take where the client is.
DROP FUNCTION IF EXISTS register_user(text, text, text, text, text, int);
DROP FUNCTION IF EXISTS session_open(bigint, text, int);
DROP FUNCTION IF EXISTS session_rotate(text, text, int);
-- The batched send takes each send's session, to leave out the ended ones.
DROP FUNCTION IF EXISTS message_send_batch(bigint[], bigint[], text[], text[], double precision,
					   double precision);
