-- Message search: the per-chat walk for common words stays within the chat
-- (docs/BENCHMARKS.md, "Message search").

-- GET /api/search/messages: messages matching every word of p_q in the
-- caller's chats (or in p_chat_id), newest first, older than p_before.
-- Deleted messages are not found.
--
-- Each chat is searched on its own for its newest p_limit hits, and those
-- are merged. Per chat the planner picks, for the actual words (custom
-- plans, see the SET below), either the GIN index (rare words: cost of the
-- hits) or a backward walk of the chat's messages (common words: stops
-- after p_limit hits).
--
-- The chat is matched with "= ANY(ARRAY[c.id])", not "= c.id": an
-- equality would make chat_id a constant of the subquery, and then a
-- backward walk of the whole table by primary key also yields "newest
-- first"; the planner took that walk for common words, which reads every
-- message of every chat for a chat where the word is rare (1.3-2 s per
-- search over 1M messages). Written this way only the chat's own index
-- (chat_id, id) gives the order, and the GIN index still takes the chat.
CREATE OR REPLACE FUNCTION search_messages(p_user bigint, p_q text, p_chat_id bigint, p_before bigint,
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
			WHERE m.chat_id = ANY(ARRAY[c.id]) AND m.search @@ q AND m.deleted_at IS NULL
			  AND m.id < coalesce(p_before, 9223372036854775807)
			ORDER BY m.chat_id DESC, m.id DESC LIMIT p_limit) x
	      ORDER BY x.id DESC LIMIT p_limit) h;
	RETURN (200, body, NULL)::api_reply;
END
$$;

-- New messages go to the GIN index's pending list (fastupdate), which every
-- search scans in full, once per chat searched: at the default 4 MB limit
-- a search for a rare word took 10-20x longer while messages were being
-- sent. A 256 kB list is merged into the index sooner (by the send that
-- fills it, or autovacuum) and costs a search little.
ALTER INDEX messages_search SET (gin_pending_list_limit = 256);
