-- Rendering a page of history with one grouped lookup of the page's files
-- and one of its reactions, instead of two lookups per message (100
-- executor start-ups with an aggregate each for a page of 50, most finding
-- nothing): docs/BENCHMARKS.md, "Read the newest 50 messages".
--
-- The per-message helpers of 003/005 become thin wrappers over the same
-- set functions, so that a page and a single message are built alike.

-- Each given message's reactions, [{emoji, count, me}] in the order they
-- first appeared; messages without any are left out. Inlined into the
-- caller (a single SELECT), so it is planned with it.
CREATE FUNCTION reactions_of(p_ids bigint[], p_viewer bigint)
RETURNS TABLE (message_id bigint, reactions jsonb)
LANGUAGE sql STABLE AS $$
	SELECT r.message_id, jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'me', r.me)
				       ORDER BY r.first_at, r.emoji)
	FROM (SELECT x.message_id, x.emoji, count(*) AS n,
		     coalesce(bool_or(x.user_id = p_viewer), false) AS me, min(x.created_at) AS first_at
	      FROM message_reactions x WHERE x.message_id = ANY(p_ids)
	      GROUP BY x.message_id, x.emoji) r
	GROUP BY r.message_id
$$;

-- Each given message's files that are not deleted, [File] in attachment
-- order; messages without any are left out.
CREATE FUNCTION attachments_of(p_ids bigint[])
RETURNS TABLE (message_id bigint, attachments jsonb)
LANGUAGE sql STABLE AS $$
	SELECT f.message_id, jsonb_agg(file_json(f) ORDER BY f.attach_order, f.id)
	FROM files f WHERE f.message_id = ANY(p_ids) AND f.deleted_at IS NULL
	GROUP BY f.message_id
$$;

CREATE OR REPLACE FUNCTION message_reactions_json(p_message_id bigint, p_viewer bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN coalesce((SELECT reactions FROM reactions_of(ARRAY[p_message_id], p_viewer)),
			'[]'::jsonb);
END
$$;

CREATE OR REPLACE FUNCTION message_attachments(msg_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN coalesce((SELECT attachments FROM attachments_of(ARRAY[msg_id])), '[]'::jsonb);
END
$$;

-- A LANGUAGE sql EXISTS is not inlined: it was parsed and planned on every
-- call. In plpgsql its plan is kept.
CREATE OR REPLACE FUNCTION is_member(p_chat_id bigint, p_user bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM chat_members WHERE chat_id = p_chat_id AND user_id = p_user);
END
$$;

-- As in 003_chats.sql (same answers), rendered from the page's ids.
CREATE OR REPLACE FUNCTION chat_messages(p_user bigint, p_chat_id bigint, p_before bigint,
					 p_after bigint, p_limit int) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
	page bigint[];
	has_more boolean;
	rendered jsonb;
BEGIN
	IF NOT is_member(p_chat_id, p_user) THEN
		PERFORM api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	-- One more than asked for tells whether more remain.
	IF p_after IS NOT NULL THEN
		page := ARRAY(SELECT id FROM messages WHERE chat_id = p_chat_id AND id > p_after
			      ORDER BY id LIMIT p_limit + 1);
	ELSE
		page := ARRAY(SELECT id FROM messages
			      WHERE chat_id = p_chat_id AND id < coalesce(p_before, 9223372036854775807)
			      ORDER BY id DESC LIMIT p_limit + 1);
	END IF;
	has_more := cardinality(page) > p_limit;
	page := page[1:p_limit];
	SELECT coalesce(jsonb_agg(message_object(m, coalesce(a.attachments, '[]'::jsonb),
						 coalesce(r.reactions, '[]'::jsonb)) ORDER BY m.id),
			'[]'::jsonb)
	INTO rendered
	FROM messages m
	LEFT JOIN attachments_of(page) a ON a.message_id = m.id
	LEFT JOIN reactions_of(page, p_user) r ON r.message_id = m.id
	WHERE m.id = ANY(page);
	RETURN (200, jsonb_build_object('messages', rendered, 'has_more', has_more), NULL)::api_reply;
END
$$;
