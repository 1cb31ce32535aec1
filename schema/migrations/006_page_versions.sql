-- A version per chat for the pages of its history, so that a program can
-- keep a rendered page and know, with one index lookup, whether it is still
-- what a render would give (shared/pagecache.h, fcgi/messages/history.c).
--
-- chats.version grows with every committed change that a page of the chat's
-- history shows: a message added, edited or deleted, a reaction added or
-- removed, a file attached or dropped. Triggers bump it, so that no code
-- path can change a page and forget to. Each bump updates the chat's row,
-- so bumps of one chat take turns on its row lock and commit in the order
-- they were made: a snapshot that sees version N sees exactly the changes
-- behind versions 1..N, and two renders with the same version are the same.
--
-- Pages also hold signed file URLs that change with the hour
-- (file_url_period()); a kept page is stamped with both.

ALTER TABLE chats ADD COLUMN version bigint NOT NULL DEFAULT 0;

-- The triggers below: declared here, defined in functions/messages.sql
-- (schema/README.md).
CREATE FUNCTION messages_page_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;
CREATE FUNCTION messages_page_updated() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;
CREATE FUNCTION message_parts_page_changed() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;

CREATE TRIGGER messages_page_inserted AFTER INSERT ON messages
	FOR EACH ROW EXECUTE FUNCTION messages_page_inserted();

CREATE TRIGGER messages_page_updated AFTER UPDATE ON messages
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
	EXECUTE FUNCTION messages_page_updated();

CREATE TRIGGER message_reactions_page_changed AFTER INSERT OR DELETE ON message_reactions
	FOR EACH ROW EXECUTE FUNCTION message_parts_page_changed();

CREATE TRIGGER files_page_changed AFTER INSERT OR DELETE OR UPDATE OF message_id, deleted_at,
	name, size, mime ON files
	FOR EACH ROW EXECUTE FUNCTION message_parts_page_changed();
