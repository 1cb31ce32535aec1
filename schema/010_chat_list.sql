-- The chat list in one statement: each part of the caller's chats (their
-- members, last messages with files and reactions, unread counts) is looked
-- up once for all of them, instead of chat_json() per chat, which made
-- several nested calls per chat and per member (docs/BENCHMARKS.md, "Chat
-- list"). As in 008, the per-object helpers become wrappers over the same
-- pieces, so that one chat and a list of chats are built alike.

-- The User object from a row and whether the user is online.
CREATE FUNCTION user_object(u users, p_online boolean, with_email boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', u.id,
		'username', u.username,
		'display_name', u.display_name,
		'about', u.about,
		'avatar_url', avatar_url(u.avatar_file_id),
		'created_at', api_ts(u.created_at),
		'online', p_online,
		'last_seen_at', api_ts(u.last_seen_at))
	|| CASE WHEN with_email THEN jsonb_build_object('email', u.email) ELSE '{}'::jsonb END
$$;

CREATE OR REPLACE FUNCTION user_json(u users, with_email boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN user_object(u, EXISTS (SELECT 1 FROM user_presence p WHERE p.user_id = u.id),
			   with_email);
END
$$;

-- Each given chat's members, [{user, role, last_read_message_id,
-- last_delivered_message_id}] longest-standing first. Each member's user
-- row is fetched by its key (OFFSET 0 keeps the subquery from being
-- flattened into a join, for which the planner would read all users once
-- the list is long enough: fine for a small table, not for users).
CREATE FUNCTION members_of(p_chats bigint[]) RETURNS TABLE (chat_id bigint, members jsonb)
LANGUAGE sql STABLE AS $$
	SELECT cm.chat_id, jsonb_agg(jsonb_build_object(
			'user', user_object(u, EXISTS (SELECT 1 FROM user_presence p
						       WHERE p.user_id = u.id)),
			'role', cm.role,
			'last_read_message_id', nullif(cm.last_read_message_id, 0),
			'last_delivered_message_id', nullif(cm.last_delivered_message_id, 0))
		ORDER BY cm.seq)
	FROM chat_members cm
	CROSS JOIN LATERAL (SELECT * FROM users x WHERE x.id = cm.user_id OFFSET 0) u
	WHERE cm.chat_id = ANY(p_chats)
	GROUP BY cm.chat_id
$$;

-- For each given chat p_viewer is in: the messages after the viewer's read
-- marker that others sent and that are not deleted. Chats with none are
-- left out.
CREATE FUNCTION unread_of(p_viewer bigint, p_chats bigint[]) RETURNS TABLE (chat_id bigint, n int)
LANGUAGE sql STABLE AS $$
	SELECT me.chat_id, count(*)::int
	FROM chat_members me
	JOIN messages m ON m.chat_id = me.chat_id AND m.id > me.last_read_message_id
	WHERE me.user_id = p_viewer AND me.chat_id = ANY(p_chats)
	  AND m.sender_id IS DISTINCT FROM p_viewer AND m.deleted_at IS NULL
	GROUP BY me.chat_id
$$;

CREATE OR REPLACE FUNCTION chat_members_json(p_chat_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN coalesce((SELECT members FROM members_of(ARRAY[p_chat_id])), '[]'::jsonb);
END
$$;

CREATE OR REPLACE FUNCTION chat_unread(p_chat_id bigint, p_viewer bigint) RETURNS int
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN coalesce((SELECT n FROM unread_of(p_viewer, ARRAY[p_chat_id])), 0);
END
$$;

-- The Chat object from a row and its parts.
CREATE FUNCTION chat_object(c chats, p_members jsonb, p_last_message jsonb, p_unread int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'type', c.type,
		'title', c.title,
		'created_at', api_ts(c.created_at),
		'members', p_members,
		'last_message', p_last_message,
		'unread_count', p_unread)
$$;

CREATE OR REPLACE FUNCTION chat_json(c chats, p_viewer bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN chat_object(c, chat_members_json(c.id),
			   (SELECT message_json(m, p_viewer) FROM messages m
			    WHERE m.id = c.last_message_id),
			   chat_unread(c.id, p_viewer));
END
$$;

-- GET /api/chats: the caller's chats, most recent activity first.
CREATE OR REPLACE FUNCTION chat_list(p_user bigint) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
	mine bigint[] := ARRAY(SELECT chat_id FROM chat_members WHERE user_id = p_user);
	lasts bigint[] := ARRAY(SELECT last_message_id FROM chats
				WHERE id = ANY(mine) AND last_message_id IS NOT NULL);
	listed jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(chat_object(c, coalesce(mb.members, '[]'::jsonb),
			CASE WHEN lm.id IS NOT NULL THEN message_object(lm,
				coalesce(a.attachments, '[]'::jsonb), coalesce(r.reactions, '[]'::jsonb))
			END,
			coalesce(un.n, 0))
		ORDER BY c.last_activity_at DESC, c.id DESC), '[]'::jsonb)
	INTO listed
	FROM chats c
	LEFT JOIN members_of(mine) mb ON mb.chat_id = c.id
	LEFT JOIN messages lm ON lm.id = c.last_message_id
	LEFT JOIN attachments_of(lasts) a ON a.message_id = lm.id
	LEFT JOIN reactions_of(lasts, p_user) r ON r.message_id = lm.id
	LEFT JOIN unread_of(p_user, mine) un ON un.chat_id = c.id
	WHERE c.id = ANY(mine);
	RETURN (200, jsonb_build_object('chats', listed), NULL)::api_reply;
END
$$;
