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
