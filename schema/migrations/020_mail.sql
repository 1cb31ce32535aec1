-- The mail outbox (docs/ARCHITECTURE.md "Mail"): what the server sends by
-- e-mail is a row here, written in the transaction that decided to send it
-- (a password reset, a notification), and the mailer (mailer/) sends it. A
-- row is claimed FOR UPDATE SKIP LOCKED, so several mailers, on several
-- hosts, never send one row at once; the lock is held across the SMTP
-- transaction and the row is marked sent in the same database transaction.
CREATE TABLE IF NOT EXISTS mail_outbox (
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
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE sent_at IS NULL;

-- Password resets (API.md "Password reset"): one row per request, the
-- unknown addresses' too, so that the limit of 3 an hour per address
-- (password_reset_request()) is the same whether or not an account has it
-- and tells nothing. The token is stored only as its SHA-256 (a leaked
-- table resets nothing); it is valid an hour and used once.
CREATE TABLE IF NOT EXISTS password_resets (
	id bigserial PRIMARY KEY,
	email text NOT NULL,
	user_id bigint REFERENCES users (id) ON DELETE CASCADE,
	token_hash text UNIQUE,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL DEFAULT now() + interval '1 hour',
	used_at timestamptz,
	CHECK ((user_id IS NULL) = (token_hash IS NULL))
);
CREATE INDEX IF NOT EXISTS password_resets_email ON password_resets (lower(email), created_at);
CREATE INDEX IF NOT EXISTS password_resets_user ON password_resets (user_id) WHERE user_id IS NOT NULL;
