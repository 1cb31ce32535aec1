-- Service messages as data (issue 21): messages.service holds what
-- happened ({"type": "member.added", "actor": 7, "users": [9]}, the types
-- in functions/messages.sql, service_text()), so that each reader's app
-- says it in their language, with the names the users have now (a
-- deleted account reads "Deleted account"). `text` keeps an English
-- rendering for API clients and old apps. Re-runnable (schema/README.md).
ALTER TABLE messages ADD COLUMN IF NOT EXISTS service jsonb;

-- service_message(chat, actor, text) took the English text.
DROP FUNCTION IF EXISTS service_message(bigint, bigint, text);
-- message_append() takes the data too.
DROP FUNCTION IF EXISTS message_append(bigint, bigint, text, text, text, bigint, jsonb);

-- The rows written before: their data read back from the English texts
-- of functions/chats.sql, where the pattern says for certain what
-- happened. The actor is the row's sender_id (service_message() stored
-- it there). A name other than the actor's is only text: it names a user
-- when exactly one user who is a member of the chat or wrote in it has
-- that display name now; otherwise (renamed since, a name two share) the
-- row keeps service NULL and the app shows its stored text. A second
-- run finds only those rows again and changes nothing.
CREATE TEMP TABLE service_backfill ON COMMIT DROP AS
SELECT id, chat_id, sender_id, text, NULL::jsonb AS data
FROM messages WHERE kind = 'service' AND service IS NULL;

-- The one user called p_name in the chat, or NULL.
CREATE OR REPLACE FUNCTION pg_temp.service_backfill_user(p_chat bigint, p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN count(*) = 1 THEN min(u.id) END
	FROM public.users u
	WHERE u.display_name = p_name
	  AND (EXISTS (SELECT 1 FROM public.chat_members cm WHERE cm.chat_id = p_chat AND cm.user_id = u.id)
	       OR EXISTS (SELECT 1 FROM public.messages x WHERE x.chat_id = p_chat AND x.sender_id = u.id))
$$;

-- In the order of the most specific pattern first: "“…”" ends the first
-- three, so a title or a quote holding " added " is still read right.
UPDATE service_backfill b SET data = jsonb_build_object('type', 'group.created', 'actor', b.sender_id,
	'title', (regexp_match(b.text, '^.+? created the group “(.*)”$', 's'))[1])
WHERE b.data IS NULL AND b.sender_id IS NOT NULL AND b.text ~ '^.+? created the group “.*”$';

UPDATE service_backfill b SET data = jsonb_build_object('type', 'group.renamed', 'actor', b.sender_id,
	'title', (regexp_match(b.text, '^.+? renamed the group to “(.*)”$', 's'))[1])
WHERE b.data IS NULL AND b.sender_id IS NOT NULL AND b.text ~ '^.+? renamed the group to “.*”$';

-- "a message" was written for a message without text.
UPDATE service_backfill b SET data = jsonb_build_object('type', 'message.pinned', 'actor', b.sender_id,
	'text', coalesce(nullif((regexp_match(b.text, '^.+? pinned “(.*)”$', 's'))[1], 'a message'), ''))
WHERE b.data IS NULL AND b.sender_id IS NOT NULL AND b.text ~ '^.+? pinned “.*”$';

-- Those that name another user: the first pattern that matches decides
-- (a name it cannot resolve leaves the row to its text).
UPDATE service_backfill b SET data = jsonb_build_object('type', r.type, 'users', jsonb_build_array(r.uid))
	|| CASE WHEN r.by_actor THEN jsonb_build_object('actor', b.sender_id) ELSE '{}' END
FROM (SELECT DISTINCT ON (s.id) s.id, p.type, p.by_actor,
	     pg_temp.service_backfill_user(s.chat_id, (regexp_match(s.text, p.rx, 's'))[1]) AS uid
      FROM service_backfill s
      JOIN (VALUES
	(1, 'welcome', false, '^Welcome to Messenger, (.+)! Find people with the search box to start a conversation, or create a group and invite friends\.$'),
	(2, 'owner.inherited', false, '^(.+) is now the owner$'),
	(3, 'owner.handed', true, '^.+? made (.+) the owner$'),
	(4, 'member.added', true, '^.+? added (.+)$'),
	(5, 'member.removed', true, '^.+? removed (.+)$')) AS p(n, type, by_actor, rx)
	ON s.text ~ p.rx AND (s.sender_id IS NOT NULL) = p.by_actor
      WHERE s.data IS NULL
      ORDER BY s.id, p.n) r
WHERE b.id = r.id AND r.uid IS NOT NULL;

-- Last: " left" ends the texts above too ("alice removed Bob Left").
UPDATE service_backfill b SET data = jsonb_build_object('type', 'member.left', 'actor', b.sender_id)
WHERE b.data IS NULL AND b.sender_id IS NOT NULL AND b.text ~ '^.+ left$'
  AND b.text !~ ' (added|removed) ';

-- messages_page_updated bumps each chat's version: its kept history
-- pages are rendered again, with the data.
UPDATE messages m SET service = b.data
FROM service_backfill b WHERE m.id = b.id AND b.data IS NOT NULL AND m.service IS NULL;
