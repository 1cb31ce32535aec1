-- Chats, memberships, messages, reactions, read markers and search
-- (API.md "Chats and messages").
--
-- Every request of the chats and messages programs is one call of one
-- function below, which checks, changes, writes its events (002_events.sql)
-- and builds the answer's JSON in one transaction. Write functions return an
-- api_reply: the HTTP status, the body (NULL for 204) and the highest event
-- id they emitted (NULL when nothing changed); the C side sends NOTIFY with
-- that id after the commit, never inside the writing transaction.
--
-- Locking: every change to a chat's membership or title, and every message
-- sent into it, first takes the chat row FOR NO KEY UPDATE. So the changes of
-- one chat are serialised in one order (no deadlocks), the member limit holds
-- under concurrency, and a member removed concurrently with a send either
-- sent before the removal or gets 404.
--
-- Event payloads are the "data" objects clients receive and are the same for
-- every viewer: reactions carry "me": false and chats "unread_count": 0 there.

CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TYPE api_reply AS (status int, body jsonb, event_id bigint);

CREATE TABLE chats (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	type text NOT NULL CHECK (type IN ('direct', 'group')),
	title text,
	-- A direct chat's two users, lower id first: at most one chat a pair.
	direct_lo bigint,
	direct_hi bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- Denormalised for the chat list: the newest message and its time.
	last_message_id bigint,
	last_activity_at timestamptz NOT NULL DEFAULT now(),
	CHECK (type = 'group' AND title IS NOT NULL AND direct_lo IS NULL AND direct_hi IS NULL
	    OR type = 'direct' AND title IS NULL AND direct_lo < direct_hi),
	UNIQUE (direct_lo, direct_hi)
);

CREATE TABLE chat_members (
	chat_id bigint NOT NULL REFERENCES chats ON DELETE CASCADE,
	user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
	-- Grows with every join: the longest-standing member has the lowest.
	seq bigint GENERATED ALWAYS AS IDENTITY,
	joined_at timestamptz NOT NULL DEFAULT now(),
	-- 0 = nothing yet (shown as null). Not indexed, so moving them is a
	-- HOT update.
	last_read_message_id bigint NOT NULL DEFAULT 0,
	last_delivered_message_id bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members (user_id, chat_id);
CREATE UNIQUE INDEX chat_members_one_owner ON chat_members (chat_id) WHERE role = 'owner';

-- Symbols that the text search parser drops (or glues to words) in some
-- locales: arrows, technical symbols, dingbats, emoji. Each becomes a lexeme
-- of its own, so "🎉" can be searched for.
CREATE FUNCTION search_symbols(t text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
#variable_conflict use_column
BEGIN
	RETURN (
		SELECT array(SELECT DISTINCT (regexp_matches(t,
			'([\u2190-\u21FF\u2300-\u23FF\u2460-\u24FF\u25A0-\u27BF\u2900-\u297F\u2B00-\u2BFF\u3030\u303D\u3297\u3299\U0001F000-\U0001FAFF])',
			'g'))[1]));
END
$$;

-- The search document of a text: the words of the 'simple' configuration
-- (no stemming, no stop words: any language), lower-cased with ICU so that
-- the result does not depend on the database's locale (C would leave
-- Cyrillic capitals alone), plus the symbols above.
CREATE FUNCTION message_tsv(t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT to_tsvector('simple', lower(t COLLATE "und-x-icu"))
		|| array_to_tsvector(search_symbols(t))
$$;

-- The query for a search string: every word must occur, as a whole word
-- the way the 'simple' configuration splits them (no prefix matching: a
-- prefix's GIN scan costs what all its matches everywhere cost). NULL when
-- the string has no word at all.
CREATE FUNCTION message_tsquery(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN cardinality(l) = 0 THEN NULL ELSE
		array_to_string(array(
			SELECT '''' || replace(replace(x, '\', '\\'), '''', '''''') || ''''
			FROM unnest(l) x), ' & ')::tsquery END
	FROM (SELECT tsvector_to_array(message_tsv(q)) AS l) s
$$;

CREATE TABLE messages (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	chat_id bigint NOT NULL REFERENCES chats ON DELETE CASCADE,
	-- The author. For a service message the user whose action it tells of
	-- (NULL for the server's own); the API shows sender_id null for those.
	-- No foreign key: users are never deleted, and the key check would lock
	-- the sender's users row on every send.
	sender_id bigint,
	kind text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'service')),
	text text NOT NULL,
	client_id text,
	created_at timestamptz NOT NULL DEFAULT now(),
	edited_at timestamptz,
	deleted_at timestamptz,
	search tsvector GENERATED ALWAYS AS (message_tsv(text)) STORED
);
-- History pages, last messages and unread counts (index-only: the count
-- needs sender_id and deleted_at).
CREATE INDEX messages_chat ON messages (chat_id, id) INCLUDE (sender_id, deleted_at);
CREATE UNIQUE INDEX messages_client_id ON messages (chat_id, sender_id, client_id)
	WHERE client_id IS NOT NULL;
-- Search within given chats: btree_gin puts chat_id into the same GIN
-- index, so a search costs what the hits in the caller's chats cost, not
-- what the word's hits everywhere cost.
CREATE INDEX messages_search ON messages USING gin (chat_id, search);

CREATE TABLE message_reactions (
	message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
	user_id bigint NOT NULL, -- no foreign key, as messages.sender_id
	emoji text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (message_id, emoji, user_id)
);

-- Distinct reactions a message may carry.
CREATE FUNCTION max_reactions() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 64 $$;
CREATE FUNCTION max_members() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 1000 $$;

-- A token bucket per user for sending messages. Unlogged: losing it in a
-- crash only forgives some sends, and it costs no WAL.
CREATE UNLOGGED TABLE send_buckets (
	user_id bigint PRIMARY KEY,
	tokens double precision NOT NULL,
	at timestamptz NOT NULL
);

-- Takes one token from the user's bucket (rate tokens a second, at most
-- burst); raises 429 with the seconds to wait in HINT (the C side turns it
-- into Retry-After) when there is none. rate <= 0 turns the limit off.
CREATE FUNCTION send_throttle(p_user bigint, p_rate double precision, p_burst double precision)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	left_ double precision;
BEGIN
	IF p_rate IS NULL OR p_rate <= 0 THEN
		RETURN;
	END IF;
	INSERT INTO send_buckets AS b (user_id, tokens, at)
	VALUES (p_user, p_burst - 1, clock_timestamp())
	ON CONFLICT (user_id) DO UPDATE SET
		tokens = least(p_burst, b.tokens
			+ extract(epoch FROM clock_timestamp() - b.at)::double precision * p_rate) - 1,
		at = clock_timestamp()
	RETURNING tokens INTO left_;
	IF left_ < 0 THEN
		-- The transaction rolls back: a refused send takes no token.
		RAISE EXCEPTION USING ERRCODE = 'M0429', MESSAGE = 'rate_limited',
			DETAIL = 'too many messages; slow down',
			HINT = greatest(1, ceil(-left_ / p_rate))::int::text;
	END IF;
END
$$;

-- ---- JSON objects -----------------------------------------------------------

-- A message's files: [File]. 005_files.sql replaces this placeholder.
CREATE FUNCTION message_attachments(msg_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT '[]'::jsonb $$;

-- [{emoji, count, me}] in the order the reactions first appeared; "me" is
-- whether p_viewer is among them (always false for a NULL viewer).
CREATE FUNCTION message_reactions_json(p_message_id bigint, p_viewer bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (
		SELECT coalesce(jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'me', r.me)
			ORDER BY r.first_at, r.emoji), '[]'::jsonb)
		FROM (SELECT emoji, count(*) AS n, coalesce(bool_or(user_id = p_viewer), false) AS me,
			     min(created_at) AS first_at
		      FROM message_reactions WHERE message_id = p_message_id GROUP BY emoji) r);
END
$$;

-- The Message object as p_viewer sees it (NULL: as an event payload).
CREATE FUNCTION message_json(m messages, p_viewer bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', m.id,
		'chat_id', m.chat_id,
		'sender_id', CASE WHEN m.kind = 'service' THEN NULL ELSE m.sender_id END,
		'kind', m.kind,
		'text', CASE WHEN m.deleted_at IS NULL THEN m.text ELSE '' END,
		'created_at', api_ts(m.created_at),
		'edited_at', api_ts(m.edited_at),
		'deleted', m.deleted_at IS NOT NULL,
		'attachments', CASE WHEN m.deleted_at IS NULL
			THEN message_attachments(m.id) ELSE '[]'::jsonb END,
		'reactions', CASE WHEN m.deleted_at IS NULL
			THEN message_reactions_json(m.id, p_viewer) ELSE '[]'::jsonb END,
		'client_id', m.client_id)
$$;

CREATE FUNCTION chat_members_json(p_chat_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (
		SELECT coalesce(jsonb_agg(jsonb_build_object(
				'user', user_json(u),
				'role', cm.role,
				'last_read_message_id', nullif(cm.last_read_message_id, 0),
				'last_delivered_message_id', nullif(cm.last_delivered_message_id, 0))
			ORDER BY cm.seq), '[]'::jsonb)
		FROM chat_members cm JOIN users u ON u.id = cm.user_id
		WHERE cm.chat_id = p_chat_id);
END
$$;

-- Messages after the viewer's read marker that others sent and that are
-- not deleted; 0 for a NULL viewer or a non-member.
CREATE FUNCTION chat_unread(p_chat_id bigint, p_viewer bigint) RETURNS int
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (
		SELECT count(*)::int
		FROM chat_members me
		JOIN messages m ON m.chat_id = me.chat_id AND m.id > me.last_read_message_id
		WHERE me.chat_id = p_chat_id AND me.user_id = p_viewer
		  AND m.sender_id IS DISTINCT FROM p_viewer AND m.deleted_at IS NULL);
END
$$;

-- The Chat object as p_viewer sees it (NULL: as an event payload).
CREATE FUNCTION chat_json(c chats, p_viewer bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (
		SELECT jsonb_build_object(
			'id', c.id,
			'type', c.type,
			'title', c.title,
			'created_at', api_ts(c.created_at),
			'members', chat_members_json(c.id),
			'last_message', (SELECT message_json(m, p_viewer) FROM messages m
					 WHERE m.id = c.last_message_id),
			'unread_count', chat_unread(c.id, p_viewer)));
END
$$;

-- ---- helpers ----------------------------------------------------------------

CREATE FUNCTION is_member(p_chat_id bigint, p_user bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = p_chat_id AND user_id = p_user)
$$;

-- Locks the chat for a change and returns the caller's role in it; 404 when
-- the chat does not exist or the caller is not a member. The membership is
-- read after the lock, so it is current.
CREATE FUNCTION chat_lock(p_chat_id bigint, p_user bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	PERFORM 1 FROM chats WHERE id = p_chat_id FOR NO KEY UPDATE;
	SELECT role INTO r FROM chat_members WHERE chat_id = p_chat_id AND user_id = p_user;
	IF r IS NULL THEN
		PERFORM api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	RETURN r;
END
$$;

CREATE FUNCTION user_name(p_user bigint) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT display_name FROM users WHERE id = p_user $$;

-- Appends a message to a chat the caller has locked (chat_lock), makes it
-- the chat's last message and emits message.created. Returns the message.
CREATE FUNCTION message_append(p_chat_id bigint, p_sender bigint, p_kind text, p_text text,
			       p_client_id text DEFAULT NULL) RETURNS messages
LANGUAGE plpgsql AS $$
DECLARE
	m messages;
BEGIN
	INSERT INTO messages (chat_id, sender_id, kind, text, client_id)
	VALUES (p_chat_id, p_sender, p_kind, p_text, p_client_id)
	ON CONFLICT (chat_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
	RETURNING * INTO m;
	IF m.id IS NOT NULL THEN
		UPDATE chats SET last_message_id = m.id, last_activity_at = m.created_at
		WHERE id = p_chat_id;
	END IF;
	RETURN m;
END
$$;

-- A service message (kind "service") telling of p_actor's action; returns
-- the id of its message.created event.
CREATE FUNCTION service_message(p_chat_id bigint, p_actor bigint, p_text text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	m messages;
BEGIN
	m := message_append(p_chat_id, p_actor, 'service', p_text);
	RETURN emit(p_chat_id, 'message.created', jsonb_build_object('message', message_json(m)));
END
$$;

-- A message p_user can see (a member of its chat), locked as asked; 404
-- otherwise. p_lock is 'update' (edits, deletes) or 'share' (reactions: a
-- concurrent delete waits, or is waited for).
CREATE FUNCTION message_visible(p_message_id bigint, p_user bigint, p_lock text) RETURNS messages
LANGUAGE plpgsql AS $$
DECLARE
	m messages;
BEGIN
	IF p_lock = 'update' THEN
		SELECT * INTO m FROM messages WHERE id = p_message_id FOR NO KEY UPDATE;
	ELSE
		SELECT * INTO m FROM messages WHERE id = p_message_id FOR SHARE;
	END IF;
	IF m.id IS NULL OR NOT is_member(m.chat_id, p_user) THEN
		PERFORM api_error(404, 'message_not_found', 'no such message');
	END IF;
	RETURN m;
END
$$;

-- ---- chats ------------------------------------------------------------------

-- GET /api/chats: the caller's chats, most recent activity first.
CREATE FUNCTION chat_list(p_user bigint) RETURNS api_reply
LANGUAGE sql STABLE AS $$
	SELECT 200, jsonb_build_object('chats', coalesce(jsonb_agg(chat_json(c, p_user)
			ORDER BY c.last_activity_at DESC, c.id DESC), '[]'::jsonb)), NULL::bigint
	FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
	WHERE cm.user_id = p_user
$$;

-- GET /api/chats/{id}
CREATE FUNCTION chat_get(p_user bigint, p_chat_id bigint) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
	c chats;
BEGIN
	SELECT * INTO c FROM chats WHERE id = p_chat_id;
	IF c.id IS NULL OR NOT is_member(p_chat_id, p_user) THEN
		PERFORM api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	RETURN (200, chat_json(c, p_user), NULL)::api_reply;
END
$$;

-- POST /api/chats {type: "direct", user_id}: 201 with a new chat, 200 with
-- the pair's existing one. Two concurrent creations make one chat: the
-- second insert waits for the first and then finds its row.
CREATE FUNCTION chat_create_direct(p_user bigint, p_other bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	c chats;
	ev bigint;
BEGIN
	IF p_other = p_user THEN
		PERFORM api_field_error('user_id', 'must be another user than yourself');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_other) THEN
		PERFORM api_error(404, 'user_not_found', 'no such user');
	END IF;
	INSERT INTO chats (type, direct_lo, direct_hi)
	VALUES ('direct', least(p_user, p_other), greatest(p_user, p_other))
	ON CONFLICT (direct_lo, direct_hi) DO NOTHING
	RETURNING * INTO c;
	IF c.id IS NULL THEN
		SELECT * INTO c FROM chats
		WHERE direct_lo = least(p_user, p_other) AND direct_hi = greatest(p_user, p_other);
		RETURN (200, chat_json(c, p_user), NULL)::api_reply;
	END IF;
	INSERT INTO chat_members (chat_id, user_id) VALUES (c.id, p_user);
	INSERT INTO chat_members (chat_id, user_id) VALUES (c.id, p_other);
	ev := emit(c.id, 'chat.created', jsonb_build_object('chat', chat_json(c)));
	RETURN (201, chat_json(c, p_user), ev)::api_reply;
END
$$;

-- POST /api/chats {type: "group", title, member_ids}: the caller is the
-- owner, the others members in the order given. Events: chat.created, then
-- the service message "alice created the group “title”".
CREATE FUNCTION chat_create_group(p_user bigint, p_title text, p_member_ids bigint[])
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	missing bigint;
	c chats;
	ev bigint;
BEGIN
	SELECT coalesce(array_agg(x ORDER BY n), '{}') INTO ids
	FROM (SELECT x, min(n) AS n FROM unnest(p_member_ids) WITH ORDINALITY AS t(x, n)
	      WHERE x <> p_user GROUP BY x) s;
	IF cardinality(ids) + 1 > max_members() THEN
		PERFORM api_field_error('member_ids',
			format('a group has at most %s members, you included', max_members()));
	END IF;
	SELECT x INTO missing FROM unnest(ids) x
	WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x) LIMIT 1;
	IF missing IS NOT NULL THEN
		PERFORM api_error(404, 'user_not_found', format('no user with id %s', missing));
	END IF;
	INSERT INTO chats (type, title) VALUES ('group', p_title) RETURNING * INTO c;
	INSERT INTO chat_members (chat_id, user_id, role) VALUES (c.id, p_user, 'owner');
	INSERT INTO chat_members (chat_id, user_id)
	SELECT c.id, x FROM unnest(ids) WITH ORDINALITY AS t(x, n) ORDER BY n;
	PERFORM emit(c.id, 'chat.created', jsonb_build_object('chat', chat_json(c)));
	ev := service_message(c.id, p_user,
		format('%s created the group “%s”', user_name(p_user), p_title));
	SELECT * INTO c FROM chats WHERE id = c.id;
	RETURN (201, chat_json(c, p_user), ev)::api_reply;
END
$$;

-- PATCH /api/chats/{id} {title}: the group's owner only. Events:
-- chat.updated, then the service message. The same title changes nothing.
CREATE FUNCTION chat_rename(p_user bigint, p_chat_id bigint, p_title text) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	r text := chat_lock(p_chat_id, p_user);
	c chats;
	ev bigint;
BEGIN
	SELECT * INTO c FROM chats WHERE id = p_chat_id;
	IF c.type <> 'group' THEN
		PERFORM api_error(403, 'not_a_group', 'a direct chat has no title to change');
	END IF;
	IF r <> 'owner' THEN
		PERFORM api_error(403, 'not_owner', 'only the owner of the group can rename it');
	END IF;
	IF c.title = p_title THEN
		RETURN (200, chat_json(c, p_user), NULL)::api_reply;
	END IF;
	UPDATE chats SET title = p_title WHERE id = p_chat_id RETURNING * INTO c;
	PERFORM emit(c.id, 'chat.updated', jsonb_build_object('chat', chat_json(c)));
	ev := service_message(c.id, p_user,
		format('%s renamed the group to “%s”', user_name(p_user), p_title));
	SELECT * INTO c FROM chats WHERE id = c.id;
	RETURN (200, chat_json(c, p_user), ev)::api_reply;
END
$$;

-- POST /api/chats/{id}/members {user_id}: the group's owner only. Events:
-- member.added, then the service message "alice added bob" (which the new
-- member receives too).
CREATE FUNCTION chat_add_member(p_user bigint, p_chat_id bigint, p_member bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	r text := chat_lock(p_chat_id, p_user);
	c chats;
	u users;
	ev bigint;
BEGIN
	SELECT * INTO c FROM chats WHERE id = p_chat_id;
	IF c.type <> 'group' THEN
		PERFORM api_error(403, 'not_a_group', 'a direct chat cannot have more members');
	END IF;
	IF r <> 'owner' THEN
		PERFORM api_error(403, 'not_owner', 'only the owner of the group can add members');
	END IF;
	SELECT * INTO u FROM users WHERE id = p_member;
	IF u.id IS NULL THEN
		PERFORM api_error(404, 'user_not_found', 'no such user');
	END IF;
	IF is_member(p_chat_id, p_member) THEN
		PERFORM api_error(409, 'already_member', 'this user is already a member of the group');
	END IF;
	IF (SELECT count(*) FROM chat_members WHERE chat_id = p_chat_id) >= max_members() THEN
		PERFORM api_error(409, 'chat_full',
			format('a group has at most %s members', max_members()));
	END IF;
	-- What was said before the member came is history, not unread.
	INSERT INTO chat_members (chat_id, user_id, last_read_message_id, last_delivered_message_id)
	VALUES (p_chat_id, p_member, coalesce(c.last_message_id, 0), coalesce(c.last_message_id, 0));
	PERFORM emit(p_chat_id, 'member.added', jsonb_build_object('user', user_json(u)));
	ev := service_message(p_chat_id, p_user,
		format('%s added %s', user_name(p_user), u.display_name));
	SELECT * INTO c FROM chats WHERE id = p_chat_id;
	RETURN (201, chat_json(c, p_user), ev)::api_reply;
END
$$;

-- DELETE /api/chats/{id}/members/{user_id}: the owner removes anyone, a
-- member only itself. When the owner goes, the longest-standing member
-- becomes the owner (chat.updated). The service message comes before
-- member.removed so the removed member still receives it.
CREATE FUNCTION chat_remove_member(p_user bigint, p_chat_id bigint, p_member bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	r text := chat_lock(p_chat_id, p_user);
	c chats;
	target_role text;
	heir bigint;
	ev bigint;
BEGIN
	SELECT * INTO c FROM chats WHERE id = p_chat_id;
	IF c.type <> 'group' THEN
		PERFORM api_error(403, 'not_a_group', 'nobody can leave or be removed from a direct chat');
	END IF;
	SELECT role INTO target_role FROM chat_members WHERE chat_id = p_chat_id AND user_id = p_member;
	IF target_role IS NULL THEN
		PERFORM api_error(404, 'member_not_found', 'this user is not a member of the group');
	END IF;
	IF p_member <> p_user AND r <> 'owner' THEN
		PERFORM api_error(403, 'not_owner', 'only the owner of the group can remove others');
	END IF;
	IF p_member = p_user THEN
		PERFORM service_message(p_chat_id, p_user, format('%s left', user_name(p_user)));
	ELSE
		PERFORM service_message(p_chat_id, p_user,
			format('%s removed %s', user_name(p_user), user_name(p_member)));
	END IF;
	DELETE FROM chat_members WHERE chat_id = p_chat_id AND user_id = p_member;
	ev := emit(p_chat_id, 'member.removed', jsonb_build_object('user_id', p_member));
	IF target_role = 'owner' THEN
		UPDATE chat_members SET role = 'owner'
		WHERE chat_id = p_chat_id AND user_id = (
			SELECT user_id FROM chat_members WHERE chat_id = p_chat_id ORDER BY seq LIMIT 1)
		RETURNING user_id INTO heir;
		IF heir IS NOT NULL THEN
			SELECT * INTO c FROM chats WHERE id = p_chat_id;
			ev := emit(p_chat_id, 'chat.updated', jsonb_build_object('chat', chat_json(c)));
		END IF;
	END IF;
	RETURN (204, NULL, ev)::api_reply;
END
$$;

-- The welcome chat of a new account (register_user() in 001_auth.sql): a
-- group "Welcome" with the user as its only member and owner, and a service
-- message from the server. Returns the last event id.
CREATE FUNCTION welcome_user(p_user_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	c chats;
BEGIN
	INSERT INTO chats (type, title) VALUES ('group', 'Welcome') RETURNING * INTO c;
	INSERT INTO chat_members (chat_id, user_id, role) VALUES (c.id, p_user_id, 'owner');
	PERFORM emit(c.id, 'chat.created', jsonb_build_object('chat', chat_json(c)));
	RETURN service_message(c.id, NULL, format(
		'Welcome to Messenger, %s! Find people with the search box to start a '
		'conversation, or create a group and invite friends.', user_name(p_user_id)));
END
$$;

-- ---- messages ---------------------------------------------------------------

-- GET /api/chats/{id}/messages: a page of at most p_limit messages in
-- ascending id order. With p_after: the oldest ones after it, has_more when
-- newer ones remain; otherwise the newest ones before p_before (or at all),
-- has_more when older ones remain.
CREATE FUNCTION chat_messages(p_user bigint, p_chat_id bigint, p_before bigint, p_after bigint,
			      p_limit int) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
	body jsonb;
BEGIN
	IF NOT is_member(p_chat_id, p_user) THEN
		PERFORM api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	IF p_after IS NOT NULL THEN
		WITH page AS (
			SELECT x AS msg, x.id FROM messages x
			WHERE x.chat_id = p_chat_id AND x.id > p_after
			ORDER BY x.id LIMIT p_limit + 1)
		SELECT jsonb_build_object(
			'messages', coalesce((SELECT jsonb_agg(message_json(p.msg, p_user) ORDER BY p.id)
				FROM (SELECT * FROM page ORDER BY id LIMIT p_limit) p), '[]'::jsonb),
			'has_more', (SELECT count(*) FROM page) > p_limit)
		INTO body;
	ELSE
		WITH page AS (
			SELECT x AS msg, x.id FROM messages x
			WHERE x.chat_id = p_chat_id AND x.id < coalesce(p_before, 9223372036854775807)
			ORDER BY x.id DESC LIMIT p_limit + 1)
		SELECT jsonb_build_object(
			'messages', coalesce((SELECT jsonb_agg(message_json(p.msg, p_user) ORDER BY p.id)
				FROM (SELECT * FROM page ORDER BY id DESC LIMIT p_limit) p), '[]'::jsonb),
			'has_more', (SELECT count(*) FROM page) > p_limit)
		INTO body;
	END IF;
	RETURN (200, body, NULL)::api_reply;
END
$$;

-- POST /api/chats/{id}/messages. p_blank: the text is empty or white space
-- (the C side trims with Unicode white space). A client_id seen before from
-- this sender in this chat returns that message with 200 and changes
-- nothing. Then the rate limit, the message, its files, message.created.
CREATE FUNCTION message_send(p_user bigint, p_chat_id bigint, p_text text, p_blank boolean,
			     p_client_id text, p_file_ids bigint[], p_max_files int,
			     p_rate double precision, p_burst double precision) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	m messages;
	ev bigint;
BEGIN
	PERFORM chat_lock(p_chat_id, p_user);
	IF p_client_id IS NOT NULL THEN
		SELECT * INTO m FROM messages
		WHERE chat_id = p_chat_id AND sender_id = p_user AND client_id = p_client_id;
		IF m.id IS NOT NULL THEN
			RETURN (200, message_json(m, p_user), NULL)::api_reply;
		END IF;
	END IF;
	IF p_blank AND coalesce(cardinality(p_file_ids), 0) = 0 THEN
		PERFORM api_field_error('text', 'a message needs text or an attachment');
	END IF;
	PERFORM send_throttle(p_user, p_rate, p_burst);
	m := message_append(p_chat_id, p_user, 'text', coalesce(p_text, ''), p_client_id);
	IF m.id IS NULL THEN
		-- Only reachable without the chat lock; kept for safety.
		SELECT * INTO m FROM messages
		WHERE chat_id = p_chat_id AND sender_id = p_user AND client_id = p_client_id;
		RETURN (200, message_json(m, p_user), NULL)::api_reply;
	END IF;
	IF cardinality(p_file_ids) > 0 THEN
		-- 005_files.sql: each must be an unattached upload of the sender.
		PERFORM attach_files(m.id, p_user, p_file_ids, p_max_files);
	END IF;
	ev := emit(p_chat_id, 'message.created', jsonb_build_object('message', message_json(m)));
	RETURN (201, message_json(m, p_user), ev)::api_reply;
END
$$;

-- POST /api/chats/{id}/messages as multipart/form-data: the files the
-- program received (the arrays of upload_sql_arrays(), shared/upload.h)
-- become uploads of the sender (files_add() of 005_files.sql) and the new
-- message's attachments, in the same transaction. A repeated client_id
-- returns the first message and stores no file.
CREATE FUNCTION message_send_upload(p_user bigint, p_chat_id bigint, p_text text,
				    p_blank boolean, p_client_id text, p_names text[],
				    p_sizes bigint[], p_mimes text[], p_keys text[],
				    p_max_files int, p_rate double precision,
				    p_burst double precision) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[] := '{}';
BEGIN
	PERFORM chat_lock(p_chat_id, p_user);
	IF cardinality(p_names) > p_max_files THEN
		PERFORM api_error(413, 'too_many_attachments',
			format('a message may carry at most %s attachments', p_max_files));
	END IF;
	IF cardinality(p_names) > 0 AND NOT (p_client_id IS NOT NULL AND EXISTS (
			SELECT 1 FROM messages WHERE chat_id = p_chat_id
			AND sender_id = p_user AND client_id = p_client_id)) THEN
		SELECT array_agg(f.id ORDER BY f.id) INTO ids
		FROM files_add(p_user, 'upload', p_names, p_sizes, p_mimes, p_keys) f;
	END IF;
	RETURN message_send(p_user, p_chat_id, p_text, p_blank, p_client_id, ids, p_max_files,
			    p_rate, p_burst);
END
$$;

-- PATCH /api/messages/{id} {text}: the sender only; 409 once deleted.
CREATE FUNCTION message_edit(p_user bigint, p_message_id bigint, p_text text, p_blank boolean)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	m messages := message_visible(p_message_id, p_user, 'update');
	ev bigint;
BEGIN
	IF m.kind <> 'text' OR m.sender_id IS DISTINCT FROM p_user THEN
		PERFORM api_error(403, 'not_sender', 'only the sender can edit a message');
	END IF;
	IF m.deleted_at IS NOT NULL THEN
		PERFORM api_error(409, 'message_deleted', 'this message was deleted');
	END IF;
	IF p_blank AND message_attachments(m.id) = '[]'::jsonb THEN
		PERFORM api_field_error('text', 'a message needs text or an attachment');
	END IF;
	UPDATE messages SET text = p_text, edited_at = now() WHERE id = m.id RETURNING * INTO m;
	ev := emit(m.chat_id, 'message.updated', jsonb_build_object('message', message_json(m)));
	RETURN (200, message_json(m, p_user), ev)::api_reply;
END
$$;

-- DELETE /api/messages/{id}: the sender, or the owner of a group. A soft
-- delete: the row stays with its id and times, its text, reactions and
-- files go. Deleting a deleted message is a no-op.
CREATE FUNCTION message_delete(p_user bigint, p_message_id bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	m messages := message_visible(p_message_id, p_user, 'update');
	ev bigint;
BEGIN
	IF NOT ((m.kind = 'text' AND m.sender_id = p_user) OR EXISTS (
			SELECT 1 FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
			WHERE cm.chat_id = m.chat_id AND cm.user_id = p_user
			  AND cm.role = 'owner' AND c.type = 'group')) THEN
		PERFORM api_error(403, 'not_allowed',
			'only the sender or the owner of the group can delete this message');
	END IF;
	IF m.deleted_at IS NOT NULL THEN
		RETURN (204, NULL, NULL)::api_reply;
	END IF;
	UPDATE messages SET deleted_at = now(), text = '' WHERE id = m.id;
	-- (005_files.sql marks its files deleted by a trigger; the program
	-- unlinks them after the commit.)
	DELETE FROM message_reactions WHERE message_id = m.id;
	ev := emit(m.chat_id, 'message.deleted', jsonb_build_object('message_id', m.id));
	RETURN (204, NULL, ev)::api_reply;
END
$$;

-- PUT (p_add) or DELETE /api/messages/{id}/reactions/{emoji}. Idempotent:
-- only a change emits reaction.updated, whose data extends the contract's
-- {message_id, reactions} with the user_id, emoji and added of the change,
-- so that clients can keep their own "me" flags.
CREATE FUNCTION message_react(p_user bigint, p_message_id bigint, p_emoji text, p_add boolean)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	m messages := message_visible(p_message_id, p_user, 'share');
	ev bigint;
BEGIN
	IF p_add THEN
		IF m.deleted_at IS NOT NULL THEN
			PERFORM api_error(409, 'message_deleted', 'this message was deleted');
		END IF;
		IF NOT EXISTS (SELECT 1 FROM message_reactions WHERE message_id = m.id AND emoji = p_emoji)
		   AND (SELECT count(DISTINCT emoji) FROM message_reactions
			WHERE message_id = m.id) >= max_reactions() THEN
			PERFORM api_error(409, 'too_many_reactions',
				format('a message takes at most %s different reactions', max_reactions()));
		END IF;
		INSERT INTO message_reactions (message_id, user_id, emoji)
		VALUES (m.id, p_user, p_emoji) ON CONFLICT DO NOTHING;
	ELSE
		DELETE FROM message_reactions
		WHERE message_id = m.id AND emoji = p_emoji AND user_id = p_user;
	END IF;
	IF NOT FOUND THEN
		RETURN (204, NULL, NULL)::api_reply;
	END IF;
	ev := emit(m.chat_id, 'reaction.updated', jsonb_build_object(
		'message_id', m.id,
		'reactions', message_reactions_json(m.id, NULL),
		'user_id', p_user, 'emoji', p_emoji, 'added', p_add));
	RETURN (204, NULL, ev)::api_reply;
END
$$;

-- POST /api/chats/{id}/read {message_id}: moves the caller's read marker
-- forward (never back; an older id is a no-op) and emits read. Reading
-- implies delivery: the delivered marker follows silently.
CREATE FUNCTION chat_read(p_user bigint, p_chat_id bigint, p_message_id bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
BEGIN
	IF NOT is_member(p_chat_id, p_user) THEN
		PERFORM api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM messages WHERE id = p_message_id AND chat_id = p_chat_id) THEN
		PERFORM api_error(404, 'message_not_found', 'no such message in this chat');
	END IF;
	UPDATE chat_members
	SET last_read_message_id = p_message_id,
	    last_delivered_message_id = greatest(last_delivered_message_id, p_message_id)
	WHERE chat_id = p_chat_id AND user_id = p_user AND last_read_message_id < p_message_id;
	IF NOT FOUND THEN
		RETURN (204, NULL, NULL)::api_reply;
	END IF;
	RETURN (204, NULL, emit(p_chat_id, 'read',
		jsonb_build_object('user_id', p_user, 'message_id', p_message_id)))::api_reply;
END
$$;

-- For wsd's {"type":"ack"}: moves the user's delivered marker forward and
-- emits delivered. Returns the event id, or NULL when nothing changed (not
-- a member, not a message of the chat, or not forward). Never raises for
-- bad input.
CREATE FUNCTION mark_delivered(p_user_id bigint, p_chat_id bigint, p_message_id bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM messages WHERE id = p_message_id AND chat_id = p_chat_id) THEN
		RETURN NULL;
	END IF;
	UPDATE chat_members SET last_delivered_message_id = p_message_id
	WHERE chat_id = p_chat_id AND user_id = p_user_id
	  AND last_delivered_message_id < p_message_id;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN emit(p_chat_id, 'delivered',
		jsonb_build_object('user_id', p_user_id, 'message_id', p_message_id));
END
$$;

-- GET /api/search/messages: messages matching every word of p_q in the
-- caller's chats (or in p_chat_id), newest first, older than p_before.
-- Deleted messages are not found.
--
-- Each chat is searched on its own for its newest p_limit hits, and those
-- are merged. Per chat the planner picks, for the actual words (custom
-- plans, see the SET below), either the GIN index (rare words: cost of the
-- hits) or a backward walk of the chat's messages (common words: stops
-- after p_limit hits).
CREATE FUNCTION search_messages(p_user bigint, p_q text, p_chat_id bigint, p_before bigint,
				p_limit int) RETURNS api_reply
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
	q tsquery := message_tsquery(p_q);
	chats bigint[];
	body jsonb;
BEGIN
	IF p_chat_id IS NOT NULL THEN
		IF NOT is_member(p_chat_id, p_user) THEN
			PERFORM api_error(404, 'chat_not_found', 'no such chat');
		END IF;
		chats := ARRAY[p_chat_id];
	ELSE
		chats := array(SELECT chat_id FROM chat_members WHERE user_id = p_user);
	END IF;
	IF q IS NULL THEN
		RETURN (200, '{"messages": []}'::jsonb, NULL)::api_reply;
	END IF;
	SELECT jsonb_build_object('messages', coalesce(jsonb_agg(message_json(h.msg, p_user)
		ORDER BY h.id DESC), '[]'::jsonb))
	INTO body
	FROM (SELECT x.msg, x.id
	      FROM unnest(chats) AS c(id)
	      CROSS JOIN LATERAL (
			SELECT m AS msg, m.id FROM messages m
			WHERE m.chat_id = c.id AND m.search @@ q AND m.deleted_at IS NULL
			  AND m.id < coalesce(p_before, 9223372036854775807)
			ORDER BY m.id DESC LIMIT p_limit) x
	      ORDER BY x.id DESC LIMIT p_limit) h;
	RETURN (200, body, NULL)::api_reply;
END
$$;
