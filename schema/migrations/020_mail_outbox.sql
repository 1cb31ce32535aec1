-- The mail outbox (docs/ARCHITECTURE.md "Mail"): what the server sends by
-- e-mail is a row here, written in the transaction that decided to send it
-- (a password reset, a notification), and the mailer (mailer/) sends it. A
-- row is claimed FOR UPDATE SKIP LOCKED, so several mailers, on several
-- hosts, never send one row at once; the lock is held across the SMTP
-- transaction and the row is marked sent in the same database transaction.
CREATE TABLE mail_outbox (
	id bigserial PRIMARY KEY,
	to_addr text NOT NULL CHECK (to_addr <> '' AND to_addr !~ '[\s<>,]'),
	-- One line: a header value must not carry a line break.
	subject text NOT NULL CHECK (subject !~ '[\r\n]'),
	body_text text NOT NULL,
	body_html text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	attempts int NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	sent_at timestamptz,
	last_error text
);

-- What the mailer looks for: the unsent rows that are due.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE sent_at IS NULL;
