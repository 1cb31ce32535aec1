-- Message search: the search document of a text, the query of a search
-- string, and GET /api/search/messages.

-- Symbols that the text search parser drops (or glues to words) in some
-- locales: arrows, technical symbols, dingbats, emoji. Each becomes a lexeme
-- of its own, so "🎉" can be searched for.
CREATE OR REPLACE FUNCTION search_symbols(t text) RETURNS text[]
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
--
-- messages.search is generated with it, and a restore inlines it when it
-- creates that table: its body is SQL-standard (RETURN), so that the
-- database records that it calls search_symbols() and pg_dump creates that
-- one first (a quoted body records nothing). Still inlined as before.
CREATE OR REPLACE FUNCTION message_tsv(t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_tsvector('simple', lower(t COLLATE "und-x-icu"))
	|| array_to_tsvector(public.search_symbols(t));

-- The query for a search string: every word must occur, as a whole word
-- the way the 'simple' configuration splits them (no prefix matching: a
-- prefix's GIN scan costs what all its matches everywhere cost). NULL when
-- the string has no word at all.
CREATE OR REPLACE FUNCTION message_tsquery(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN cardinality(l) = 0 THEN NULL ELSE
		array_to_string(array(
			SELECT '''' || replace(replace(x, '\', '\\'), '''', '''''') || ''''
			FROM unnest(l) x), ' & ')::tsquery END
	FROM (SELECT tsvector_to_array(public.message_tsv(q)) AS l) s
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
	q tsquery := public.message_tsquery(p_q);
	chat_ids bigint[];
	cleared bigint[];
	body jsonb;
BEGIN
	-- (What the caller cleared of a chat, chat_delete(), is not searched.)
	SELECT array_agg(chat_id ORDER BY chat_id), array_agg(cleared_upto ORDER BY chat_id)
	INTO chat_ids, cleared
	FROM public.chat_members
	WHERE user_id = p_user AND (p_chat_id IS NULL OR chat_id = p_chat_id);
	IF p_chat_id IS NOT NULL AND chat_ids IS NULL THEN
		PERFORM public.api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	IF q IS NULL THEN
		RETURN (200, '{"messages": []}'::jsonb, NULL)::public.api_reply;
	END IF;
	SELECT jsonb_build_object('messages', coalesce(jsonb_agg(public.message_json(h.msg, p_user)
		ORDER BY h.id DESC), '[]'::jsonb))
	INTO body
	FROM (SELECT x.msg, x.id
	      FROM unnest(chat_ids, cleared) AS c(id, cleared)
	      CROSS JOIN LATERAL (
			SELECT m AS msg, m.id FROM public.messages m
			WHERE m.chat_id = ANY(ARRAY[c.id]) AND m.search @@ q AND m.deleted_at IS NULL
			  AND m.id < coalesce(p_before, 9223372036854775807) AND m.id > c.cleared
			ORDER BY m.chat_id DESC, m.id DESC LIMIT p_limit) x
	      ORDER BY x.id DESC LIMIT p_limit) h;
	RETURN (200, body, NULL)::public.api_reply;
END
$$;
