-- Blocks and reports (API.md "Conversations").

-- blocker_id blocked blocked_id: the blocked user can no longer open a
-- direct chat with the blocker, send into theirs, or add the blocker to a
-- group (403 blocked). Looked up by the blocked user on every send, so the
-- key starts with it.
CREATE TABLE user_blocks (
	blocked_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	blocker_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (blocked_id, blocker_id),
	CHECK (blocked_id <> blocker_id)
);
CREATE INDEX user_blocks_blocker ON user_blocks (blocker_id, created_at);

-- Reports of messages, the administrators' queue: one per reporter and
-- message (a repeat changes nothing).
CREATE TABLE message_reports (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
	reporter_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
	status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (message_id, reporter_id)
);
CREATE INDEX message_reports_open ON message_reports (id) WHERE status = 'open';
