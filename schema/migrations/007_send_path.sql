-- (functions/events.sql and messages.sql have the functions.)

-- message_json() takes p_lookup_parts: a new signature.
DROP FUNCTION IF EXISTS message_json(messages, bigint);
