-- A batch answers repeated sends too. The messages program's companion now
-- serves sends from one event loop (fcgi/messages/batch.c), and a send it
-- cannot write in the batch it writes alone, one at a time: a client
-- resending its unconfirmed messages after a restart must not take that
-- path, one round trip each. A repeat is a send whose client_id its sender
-- already used in that chat; it is answered 200 with the message stored
-- then, as message_send() answers it (functions/messages.sql).

-- message_send_batch() returns a status per item: a new result type.
DROP FUNCTION IF EXISTS message_send_batch(bigint[], bigint[], text[], text[], double precision,
				 double precision);
