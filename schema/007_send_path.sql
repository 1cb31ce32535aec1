-- A cheaper send (docs/BENCHMARKS.md, "Send"): the database's CPU per send
-- is what limits how many messages a second the stack takes.
--
-- emit() was a LANGUAGE sql function around an INSERT: PostgreSQL cannot
-- inline that, and parses and plans its body on every call; in plpgsql the
-- plan is kept for the session (half of its cost per event here).
CREATE OR REPLACE FUNCTION emit(p_chat_id bigint, p_kind text, p_payload jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	event_id bigint;
BEGIN
	INSERT INTO events (chat_id, kind, payload) VALUES (p_chat_id, p_kind, p_payload)
	RETURNING id INTO event_id;
	RETURN event_id;
END
$$;

-- The Message object from a row and its parts (whatever they are, a deleted
-- message shows none). message_json() looks the parts up; a page of
-- history (008) passes them in.
CREATE FUNCTION message_object(m messages, p_attachments jsonb, p_reactions jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', m.id,
		'chat_id', m.chat_id,
		'sender_id', CASE WHEN m.kind = 'service' THEN NULL ELSE m.sender_id END,
		'kind', m.kind,
		'text', CASE WHEN m.deleted_at IS NULL THEN m.text ELSE '' END,
		'created_at', api_ts(m.created_at),
		'edited_at', api_ts(m.edited_at),
		'deleted', m.deleted_at IS NOT NULL,
		'attachments', CASE WHEN m.deleted_at IS NULL THEN p_attachments ELSE '[]'::jsonb END,
		'reactions', CASE WHEN m.deleted_at IS NULL THEN p_reactions ELSE '[]'::jsonb END,
		'client_id', m.client_id)
$$;

-- The Message object as p_viewer sees it (NULL: as an event payload).
-- p_lookup_parts false: the message was just written and has no reactions
-- and no files, so the two lookups (an aggregate each) are skipped.
DROP FUNCTION message_json(messages, bigint);
CREATE FUNCTION message_json(m messages, p_viewer bigint DEFAULT NULL,
			     p_lookup_parts boolean DEFAULT true) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT message_object(m,
		CASE WHEN p_lookup_parts AND m.deleted_at IS NULL
			THEN message_attachments(m.id) ELSE '[]'::jsonb END,
		CASE WHEN p_lookup_parts AND m.deleted_at IS NULL
			THEN message_reactions_json(m.id, p_viewer) ELSE '[]'::jsonb END)
$$;

CREATE OR REPLACE FUNCTION service_message(p_chat_id bigint, p_actor bigint, p_text text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	m messages;
BEGIN
	m := message_append(p_chat_id, p_actor, 'service', p_text);
	RETURN emit(p_chat_id, 'message.created',
		    jsonb_build_object('message', message_json(m, NULL, false)));
END
$$;

-- As in 003_chats.sql, but the new message's JSON is built once, without
-- lookups when it has no files, for both the event and the answer (the
-- sender's view differs from the event's only in reactions, and a new
-- message has none).
CREATE OR REPLACE FUNCTION message_send(p_user bigint, p_chat_id bigint, p_text text,
					p_blank boolean, p_client_id text, p_file_ids bigint[],
					p_max_files int, p_rate double precision,
					p_burst double precision) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	m messages;
	with_files boolean := coalesce(cardinality(p_file_ids), 0) > 0;
	msg jsonb;
	ev bigint;
BEGIN
	PERFORM chat_lock(p_chat_id, p_user);
	IF p_client_id IS NOT NULL THEN
		SELECT * INTO m FROM messages
		WHERE chat_id = p_chat_id AND sender_id = p_user AND client_id = p_client_id;
		IF m.id IS NOT NULL THEN
			RETURN (200, message_json(m, p_user), NULL)::api_reply;
		END IF;
	END IF;
	IF p_blank AND NOT with_files THEN
		PERFORM api_field_error('text', 'a message needs text or an attachment');
	END IF;
	PERFORM send_throttle(p_user, p_rate, p_burst);
	m := message_append(p_chat_id, p_user, 'text', coalesce(p_text, ''), p_client_id);
	IF m.id IS NULL THEN
		-- Only reachable without the chat lock; kept for safety.
		SELECT * INTO m FROM messages
		WHERE chat_id = p_chat_id AND sender_id = p_user AND client_id = p_client_id;
		RETURN (200, message_json(m, p_user), NULL)::api_reply;
	END IF;
	IF with_files THEN
		-- 005_files.sql: each must be an unattached upload of the sender.
		PERFORM attach_files(m.id, p_user, p_file_ids, p_max_files);
	END IF;
	msg := message_json(m, NULL, with_files);
	ev := emit(p_chat_id, 'message.created', jsonb_build_object('message', msg));
	RETURN (201, msg, ev)::api_reply;
END
$$;
