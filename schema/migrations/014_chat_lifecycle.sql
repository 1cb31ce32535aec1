-- Conversations, continued (API.md "Conversations"): clearing and deleting
-- chats, direct chats that show only once they hold a message, and the
-- user.updated event.

-- A member's own view of a chat. cleared_upto: the last message the member
-- cleared away (DELETE of a direct chat); only later ones are shown to
-- them. hidden: the chat is left out of the member's list until a message
-- after cleared_upto comes (the other member of a new direct chat, or the
-- one who deleted it).
ALTER TABLE chat_members ADD COLUMN cleared_upto bigint NOT NULL DEFAULT 0;
ALTER TABLE chat_members ADD COLUMN hidden boolean NOT NULL DEFAULT false;

-- Events of no chat: user.updated has "chat_id": null and goes to the
-- users in audience (the user and everyone sharing a chat with them when
-- it was written). chat.deleted ends every membership of its chat, like a
-- member.removed of each member (its payload lists them for wsd).
ALTER TABLE events ALTER COLUMN chat_id DROP NOT NULL;
ALTER TABLE events ADD COLUMN audience bigint[];
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN ('message.created',
	'message.updated', 'message.deleted', 'reaction.updated', 'chat.created', 'chat.updated',
	'member.added', 'member.removed', 'read', 'delivered', 'chat.deleted', 'user.updated'));
ALTER TABLE events ADD CONSTRAINT events_chat_or_audience
	CHECK ((chat_id IS NULL) = (kind = 'user.updated') AND (audience IS NULL) = (chat_id IS NOT NULL));
CREATE INDEX events_audience ON events USING gin (audience) WHERE audience IS NOT NULL;
DROP INDEX events_membership;
CREATE INDEX events_membership ON events USING gin (wsd_event_users(kind, payload))
WHERE kind IN ('chat.created', 'member.added', 'member.removed', 'chat.deleted');

-- The trigger below: declared here, defined in functions/auth.sql
-- (schema/README.md).
CREATE FUNCTION users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;
-- Whatever changes what others see of a user (a name, about, the avatar,
-- which the files program sets) emits user.updated: no path can forget.
CREATE TRIGGER users_changed AFTER UPDATE OF display_name, about, avatar_file_id ON users
	FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name
		OR OLD.about IS DISTINCT FROM NEW.about
		OR OLD.avatar_file_id IS DISTINCT FROM NEW.avatar_file_id)
	EXECUTE FUNCTION users_changed();
