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

-- The search index (migrations/032_search_index.sql): each message
-- inserted, and each whose text changes or that is deleted, is queued; the
-- companion drains the queue into message_search, out of the writer's
-- transaction.
CREATE OR REPLACE FUNCTION messages_search_queue_new() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.message_search_queue (chat_id, id) SELECT chat_id, id FROM inserted;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION messages_search_queue_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.message_search_queue (chat_id, id) VALUES (NEW.chat_id, NEW.id);
	RETURN NULL;
END
$$;

-- Indexes the messages of the oldest p_limit rows of the queue as they are
-- now (a deleted message: out of the index), and removes those rows;
-- returns how many rows it took. A message changed after this reads it was
-- queued again by that change, in a row not taken here (each statement
-- reads what committed before it, and the rows were taken first), so the
-- index never keeps a stale text.
--
-- One drain at a time, whatever the hosts (an advisory lock, 1919 like the
-- programs' periodic jobs): another returns 0 at once and tries at its
-- next turn. Two at once could take rows of one message and both insert
-- it, the later failing on the key (an error in its log, its batch redone);
-- the database's CPU, not the drains, bounds how fast the index fills.
CREATE OR REPLACE FUNCTION search_index_drain(p_limit int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	taken bigint[];
	ids bigint[];
BEGIN
	IF NOT pg_try_advisory_xact_lock(1919, hashtext('search_index_drain')) THEN
		RETURN 0;
	END IF;
	SELECT array_agg(w.seq), array_agg(DISTINCT w.id) INTO taken, ids
	FROM (SELECT seq, id FROM public.message_search_queue ORDER BY seq LIMIT p_limit
	      FOR UPDATE SKIP LOCKED) w;
	IF taken IS NULL THEN
		RETURN 0;
	END IF;
	DELETE FROM public.message_search WHERE id = ANY(ids);
	INSERT INTO public.message_search (id, chat_id, search)
	SELECT id, chat_id, search FROM public.messages WHERE id = ANY(ids) AND deleted_at IS NULL;
	DELETE FROM public.message_search_queue WHERE seq = ANY(taken);
	RETURN cardinality(taken);
END
$$;

-- How many messages the planner expects q to match in the whole table:
-- its estimate from the statistics of messages.search (ANALYZE: the most
-- common lexemes and their frequencies; & and | combined as the planner
-- combines them). EXPLAIN of a statement with q as a constant costs a
-- planning (a fraction of a millisecond); pg_stats, read in SQL, cost ~10
-- ms a search (its arrays are decoded and cast on every read). VOLATILE:
-- EXPLAIN is not allowed otherwise.
CREATE OR REPLACE FUNCTION search_estimate(q tsquery) RETURNS float8
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	p json;
BEGIN
	EXECUTE format('EXPLAIN (FORMAT JSON) SELECT FROM public.messages WHERE search @@ %L::pg_catalog.tsquery', q)
	INTO p;
	RETURN (p->0->'Plan'->>'Plan Rows')::float8;
END
$$;

-- GET /api/search/messages: messages matching every word of p_q in the
-- caller's chats (or in p_chat_id), newest first, older than p_before.
-- Deleted messages, and what the caller cleared of a chat (chat_delete()),
-- are not found.
--
-- Words that few messages hold (at most 20,000 by search_estimate(), over
-- all chats): one scan of the RUM index of message_search, which gives the
-- matches newest first without reading them; the table is read for the
-- matches of other chats (skipped) and the p_limit returned. Its cost grows
-- with the word's matches in the whole table, as it sorts them all: ~1 ms
-- for 5,000, 170-550 ms for 150,000 on the bench's data; hence the bound.
-- The order is a distance in float8 (id <=| bound): from 2^52, not from the
-- largest bigint, where float8 cannot tell ids a few thousand apart (ids
-- stay far below 2^52; a larger one would come last, not be lost). What
-- the queue names, the index may not have yet or have stale: those
-- messages are left out of the index's answer and matched in messages.
--
-- Other words: each chat is walked backwards on its own, through its index
-- (chat_id, id), until its newest p_limit matches, and those are merged.
-- The chat is matched with "= ANY(ARRAY[c.id])", not "= c.id": an equality
-- would make chat_id a constant of the subquery, and then a backward walk
-- of the whole table by primary key also yields "newest first"; the
-- planner took that walk, which reads every message of every chat for a
-- chat where the word is rare (1.3-2 s per search over 1M messages).
--
-- What the caller cleared is left out by a filter the planner cannot make
-- an index condition ("cleared = 0 OR id > cleared"): as "id > cleared"
-- alone, the planner, not knowing the bound, took the chat's whole range
-- of the (chat_id, id) index into a scan for every chat and every word.
CREATE OR REPLACE FUNCTION search_messages(p_user bigint, p_q text, p_chat_id bigint, p_before bigint,
				p_limit int) RETURNS api_reply
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
	q tsquery := public.message_tsquery(p_q);
	older_than bigint := coalesce(p_before, 9223372036854775807);
	chat_ids bigint[];
	cleared bigint[];
	found bigint[];
	rendered text;
BEGIN
	SELECT array_agg(chat_id ORDER BY chat_id), array_agg(cleared_upto ORDER BY chat_id)
	INTO chat_ids, cleared
	FROM public.chat_members
	WHERE user_id = p_user AND (p_chat_id IS NULL OR chat_id = p_chat_id);
	IF p_chat_id IS NOT NULL AND chat_ids IS NULL THEN
		PERFORM public.api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	IF q IS NULL OR chat_ids IS NULL THEN
		RETURN (200, '{"messages": []}'::jsonb, NULL)::public.api_reply;
	END IF;
	IF public.search_estimate(q) <= 20000 THEN
		found := ARRAY(
			SELECT DISTINCT h.id
			FROM ((SELECT s.id FROM public.message_search s
			       WHERE s.search @@ q AND s.chat_id = ANY(chat_ids) AND s.id < older_than
				 AND s.id > cleared[array_position(chat_ids, s.chat_id)]
				 AND NOT EXISTS (SELECT FROM public.message_search_queue w
						 WHERE w.chat_id = s.chat_id AND w.id = s.id)
			       ORDER BY s.id OPERATOR(public.<=|) least(older_than, 4503599627370496) LIMIT p_limit)
			      UNION ALL
			      (SELECT m.id FROM public.message_search_queue w
			       JOIN public.messages m ON m.id = w.id
			       WHERE w.chat_id = ANY(chat_ids) AND m.search @@ q AND m.deleted_at IS NULL
				 AND m.id < older_than AND m.id > cleared[array_position(chat_ids, m.chat_id)])) h
			ORDER BY h.id DESC LIMIT p_limit);
	ELSE
		found := ARRAY(
			SELECT x.id
			FROM unnest(chat_ids, cleared) AS c(id, cleared)
			CROSS JOIN LATERAL (
				SELECT m.id FROM public.messages m
				WHERE m.chat_id = ANY(ARRAY[c.id]) AND m.search @@ q AND m.deleted_at IS NULL
				  AND m.id < older_than
				  AND (c.cleared = 0 OR m.id > c.cleared)
				ORDER BY m.chat_id DESC, m.id DESC LIMIT p_limit) x
			ORDER BY x.id DESC LIMIT p_limit);
	END IF;
	rendered := public.messages_text(found, p_user, true);
	RETURN (200, ('{"messages": [' || coalesce(rendered, '') || ']}')::jsonb, NULL)::public.api_reply;
END
$$;
