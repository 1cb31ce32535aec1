-- Chats and memberships: the Chat object and the requests of the chats
-- program (fcgi/chats). The conventions of every request function (one
-- transaction, an api_reply, the chat row locked first, NOTIFY after the
-- commit) are told in migrations/003_chats.sql.

-- Members a group may have.
CREATE OR REPLACE FUNCTION max_members() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 1000 $$;

-- A LANGUAGE sql EXISTS is not inlined: it was parsed and planned on every
-- call. In plpgsql its plan is kept.
CREATE OR REPLACE FUNCTION is_member(p_chat_id bigint, p_user bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM public.chat_members WHERE chat_id = p_chat_id AND user_id = p_user);
END
$$;

-- Locks the chat for a change and returns the caller's role in it; 404 when
-- the chat does not exist or the caller is not a member. The membership is
-- read after the lock, so it is current.
CREATE OR REPLACE FUNCTION chat_lock(p_chat_id bigint, p_user bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	PERFORM 1 FROM public.chats WHERE id = p_chat_id FOR NO KEY UPDATE;
	SELECT role INTO r FROM public.chat_members WHERE chat_id = p_chat_id AND user_id = p_user;
	IF r IS NULL THEN
		PERFORM public.api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	RETURN r;
END
$$;

-- Locks a group for a change only its owner may make and returns its row:
-- 404 as chat_lock(), 403 not_a_group for a direct chat (p_direct says
-- why), 403 not_owner for a member ("only the owner of the group can " ||
-- p_action).
CREATE OR REPLACE FUNCTION chat_lock_owned(p_chat_id bigint, p_user bigint, p_direct text,
				p_action text) RETURNS chats
LANGUAGE plpgsql AS $$
DECLARE
	r text := public.chat_lock(p_chat_id, p_user);
	c public.chats;
BEGIN
	SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
	IF c.type <> 'group' THEN
		PERFORM public.api_error(403, 'not_a_group', p_direct);
	END IF;
	IF r <> 'owner' THEN
		PERFORM public.api_error(403, 'not_owner', 'only the owner of the group can ' || p_action);
	END IF;
	RETURN c;
END
$$;

-- Each given chat's members, [{user, role, last_read_message_id,
-- last_delivered_message_id}] longest-standing first. Each member's user
-- row is fetched by its key (OFFSET 0 keeps the subquery from being
-- flattened into a join, for which the planner would read all users once
-- the list is long enough: fine for a small table, not for users).
CREATE OR REPLACE FUNCTION members_of(p_chats bigint[]) RETURNS TABLE (chat_id bigint, members jsonb)
LANGUAGE sql STABLE AS $$
	SELECT cm.chat_id, jsonb_agg(jsonb_build_object(
			'user', public.user_object(u, EXISTS (SELECT 1 FROM public.user_presence p
						       WHERE p.user_id = u.id)),
			'role', cm.role,
			'last_read_message_id', nullif(cm.last_read_message_id, 0),
			'last_delivered_message_id', nullif(cm.last_delivered_message_id, 0))
		ORDER BY cm.seq)
	FROM public.chat_members cm
	CROSS JOIN LATERAL (SELECT * FROM public.users x WHERE x.id = cm.user_id OFFSET 0) u
	WHERE cm.chat_id = ANY(p_chats)
	GROUP BY cm.chat_id
$$;

-- For each given chat p_viewer is in: the messages after the viewer's read
-- marker that others sent and that are not deleted (n), and how many of
-- those mention the viewer. Chats with none are left out. The count reads
-- only the index messages_chat (it holds sender_id and deleted_at); the
-- mentions, only for chats with unread messages, the few rows of
-- messages_mentions.
CREATE OR REPLACE FUNCTION unread_of(p_viewer bigint, p_chats bigint[])
RETURNS TABLE (chat_id bigint, n int, mentions int)
LANGUAGE sql STABLE AS $$
	SELECT u.chat_id, u.n, (SELECT count(*) FROM public.messages x
				 WHERE x.chat_id = u.chat_id AND x.id > u.read_upto
				   AND x.mentions <> '{}' AND p_viewer = ANY(x.mentions)
				   AND x.sender_id IS DISTINCT FROM p_viewer AND x.deleted_at IS NULL)::int
	FROM (SELECT me.chat_id, me.last_read_message_id AS read_upto, count(*)::int AS n
	      FROM public.chat_members me
	      JOIN public.messages m ON m.chat_id = me.chat_id AND m.id > me.last_read_message_id
	      WHERE me.user_id = p_viewer AND me.chat_id = ANY(p_chats)
		AND m.sender_id IS DISTINCT FROM p_viewer AND m.deleted_at IS NULL
	      GROUP BY me.chat_id, me.user_id) u
$$;

CREATE OR REPLACE FUNCTION chat_members_json(p_chat_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN coalesce((SELECT members FROM public.members_of(ARRAY[p_chat_id])), '[]'::jsonb);
END
$$;

-- Each given chat's pinned messages, [id] newest pin first; chats without
-- any are left out.
CREATE OR REPLACE FUNCTION pins_of(p_chats bigint[]) RETURNS TABLE (chat_id bigint, ids jsonb)
LANGUAGE sql STABLE AS $$
	SELECT m.chat_id, jsonb_agg(m.id ORDER BY m.pinned_at DESC, m.id DESC)
	FROM public.messages m
	WHERE m.chat_id = ANY(p_chats) AND m.pinned_at IS NOT NULL
	GROUP BY m.chat_id
$$;

-- The Chat object from a row and its parts. p_me is the viewer's own
-- membership row, for their settings (NULL in events, which every member
-- gets alike: the defaults then).
CREATE OR REPLACE FUNCTION chat_object(c chats, p_members jsonb, p_last_message jsonb, p_unread int,
			    p_unread_mentions int, p_pins jsonb, p_me chat_members)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'type', c.type,
		'title', c.title,
		'created_at', public.api_ts(c.created_at),
		'members', p_members,
		'last_message', p_last_message,
		'unread_count', p_unread,
		'unread_mentions', p_unread_mentions,
		'pinned_message_ids', coalesce(p_pins, '[]'::jsonb),
		'muted_until', public.api_ts(p_me.muted_until),
		'notify', coalesce(p_me.notify, 'all'))
$$;

CREATE OR REPLACE FUNCTION chat_json(c chats, p_viewer bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
	me public.chat_members;
	un record;
BEGIN
	SELECT * INTO me FROM public.chat_members WHERE chat_id = c.id AND user_id = p_viewer;
	SELECT * INTO un FROM public.unread_of(p_viewer, ARRAY[c.id]);
	RETURN public.chat_object(c, public.chat_members_json(c.id),
			   (SELECT public.message_json(m, p_viewer) FROM public.messages m
			    WHERE m.id = c.last_message_id AND m.id > coalesce(me.cleared_upto, 0)),
			   coalesce(un.n, 0), coalesce(un.mentions, 0),
			   (SELECT ids FROM public.pins_of(ARRAY[c.id])), me);
END
$$;

-- Whether a chat is in its member's list: not while hidden, unless a
-- message came after what the member cleared.
CREATE OR REPLACE FUNCTION chat_listed(c chats, me chat_members) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT NOT me.hidden OR coalesce(c.last_message_id, 0) > me.cleared_upto
$$;

-- GET /api/chats: the caller's chats, most recent activity first.
CREATE OR REPLACE FUNCTION chat_list(p_user bigint) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
	mine bigint[] := ARRAY(SELECT chat_id FROM public.chat_members WHERE user_id = p_user);
	lasts bigint[] := ARRAY(SELECT last_message_id FROM public.chats
				WHERE id = ANY(mine) AND last_message_id IS NOT NULL);
	listed jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(public.chat_object(c, coalesce(mb.members, '[]'::jsonb),
			CASE WHEN lm.id > me.cleared_upto THEN public.message_object(lm,
				coalesce(a.attachments, '[]'::jsonb), coalesce(r.reactions, '[]'::jsonb))
			END,
			coalesce(un.n, 0), coalesce(un.mentions, 0), pn.ids, me)
		ORDER BY c.last_activity_at DESC, c.id DESC), '[]'::jsonb)
	INTO listed
	FROM public.chats c
	JOIN public.chat_members me ON me.chat_id = c.id AND me.user_id = p_user
	LEFT JOIN public.members_of(mine) mb ON mb.chat_id = c.id
	LEFT JOIN public.pins_of(mine) pn ON pn.chat_id = c.id
	LEFT JOIN public.messages lm ON lm.id = c.last_message_id
	LEFT JOIN public.attachments_of(lasts) a ON a.message_id = lm.id
	LEFT JOIN public.reactions_of(lasts, p_user) r ON r.message_id = lm.id
	LEFT JOIN public.unread_of(p_user, mine) un ON un.chat_id = c.id
	WHERE c.id = ANY(mine) AND public.chat_listed(c, me);
	RETURN (200, jsonb_build_object('chats', listed), NULL)::public.api_reply;
END
$$;

-- The stamp of chat_list(p_user), so that the chats program can keep the
-- answer (shared/pagecache.h) and render it again only when the stamp
-- moves (docs/BENCHMARKS.md, "Chat list"). Rendering costs 8-12 ms of
-- database CPU for 100 chats; this, about 1 ms: index lookups, no JSON.
--
-- The list is built from these rows, and nothing else: the caller's chats
-- (title, last message; chats.version moves with every message, edit,
-- delete, pin, reaction and file of the chat, 006_page_versions.sql),
-- every membership of those chats (roles, read and delivered markers, the
-- caller's own mute, notify, hidden and cleared settings), each member's
-- user row (profile, avatar, status, last seen) and whether they are
-- online. The stamp hashes each row's xmin with its key: every UPDATE
-- writes a new row version whose xmin is the writing transaction, so any
-- change to any column, a row added or a row gone changes the stamp, and a
-- column added later is covered without a change here (a lock, FOR UPDATE,
-- sets xmax and changes nothing). Nothing is written for it: a send pays
-- nothing per member. The XOR of 64-bit hashes of distinct rows moves with
-- any of them, but for a collision; a VACUUM FREEZE or a restore may move
-- it needlessly, which costs one render.
--
-- Each row is fetched by its key (LATERAL ... OFFSET 0, as members_of()):
-- the generic plan otherwise hashes whole tables, as the planner expects
-- a chat to have many members.
CREATE OR REPLACE FUNCTION chat_list_stamp(p_user bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN coalesce((SELECT bit_xor(hashint8extended(c.xmin::text::bigint, c.id))
			 FROM public.chat_members me
			 CROSS JOIN LATERAL (SELECT x.id, x.xmin FROM public.chats x
					     WHERE x.id = me.chat_id OFFSET 0) c
			 WHERE me.user_id = p_user), 0)
		# coalesce((SELECT bit_xor(hashint8extended(m.xmin::text::bigint,
						 hashint8extended(m.user_id, m.chat_id)))
			    FROM public.chat_members me
			    CROSS JOIN LATERAL (SELECT x.chat_id, x.user_id, x.xmin FROM public.chat_members x
						WHERE x.chat_id = me.chat_id OFFSET 0) m
			    WHERE me.user_id = p_user), 0)
		# coalesce((SELECT bit_xor(hashint8extended(u.xmin::text::bigint * 2 + CASE WHEN EXISTS (
					SELECT 1 FROM public.user_presence p WHERE p.user_id = u.id)
					THEN 1 ELSE 0 END, u.id))
			    FROM (SELECT DISTINCT m.user_id FROM public.chat_members me
				  CROSS JOIN LATERAL (SELECT x.user_id FROM public.chat_members x
						      WHERE x.chat_id = me.chat_id OFFSET 0) m
				  WHERE me.user_id = p_user) d
			    CROSS JOIN LATERAL (SELECT x.id, x.xmin FROM public.users x
						WHERE x.id = d.user_id OFFSET 0) u), 0);
END
$$;

-- GET /api/chats/{id}
CREATE OR REPLACE FUNCTION chat_get(p_user bigint, p_chat_id bigint) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
	c public.chats;
BEGIN
	SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
	IF c.id IS NULL OR NOT public.is_member(p_chat_id, p_user) THEN
		PERFORM public.api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	RETURN (200, public.chat_json(c, p_user), NULL)::public.api_reply;
END
$$;

-- POST /api/chats {type: "direct", user_id}: 201 with a new chat, 200 with
-- the pair's existing one. Two concurrent creations make one chat: the
-- second insert waits for the first and then finds its row.
CREATE OR REPLACE FUNCTION chat_create_direct(p_user bigint, p_other bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	c public.chats;
	ev bigint;
BEGIN
	IF p_other = p_user THEN
		PERFORM public.api_field_error('user_id', 'must be another user than yourself');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM public.users WHERE id = p_other AND status <> 'deleted') THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	IF public.is_blocked(p_other, p_user) THEN
		PERFORM public.api_error(403, 'blocked', 'this user has blocked you');
	END IF;
	INSERT INTO public.chats (type, direct_lo, direct_hi)
	VALUES ('direct', least(p_user, p_other), greatest(p_user, p_other))
	ON CONFLICT (direct_lo, direct_hi) DO NOTHING
	RETURNING * INTO c;
	IF c.id IS NULL THEN
		SELECT * INTO c FROM public.chats
		WHERE direct_lo = least(p_user, p_other) AND direct_hi = greatest(p_user, p_other);
		-- Opened again: back in the caller's list (what they cleared
		-- stays cleared).
		UPDATE public.chat_members SET hidden = false
		WHERE chat_id = c.id AND user_id = p_user AND hidden;
		RETURN (200, public.chat_json(c, p_user), NULL)::public.api_reply;
	END IF;
	INSERT INTO public.chat_members (chat_id, user_id) VALUES (c.id, p_user);
	-- The other sees it once it holds a message (chat_listed()).
	INSERT INTO public.chat_members (chat_id, user_id, hidden) VALUES (c.id, p_other, true);
	ev := public.emit(c.id, 'chat.created', jsonb_build_object('chat', public.chat_json(c)));
	RETURN (201, public.chat_json(c, p_user), ev)::public.api_reply;
END
$$;

-- POST /api/chats {type: "group", title, member_ids}: the caller is the
-- owner, the others members in the order given. Events: chat.created, then
-- the service message "alice created the group “title”".
CREATE OR REPLACE FUNCTION chat_create_group(p_user bigint, p_title text, p_member_ids bigint[])
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	missing bigint;
	c public.chats;
	ev bigint;
BEGIN
	SELECT coalesce(array_agg(x ORDER BY n), '{}') INTO ids
	FROM (SELECT x, min(n) AS n FROM unnest(p_member_ids) WITH ORDINALITY AS t(x, n)
	      WHERE x <> p_user GROUP BY x) s;
	IF cardinality(ids) + 1 > public.max_members() THEN
		PERFORM public.api_field_error('member_ids',
			format('a group has at most %s members, you included', public.max_members()));
	END IF;
	SELECT x INTO missing FROM unnest(ids) x
	WHERE NOT EXISTS (SELECT 1 FROM public.users u WHERE u.id = x AND u.status <> 'deleted') LIMIT 1;
	IF missing IS NOT NULL THEN
		PERFORM public.api_error(404, 'user_not_found', format('no user with id %s', missing));
	END IF;
	IF EXISTS (SELECT 1 FROM public.user_blocks WHERE blocked_id = p_user AND blocker_id = ANY(ids)) THEN
		PERFORM public.api_error(403, 'blocked', 'a user of member_ids has blocked you');
	END IF;
	INSERT INTO public.chats (type, title) VALUES ('group', p_title) RETURNING * INTO c;
	INSERT INTO public.chat_members (chat_id, user_id, role) VALUES (c.id, p_user, 'owner');
	INSERT INTO public.chat_members (chat_id, user_id)
	SELECT c.id, x FROM unnest(ids) WITH ORDINALITY AS t(x, n) ORDER BY n;
	PERFORM public.emit(c.id, 'chat.created', jsonb_build_object('chat', public.chat_json(c)));
	ev := public.service_message(c.id, jsonb_build_object('type', 'group.created', 'actor', p_user,
		'title', p_title));
	SELECT * INTO c FROM public.chats WHERE id = c.id;
	RETURN (201, public.chat_json(c, p_user), ev)::public.api_reply;
END
$$;

-- PATCH /api/chats/{id} {title}: the group's owner only. Events:
-- chat.updated, then the service message. The same title changes nothing.
CREATE OR REPLACE FUNCTION chat_rename(p_user bigint, p_chat_id bigint, p_title text) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	c public.chats := public.chat_lock_owned(p_chat_id, p_user,
		'a direct chat has no title to change', 'rename it');
	ev bigint;
BEGIN
	IF c.title = p_title THEN
		RETURN (200, public.chat_json(c, p_user), NULL)::public.api_reply;
	END IF;
	UPDATE public.chats SET title = p_title WHERE id = p_chat_id RETURNING * INTO c;
	PERFORM public.emit(c.id, 'chat.updated', jsonb_build_object('chat', public.chat_json(c)));
	ev := public.service_message(c.id, jsonb_build_object('type', 'group.renamed', 'actor', p_user,
		'title', p_title));
	SELECT * INTO c FROM public.chats WHERE id = c.id;
	RETURN (200, public.chat_json(c, p_user), ev)::public.api_reply;
END
$$;

-- POST /api/chats/{id}/members {user_id}: the group's owner only. Events:
-- member.added, then the service message "alice added bob" (which the new
-- member receives too).
CREATE OR REPLACE FUNCTION chat_add_member(p_user bigint, p_chat_id bigint, p_member bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	c public.chats := public.chat_lock_owned(p_chat_id, p_user,
		'a direct chat cannot have more members', 'add members');
	u public.users;
	ev bigint;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_member AND status <> 'deleted';
	IF u.id IS NULL THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	IF public.is_member(p_chat_id, p_member) THEN
		PERFORM public.api_error(409, 'already_member', 'this user is already a member of the group');
	END IF;
	IF public.is_blocked(p_member, p_user) THEN
		PERFORM public.api_error(403, 'blocked', 'this user has blocked you');
	END IF;
	IF (SELECT count(*) FROM public.chat_members WHERE chat_id = p_chat_id) >= public.max_members() THEN
		PERFORM public.api_error(409, 'chat_full',
			format('a group has at most %s members', public.max_members()));
	END IF;
	-- What was said before the member came is history, not unread.
	INSERT INTO public.chat_members (chat_id, user_id, last_read_message_id, last_delivered_message_id)
	VALUES (p_chat_id, p_member, coalesce(c.last_message_id, 0), coalesce(c.last_message_id, 0));
	PERFORM public.emit(p_chat_id, 'member.added', jsonb_build_object('user', public.user_json(u)));
	ev := public.service_message(p_chat_id, jsonb_build_object('type', 'member.added', 'actor', p_user,
		'users', jsonb_build_array(u.id)));
	SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
	RETURN (201, public.chat_json(c, p_user), ev)::public.api_reply;
END
$$;

-- DELETE /api/chats/{id}/members/{user_id}: the owner removes anyone, a
-- member only itself. When the owner goes, the longest-standing member
-- becomes the owner (chat.updated). The service message comes before
-- member.removed so the removed member still receives it.
CREATE OR REPLACE FUNCTION chat_remove_member(p_user bigint, p_chat_id bigint, p_member bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	r text := public.chat_lock(p_chat_id, p_user);
	c public.chats;
	target_role text;
	heir bigint;
	ev bigint;
BEGIN
	SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
	IF c.type <> 'group' THEN
		PERFORM public.api_error(403, 'not_a_group', 'nobody can leave or be removed from a direct chat');
	END IF;
	SELECT role INTO target_role FROM public.chat_members WHERE chat_id = p_chat_id AND user_id = p_member;
	IF target_role IS NULL THEN
		PERFORM public.api_error(404, 'member_not_found', 'this user is not a member of the group');
	END IF;
	IF p_member <> p_user AND r <> 'owner' THEN
		PERFORM public.api_error(403, 'not_owner', 'only the owner of the group can remove others');
	END IF;
	IF p_member = p_user THEN
		PERFORM public.service_message(p_chat_id, jsonb_build_object('type', 'member.left',
			'actor', p_user));
	ELSE
		PERFORM public.service_message(p_chat_id, jsonb_build_object('type', 'member.removed',
			'actor', p_user, 'users', jsonb_build_array(p_member)));
	END IF;
	DELETE FROM public.chat_members WHERE chat_id = p_chat_id AND user_id = p_member;
	ev := public.emit(p_chat_id, 'member.removed', jsonb_build_object('user_id', p_member));
	IF target_role = 'owner' THEN
		UPDATE public.chat_members SET role = 'owner'
		WHERE chat_id = p_chat_id AND user_id = (
			SELECT user_id FROM public.chat_members WHERE chat_id = p_chat_id ORDER BY seq LIMIT 1)
		RETURNING user_id INTO heir;
		IF heir IS NOT NULL THEN
			SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
			PERFORM public.emit(p_chat_id, 'chat.updated', jsonb_build_object('chat', public.chat_json(c)));
			ev := public.service_message(p_chat_id, jsonb_build_object('type', 'owner.inherited',
				'users', jsonb_build_array(heir)));
		END IF;
	END IF;
	RETURN (204, NULL, ev)::public.api_reply;
END
$$;

-- The welcome chat of a new account (register_user() in auth.sql): a
-- group "Welcome" with the user as its only member and owner, and a service
-- message from the server. Returns the last event id.
CREATE OR REPLACE FUNCTION welcome_user(p_user_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	c public.chats;
BEGIN
	INSERT INTO public.chats (type, title) VALUES ('group', 'Welcome') RETURNING * INTO c;
	INSERT INTO public.chat_members (chat_id, user_id, role) VALUES (c.id, p_user_id, 'owner');
	PERFORM public.emit(c.id, 'chat.created', jsonb_build_object('chat', public.chat_json(c)));
	RETURN public.service_message(c.id, jsonb_build_object('type', 'welcome',
		'users', jsonb_build_array(p_user_id)));
END
$$;

-- A chat deleted by hand takes its messages with it (messages has no
-- foreign key to chats: migrations/011_send_batch.sql).
CREATE OR REPLACE FUNCTION chats_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM public.messages WHERE chat_id IN (SELECT id FROM gone);
	RETURN NULL;
END
$$;

-- PUT (p_pin) or DELETE /api/chats/{id}/pins/{message_id}: in a direct
-- chat either member, in a group the owner. Idempotent: only a change
-- emits message.updated (the message with its "pinned"); a pin also adds
-- the service message "alice pinned “…”".
CREATE OR REPLACE FUNCTION chat_pin(p_user bigint, p_chat_id bigint, p_message_id bigint, p_pin boolean)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	r text := public.chat_lock(p_chat_id, p_user);
	m public.messages;
	ev bigint;
BEGIN
	SELECT * INTO m FROM public.messages WHERE id = p_message_id AND chat_id = p_chat_id
	FOR NO KEY UPDATE;
	IF m.id IS NULL THEN
		PERFORM public.api_error(404, 'message_not_found', 'no such message in this chat');
	END IF;
	IF r <> 'owner' AND (SELECT type FROM public.chats WHERE id = p_chat_id) = 'group' THEN
		PERFORM public.api_error(403, 'not_owner', 'only the owner of the group can pin messages');
	END IF;
	IF p_pin AND m.deleted_at IS NOT NULL THEN
		PERFORM public.api_error(409, 'message_deleted', 'this message was deleted');
	END IF;
	IF p_pin = (m.pinned_at IS NOT NULL) THEN
		RETURN (204, NULL, NULL)::public.api_reply;
	END IF;
	UPDATE public.messages SET pinned_at = CASE WHEN p_pin THEN now() END
	WHERE id = m.id RETURNING * INTO m;
	ev := public.emit(p_chat_id, 'message.updated', jsonb_build_object('message', public.message_json(m)));
	IF p_pin THEN
		ev := public.service_message(p_chat_id, jsonb_build_object('type', 'message.pinned',
			'actor', p_user, 'message_id', m.id,
			'text', CASE WHEN length(m.text) > 50 THEN left(m.text, 50) || '…' ELSE m.text END));
	END IF;
	RETURN (204, NULL, ev)::public.api_reply;
END
$$;

-- PATCH /api/chats/{id}/settings {muted_until?, notify?}: the caller's own
-- settings of the chat (NULL: leave as it is; p_unmute: muted_until was
-- given as null). Nothing is emitted: no one else sees them.
CREATE OR REPLACE FUNCTION chat_settings(p_user bigint, p_chat_id bigint, p_muted_until text,
			      p_unmute boolean, p_notify text) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	c public.chats;
	until timestamptz;
BEGIN
	-- The program checked the form (RFC 3339); the calendar is checked
	-- here (a 30 February).
	BEGIN
		until := p_muted_until::timestamptz;
	EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
		PERFORM public.api_field_error('muted_until', 'must be an RFC 3339 timestamp');
	END;
	UPDATE public.chat_members
	SET muted_until = CASE WHEN p_unmute THEN NULL ELSE coalesce(until, muted_until) END,
	    notify = coalesce(p_notify, notify)
	WHERE chat_id = p_chat_id AND user_id = p_user;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
	RETURN (200, public.chat_json(c, p_user), NULL)::public.api_reply;
END
$$;

-- PUT /api/chats/{id}/owner {user_id}: the group's owner hands it to a
-- member. Events: chat.updated, then the service message "alice made bob
-- the owner". To oneself it changes nothing.
CREATE OR REPLACE FUNCTION chat_set_owner(p_user bigint, p_chat_id bigint, p_heir bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	c public.chats := public.chat_lock_owned(p_chat_id, p_user, 'a direct chat has no owner',
		'hand it over');
	ev bigint;
BEGIN
	IF NOT public.is_member(p_chat_id, p_heir) THEN
		PERFORM public.api_error(404, 'member_not_found', 'this user is not a member of the group');
	END IF;
	IF p_heir = p_user THEN
		RETURN (200, public.chat_json(c, p_user), NULL)::public.api_reply;
	END IF;
	-- One owner at a time (chat_members_one_owner): step down first.
	UPDATE public.chat_members SET role = 'member' WHERE chat_id = p_chat_id AND user_id = p_user;
	UPDATE public.chat_members SET role = 'owner' WHERE chat_id = p_chat_id AND user_id = p_heir;
	PERFORM public.emit(p_chat_id, 'chat.updated', jsonb_build_object('chat', public.chat_json(c)));
	ev := public.service_message(p_chat_id, jsonb_build_object('type', 'owner.handed',
		'actor', p_user, 'users', jsonb_build_array(p_heir)));
	SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
	RETURN (200, public.chat_json(c, p_user), ev)::public.api_reply;
END
$$;

-- DELETE /api/chats/{id}. A direct chat is cleared for the caller alone:
-- gone from their list, its history so far hidden from them (and read);
-- a later message brings it back with only what came after. No event: no
-- one else sees a change. A group is deleted by its owner for everyone
-- (a member: 403, leaving is DELETE of the membership): chat.deleted
-- {chat_id, user_ids} (the members, whose memberships it ends for wsd),
-- then the chat, its memberships and messages go; its files are marked for
-- the files program's sweep (storage_purge()).
CREATE OR REPLACE FUNCTION chat_delete(p_user bigint, p_chat_id bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	r text := public.chat_lock(p_chat_id, p_user);
	c public.chats;
	ev bigint;
BEGIN
	SELECT * INTO c FROM public.chats WHERE id = p_chat_id;
	IF c.type = 'direct' THEN
		UPDATE public.chat_members
		SET hidden = true, cleared_upto = coalesce(c.last_message_id, 0),
		    last_read_message_id = greatest(last_read_message_id, coalesce(c.last_message_id, 0)),
		    last_delivered_message_id = greatest(last_delivered_message_id,
							 coalesce(c.last_message_id, 0))
		WHERE chat_id = p_chat_id AND user_id = p_user;
		RETURN (204, NULL, NULL)::public.api_reply;
	END IF;
	IF r <> 'owner' THEN
		PERFORM public.api_error(403, 'not_owner',
			'only the owner can delete the group; leave it instead');
	END IF;
	ev := public.emit(p_chat_id, 'chat.deleted', jsonb_build_object('chat_id', p_chat_id,
		'user_ids', (SELECT jsonb_agg(user_id ORDER BY seq) FROM public.chat_members
			     WHERE chat_id = p_chat_id)));
	UPDATE public.files SET deleted_at = now()
	WHERE message_id IN (SELECT id FROM public.messages WHERE chat_id = p_chat_id)
	  AND deleted_at IS NULL;
	-- chats_deleted takes the messages, the foreign key the memberships.
	DELETE FROM public.chats WHERE id = p_chat_id;
	RETURN (204, NULL, ev)::public.api_reply;
END
$$;
