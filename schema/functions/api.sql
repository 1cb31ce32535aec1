-- The conventions every request function follows (the api_reply type is
-- migrations/003_chats.sql's): timestamps, and errors the C side turns into
-- problem documents (shared/db.c).
--
-- schema/functions/ holds the current text of every function, one domain a
-- file; scripts/migrate.sh applies them all after the migrations on every
-- run (schema/README.md). Bodies name our objects with "public.": they run
-- with any search_path, a restore's empty one included.

-- Timestamps in the API are RFC 3339 UTC with milliseconds.
CREATE OR REPLACE FUNCTION api_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Raises a domain error that the C layer (reply_db_problem) turns into a
-- problem document: SQLSTATE 'M0' || status, MESSAGE = code, DETAIL = text.
CREATE OR REPLACE FUNCTION api_error(status int, code text, detail text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'M0' || lpad(status::text, 3, '0'),
		MESSAGE = code, DETAIL = detail;
END
$$;

-- A 422 for one field: the C side answers a validation problem with
-- "errors": {field: message}. MESSAGE = the problem code, DETAIL = the
-- field's message, HINT = the field's name.
CREATE OR REPLACE FUNCTION api_field_error(field text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'M0422', MESSAGE = 'validation_failed',
		DETAIL = message, HINT = field;
END
$$;
