-- Account deletion (API.md "Your data and your language", README "Deleting
-- an account"; functions/account.sql). Re-runnable (schema/README.md).
--
-- A deleted account keeps its row, so that its messages stay in the
-- conversations of the others, as from "Deleted account", and every
-- foreign key to it holds: status 'deleted', its names and e-mail taken
-- off the row at once (username "deleted-" and its id, a form no
-- registration can take; e-mail NULL), no password. The names it had are
-- kept reserved in account_reservations for a grace period, then
-- released.
ALTER TABLE users ADD COLUMN IF NOT EXISTS deleted_at timestamptz;
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check
	CHECK (status IN ('active', 'banned', 'deleted'));
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_username_check;
ALTER TABLE users ADD CONSTRAINT users_username_check
	CHECK (username ~ '^[a-z0-9_.]{3,32}$' OR (status = 'deleted' AND username ~ '^deleted-[0-9]+$'));
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_present;
ALTER TABLE users ADD CONSTRAINT users_email_present CHECK (email IS NOT NULL OR status = 'deleted');

-- The username and e-mail of a deleted account, refused to registrations
-- (409 username_taken / email_taken) until `until`: whoever knew the
-- person by that name does not meet a stranger under it the next day, and
-- mail meant for them does not reach a newcomer. The auth program's
-- periodic job (prune_auth_counters()) deletes the rows past it; a row
-- past it already counts for nothing. Not unique: the same name may be
-- reserved again for a later account after its release.
CREATE TABLE IF NOT EXISTS account_reservations (
	user_id bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
	username text NOT NULL,
	email text NOT NULL,
	until timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS account_reservations_username ON account_reservations (username);
CREATE INDEX IF NOT EXISTS account_reservations_email ON account_reservations (lower(email));
