-- Issue 18's limits on files, WebSockets and messages.

-- Edits and reactions take from the send bucket: message_edit() and
-- message_react() take its rate and burst.
DROP FUNCTION IF EXISTS message_edit(bigint, bigint, text, boolean);
DROP FUNCTION IF EXISTS message_react(bigint, bigint, text, boolean);

