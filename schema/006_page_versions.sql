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

-- The hour slot whose end (plus an hour) signed URLs expire at now.
CREATE FUNCTION file_url_period() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT ceil(extract(epoch FROM now()) / 3600)::bigint
$$;

CREATE OR REPLACE FUNCTION file_url(p_id bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT '/api/files/' || p_id || '?exp=' || e.exp || '&sig=' ||
		encode(hmac(convert_to(p_id || ':' || e.exp, 'UTF8'),
			    decode(nullif(current_setting('msgr.secret', true), ''), 'hex'),
			    'sha256'), 'hex')
	FROM (SELECT file_url_period() * 3600 + 3600 AS exp) e
$$;

-- A new message also becomes the chat's last message: one update of the
-- chat's row does both (message_append no longer does the first).
CREATE FUNCTION messages_page_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE chats SET last_message_id = NEW.id, last_activity_at = NEW.created_at,
		version = version + 1
	WHERE id = NEW.chat_id;
	RETURN NULL;
END
$$;

CREATE TRIGGER messages_page_inserted AFTER INSERT ON messages
	FOR EACH ROW EXECUTE FUNCTION messages_page_inserted();

CREATE FUNCTION messages_page_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE chats SET version = version + 1 WHERE id = NEW.chat_id;
	RETURN NULL;
END
$$;

CREATE TRIGGER messages_page_updated AFTER UPDATE ON messages
	FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
	EXECUTE FUNCTION messages_page_updated();

-- Reactions and files point at a message; the chat is the message's.
CREATE FUNCTION message_parts_page_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' AND OLD.message_id IS NOT NULL THEN
		UPDATE chats SET version = version + 1
		WHERE id = (SELECT chat_id FROM messages WHERE id = OLD.message_id);
	END IF;
	IF TG_OP <> 'DELETE' AND NEW.message_id IS NOT NULL
	   AND NEW.message_id IS DISTINCT FROM (CASE WHEN TG_OP = 'UPDATE' THEN OLD.message_id END) THEN
		UPDATE chats SET version = version + 1
		WHERE id = (SELECT chat_id FROM messages WHERE id = NEW.message_id);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER message_reactions_page_changed AFTER INSERT OR DELETE ON message_reactions
	FOR EACH ROW EXECUTE FUNCTION message_parts_page_changed();

CREATE TRIGGER files_page_changed AFTER INSERT OR DELETE OR UPDATE OF message_id, deleted_at,
	name, size, mime ON files
	FOR EACH ROW EXECUTE FUNCTION message_parts_page_changed();

CREATE OR REPLACE FUNCTION message_append(p_chat_id bigint, p_sender bigint, p_kind text,
					  p_text text, p_client_id text DEFAULT NULL)
RETURNS messages
LANGUAGE plpgsql AS $$
DECLARE
	m messages;
BEGIN
	-- messages_page_inserted makes it the chat's last message.
	INSERT INTO messages (chat_id, sender_id, kind, text, client_id)
	VALUES (p_chat_id, p_sender, p_kind, p_text, p_client_id)
	ON CONFLICT (chat_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
	RETURNING * INTO m;
	RETURN m;
END
$$;
