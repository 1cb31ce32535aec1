-- Administration (API.md "Administration"): a user's role and status, the
-- audit log of every administrator's action, and what the admin queries
-- look up (functions/admin.sql). Re-runnable (schema/README.md).

-- 'admin' sees /api/admin/* (admin_require()); the first one is made on
-- the server's command line (msgrctl). 'banned' cannot sign in: checked
-- where a session is opened or refreshed (session_open(), session_rotate()),
-- and a ban ends every session at once (user_sessions_end_all()).
ALTER TABLE users
	ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT 'user',
	ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'active';
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'));
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check CHECK (status IN ('active', 'banned'));

-- Every change an administrator makes, through the API (admin_id set,
-- actor their username then) or msgrctl (admin_id NULL, actor
-- "msgrctl:" and the operating system's user). Kept when the admin's
-- account goes: the record outlives its author.
CREATE TABLE IF NOT EXISTS admin_audit (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	admin_id bigint REFERENCES users ON DELETE SET NULL,
	actor text NOT NULL,
	action text NOT NULL,
	target jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- A user's messages: the admin list's messages_count and DELETE
-- /api/admin/users/{id}/messages?since= (messages_chat starts with the chat).
CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender_id, created_at);
