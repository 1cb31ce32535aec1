-- Message search, newest matches first from the index (issue 20): a RUM
-- index (Debian's postgresql-15-rum, a dependency: scripts/deps.sh) keeps
-- each message's id beside its lexemes, so a search for a word that few
-- messages hold takes its newest matches from the index and reads only
-- those rows, where the GIN index gives every match's row to read and sort
-- (search_messages(), functions/search.sql; docs/BENCHMARKS.md, "Message
-- search, second round"). The GIN index stays: the per-chat walk of common
-- words and searches in one chat still use it.
--
-- rum is not a trusted extension: scripts/migrate.sh runs as a superuser.
-- Building it over 1,000,000 messages takes about 40 s on the 2-core
-- machine, once.
CREATE EXTENSION IF NOT EXISTS rum WITH SCHEMA public;
CREATE INDEX IF NOT EXISTS messages_search_rum ON messages
	USING rum (search rum_tsvector_addon_ops, id) WITH (attach = 'id', to = 'search');
