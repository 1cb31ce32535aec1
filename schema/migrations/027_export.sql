-- The export of a user's data (API.md "Your data and your language":
-- POST/GET/DELETE /api/users/me/export; functions/export.sql; the builder
-- is the files program's periodic job, fcgi/files/export.c). Re-runnable
-- (schema/README.md).
--
-- One row per request, at most one of a user not yet 'ready' or 'failed'
-- (the partial unique index: two requests at once make one row, the other
-- 409). The archive is a stored file like any other (files row of kind
-- 'export', uploaded by the user), so it lives in MSGR_STORAGE_DIR or the
-- object store, nginx serves it through GET /api/files/{id} with a signed
-- URL, and removing it is the usual mark-then-purge (storage.h).
-- A row is 'running' only while a builder holds the files program's
-- periodic lock (srv_periodic_lock("files")); one found 'running' by the
-- next holder is a crashed run, put back to 'pending' (export_recover()).
CREATE TABLE IF NOT EXISTS exports (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	status text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'running', 'ready', 'failed')),
	requested_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	ready_at timestamptz,
	expires_at timestamptz,
	attempts int NOT NULL DEFAULT 0,
	-- The archive: set once its bytes are written (still 'running' until
	-- they are published), so that a crash in between leaves a row the
	-- recovery can mark deleted.
	file_id bigint REFERENCES files ON DELETE SET NULL,
	size bigint,
	last_error text,
	CHECK (status <> 'ready' OR (file_id IS NOT NULL AND expires_at IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS exports_one_running ON exports (user_id)
	WHERE status IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS exports_user ON exports (user_id, id);
CREATE INDEX IF NOT EXISTS exports_todo ON exports (id) WHERE status IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS exports_expiring ON exports (expires_at) WHERE expires_at IS NOT NULL;

-- The archive's files row: kind 'export', never attachable, not counted in
-- the storage quota (user_storage_bytes()), never swept as unattached.
ALTER TABLE files DROP CONSTRAINT IF EXISTS files_kind_check;
ALTER TABLE files ADD CONSTRAINT files_kind_check CHECK (kind IN ('upload', 'avatar', 'export'));

-- export.ready {export}: of no chat, for its user alone (audience), as
-- user.updated.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN ('message.created',
	'message.updated', 'message.deleted', 'reaction.updated', 'chat.created', 'chat.updated',
	'member.added', 'member.removed', 'read', 'delivered', 'chat.deleted', 'user.updated',
	'export.ready'));
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_chat_or_audience;
ALTER TABLE events ADD CONSTRAINT events_chat_or_audience
	CHECK ((chat_id IS NULL) = (kind IN ('user.updated', 'export.ready'))
	       AND (audience IS NULL) = (chat_id IS NOT NULL));
