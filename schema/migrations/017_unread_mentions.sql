-- Chat gains "unread_mentions" (per caller): the unread messages that
-- mention the caller, for the chat list's "@" mark. unread_of() returns
-- them with the count; chat_object() takes them; chat_unread() goes
-- (chat_json() reads unread_of() itself).
DROP FUNCTION IF EXISTS chat_object(chats, jsonb, jsonb, int, jsonb, chat_members);
DROP FUNCTION IF EXISTS unread_of(bigint, bigint[]);
DROP FUNCTION IF EXISTS chat_unread(bigint, bigint);

-- The messages that mention anyone: unread_of() counts a viewer's among
-- them without leaving the index-only count of the others.
CREATE INDEX messages_mentions ON messages (chat_id, id) WHERE mentions <> '{}';
