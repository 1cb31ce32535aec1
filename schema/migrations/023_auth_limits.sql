-- Issue 18's limits on the auth side.

-- Registrations per client address in a fixed window of an hour
-- (MSGR_REGISTER_MAX_PER_ADDR, register_wait() and register_counted() in
-- functions/auth.sql): one address made 1,200 accounts at ~11 a second,
-- each a 16 MiB scrypt hash. One row per address, reused when its window
-- has passed.
CREATE TABLE IF NOT EXISTS registrations_per_addr (
	addr text PRIMARY KEY,
	window_start timestamptz NOT NULL,
	registrations int NOT NULL
);

-- Failed logins are counted per (login, client address) pair and per
-- address, no longer per login name alone (login_key() in
-- functions/auth.sql): the per-name counts go, and the two functions whose
-- arguments were renamed are made again by functions/auth.sql.
DELETE FROM login_failures WHERE scope = 'user';
DROP FUNCTION IF EXISTS login_throttle(text, text, int, int, int);
DROP FUNCTION IF EXISTS login_failed(text, text, int);
