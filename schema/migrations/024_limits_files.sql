-- Issue 18's limits on files, WebSockets and messages.

-- Edits and reactions take from the send bucket: message_edit() and
-- message_react() take its rate and burst.
DROP FUNCTION IF EXISTS message_edit(bigint, bigint, text, boolean);
DROP FUNCTION IF EXISTS message_react(bigint, bigint, text, boolean);

-- The storage quota: files_add() and message_send_upload() take it.
DROP FUNCTION IF EXISTS files_add(bigint, text, text[], bigint[], text[], text[]);
DROP FUNCTION IF EXISTS message_send_upload(bigint, bigint, text, boolean, text, text[], bigint[],
					    text[], text[], int, double precision, double precision,
					    bigint);
