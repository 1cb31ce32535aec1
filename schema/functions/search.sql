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

-- The text that search documents and queries are made of: lower case
-- (ICU, so that it does not depend on the database's locale: C would leave
-- Cyrillic capitals alone) without accents (unaccent's rules, which also
-- make ё е). The dictionary is named with its schema: the function must
-- work with an empty search_path, and a table's generated column calls it.
CREATE OR REPLACE FUNCTION search_norm(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN public.unaccent('public.unaccent'::regdictionary, lower(t COLLATE "und-x-icu"));

-- The search document of a text: its words as they are ('simple': any
-- language, no stop words), their English and their Russian stems
-- (PostgreSQL's snowball configurations: "messages" and "message" both
-- give "messag", "тумане" and "туман" both "туман"), plus the symbols
-- above. A word of another language gets a meaningless "stem" too, which
-- only a query word with the same stem can match.
--
-- messages.search is generated with it, and a restore inlines it when it
-- creates that table: its body is SQL-standard (RETURN), so that the
-- database records what it calls and pg_dump creates those first (a quoted
-- body records nothing). migrations/016_search_word_forms.sql has the
-- same text, with which it computed the column.
CREATE OR REPLACE FUNCTION message_tsv(t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_tsvector('simple', public.search_norm(t))
	|| to_tsvector('english', public.search_norm(t))
	|| to_tsvector('russian', public.search_norm(t))
	|| array_to_tsvector(public.search_symbols(t));

-- The query for a search string: every word must occur, in any of its
-- forms: the word itself, its English stem or its Russian stem (an OR of
-- lexemes, which the GIN index answers in the same single scan). Words
-- are split as the 'simple' configuration splits them, with no prefix
-- matching (a prefix's GIN scan costs what all its matches everywhere
-- cost). NULL when the string has no word at all.
CREATE OR REPLACE FUNCTION message_tsquery(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN count(*) = 0 THEN NULL ELSE string_agg(w.forms, ' & ')::tsquery END
	FROM (SELECT '(' || array_to_string(array(
			SELECT DISTINCT '''' || replace(replace(l, '\', '\\'), '''', '''''') || ''''
			FROM unnest(ARRAY[x] || tsvector_to_array(to_tsvector('english', x)
							 || to_tsvector('russian', x))) l), ' | ') || ')' AS forms
	      FROM unnest(tsvector_to_array(to_tsvector('simple', public.search_norm(q)))
			  || public.search_symbols(q)) x) w
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
--
-- What the caller cleared is left out by a filter the planner cannot make
-- an index condition ("cleared = 0 OR id > cleared"): as "id > cleared"
-- alone, the planner, not knowing the bound, took the chat's whole range of
-- the (chat_id, id) index into a BitmapAnd with the GIN scan, for every
-- chat and every word (0.3-6 s per search over 1M messages).
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
			  AND m.id < coalesce(p_before, 9223372036854775807)
			  AND (c.cleared = 0 OR m.id > c.cleared)
			ORDER BY m.chat_id DESC, m.id DESC LIMIT p_limit) x
	      ORDER BY x.id DESC LIMIT p_limit) h;
	RETURN (200, body, NULL)::public.api_reply;
END
$$;
