-- Search matches word forms in English and Russian, treats ё as е and
-- ignores case (API.md "Conversations"): PostgreSQL's snowball
-- configurations and unaccent (functions/search.sql, message_tsv()).

-- Debian's postgresql-15 ships it (contrib); migrate.sh runs as a
-- superuser.
CREATE EXTENSION IF NOT EXISTS unaccent;

-- messages.search is computed again for every row. The table has rows on
-- an upgrade, so this migration defines the functions the column computes
-- with as functions/search.sql does, before the column is made again
-- (schema/README.md); the functions file replaces them with the same text.
ALTER TABLE messages DROP COLUMN search;

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

CREATE OR REPLACE FUNCTION search_norm(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN public.unaccent('public.unaccent'::regdictionary, lower(t COLLATE "und-x-icu"));

CREATE OR REPLACE FUNCTION message_tsv(t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_tsvector('simple', public.search_norm(t))
	|| to_tsvector('english', public.search_norm(t))
	|| to_tsvector('russian', public.search_norm(t))
	|| array_to_tsvector(public.search_symbols(t));

ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (message_tsv(text)) STORED;
-- As 003 and 009 made it.
CREATE INDEX messages_search ON messages USING gin (chat_id, search)
	WITH (gin_pending_list_limit = 256);
