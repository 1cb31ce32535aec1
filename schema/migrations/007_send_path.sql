-- A cheaper send (docs/BENCHMARKS.md, "Send"): the database's CPU per send
-- is what limits how many messages a second the stack takes. emit() became
-- plpgsql (its plan is kept for the session), and the Message object is
-- built once per send, without lookups for a new message
-- (functions/events.sql and messages.sql have the functions).

-- message_json() takes p_lookup_parts: a new signature.
DROP FUNCTION IF EXISTS message_json(messages, bigint);
