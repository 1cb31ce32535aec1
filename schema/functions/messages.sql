-- Messages: the Message object, history pages and their version triggers
-- (migrations/006_page_versions.sql), sends (one, with files, a batch),
-- edits, deletes, reactions and read and delivered markers (fcgi/messages).

-- Distinct reactions a message may carry.
CREATE OR REPLACE FUNCTION max_reactions() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 64 $$;

-- Each given message's reactions, [{emoji, count, me}] in the order they
-- first appeared; messages without any are left out. Inlined into the
-- caller (a single SELECT), so it is planned with it.
CREATE OR REPLACE FUNCTION reactions_of(p_ids bigint[], p_viewer bigint)
RETURNS TABLE (message_id bigint, reactions jsonb)
LANGUAGE sql STABLE AS $$
	SELECT r.message_id, jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'me', r.me)
				       ORDER BY r.first_at, r.emoji)
	FROM (SELECT x.message_id, x.emoji, count(*) AS n,
		     coalesce(bool_or(x.user_id = p_viewer), false) AS me, min(x.created_at) AS first_at
	      FROM public.message_reactions x WHERE x.message_id = ANY(p_ids)
	      GROUP BY x.message_id, x.emoji) r
	GROUP BY r.message_id
$$;

CREATE OR REPLACE FUNCTION message_reactions_json(p_message_id bigint, p_viewer bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN coalesce((SELECT reactions FROM public.reactions_of(ARRAY[p_message_id], p_viewer)),
			'[]'::jsonb);
END
$$;

-- The quote of a reply: the answered message as it is now, {id,
-- sender_id, text (its first 200 code points, "" once deleted), deleted,
-- attachments_count}; NULL when the row is gone. Looked up per reply: the
-- message it answers is in the same chat, so an edit or delete of it
-- bumps the version of every page that shows the quote.
CREATE OR REPLACE FUNCTION message_quote(p_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	q public.messages;
BEGIN
	SELECT * INTO q FROM public.messages WHERE id = p_id;
	IF q.id IS NULL THEN
		RETURN NULL;
	END IF;
	RETURN jsonb_build_object(
		'id', q.id,
		'sender_id', CASE WHEN q.kind = 'service' THEN NULL ELSE q.sender_id END,
		'text', CASE WHEN q.deleted_at IS NULL THEN left(q.text, 200) ELSE '' END,
		'deleted', q.deleted_at IS NOT NULL,
		'attachments_count', CASE WHEN q.deleted_at IS NOT NULL THEN 0 ELSE
			(SELECT count(*) FROM public.files f
			 WHERE f.message_id = q.id AND f.deleted_at IS NULL) END);
END
$$;

-- The Message object from a row and its parts (whatever they are, a deleted
-- message shows none, nor a quote, forward, mentions or pin), as the text
-- jsonb prints: keys in jsonb's order (by length, then bytes), ", " and
-- ": " between, strings escaped by to_json() (the escaping jsonb prints
-- with), the parts' jsonb text set in as they are. Written as text because
-- a page of history (chat_page) is 50 of these: jsonb_build_object() costs
-- ~1 us a field (each value typed, converted, the keys sorted), and a
-- rendered page 3-4 times what this does (docs/BENCHMARKS.md, "Newest 50,
-- every page rendered"). message_object() is this, parsed: one place
-- says what a Message holds; tests/integration/test_history_render.py
-- compares the two over every kind of message.
CREATE OR REPLACE FUNCTION message_text(m messages, p_attachments text, p_reactions text)
RETURNS text LANGUAGE sql STABLE AS $$
	SELECT '{"id": ' || m.id
		|| ', "kind": ' || coalesce(to_json(m.kind)::text, 'null')
		|| ', "text": ' || coalesce(to_json(CASE WHEN m.deleted_at IS NULL THEN m.text ELSE '' END)::text,
					   'null')
		|| ', "pinned": ' || CASE WHEN m.pinned_at IS NOT NULL AND m.deleted_at IS NULL
			THEN 'true' ELSE 'false' END
		|| ', "chat_id": ' || coalesce(m.chat_id::text, 'null')
		|| ', "deleted": ' || CASE WHEN m.deleted_at IS NOT NULL THEN 'true' ELSE 'false' END
		-- A service message's data (service_text()), null where it is
		-- not known (a row older than migration 028 it could not read).
		|| CASE WHEN m.kind = 'service' THEN ', "service": ' || coalesce(m.service::text, 'null')
			ELSE '' END
		|| ', "mentions": ' || CASE WHEN m.deleted_at IS NULL
			THEN coalesce(to_jsonb(m.mentions)::text, 'null') ELSE '[]' END
		|| ', "reply_to": ' || coalesce(CASE WHEN m.reply_to_id IS NOT NULL AND m.deleted_at IS NULL
			THEN public.message_quote(m.reply_to_id)::text END, 'null')
		|| ', "client_id": ' || coalesce(to_json(m.client_id)::text, 'null')
		|| ', "edited_at": ' || coalesce('"' || public.api_ts(m.edited_at) || '"', 'null')
		|| ', "reactions": ' || CASE WHEN m.deleted_at IS NULL THEN coalesce(p_reactions, 'null')
			ELSE '[]' END
		|| ', "sender_id": ' || coalesce(CASE WHEN m.kind = 'service' THEN NULL
			ELSE m.sender_id END::text, 'null')
		|| ', "created_at": ' || coalesce('"' || public.api_ts(m.created_at) || '"', 'null')
		|| ', "attachments": ' || CASE WHEN m.deleted_at IS NULL THEN coalesce(p_attachments, 'null')
			ELSE '[]' END
		|| ', "forwarded_from": ' || coalesce(CASE WHEN m.deleted_at IS NULL
			THEN m.forwarded_from END::text, 'null')
		|| '}'
$$;

-- message_text() as jsonb, for one message (sends, events, edits): parsing
-- the text costs what building the jsonb did (measured).
CREATE OR REPLACE FUNCTION message_object(m messages, p_attachments jsonb, p_reactions jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT public.message_text(m, p_attachments::text, p_reactions::text)::jsonb
$$;

-- The members of p_chat_id that p_text names as @username, in the order
-- first named. A username is [a-z0-9_.]{3,32}, so a name is taken as
-- written and without the dots that end it ("ask @bob." names bob); it is
-- not one when glued to a word before it ("me@bob.org").
CREATE OR REPLACE FUNCTION message_mentions(p_chat_id bigint, p_text text) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF p_text IS NULL OR strpos(p_text, '@') = 0 THEN
		RETURN '{}';
	END IF;
	RETURN ARRAY(
		SELECT u.id
		FROM (SELECT lower(x.m[1]) AS name, x.n
		      FROM regexp_matches(p_text, '(?:^|[^A-Za-z0-9_.@])@([A-Za-z0-9_.]{3,32})', 'g')
			WITH ORDINALITY AS x(m, n)) w
		JOIN public.users u ON u.username IN (w.name, rtrim(w.name, '.'))
		JOIN public.chat_members cm ON cm.chat_id = p_chat_id AND cm.user_id = u.id
		GROUP BY u.id ORDER BY min(w.n), u.id);
END
$$;

CREATE OR REPLACE FUNCTION message_json(m messages, p_viewer bigint DEFAULT NULL,
			     p_lookup_parts boolean DEFAULT true) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT public.message_object(m,
		CASE WHEN p_lookup_parts AND m.deleted_at IS NULL
			THEN public.message_attachments(m.id) ELSE '[]'::jsonb END,
		CASE WHEN p_lookup_parts AND m.deleted_at IS NULL
			THEN public.message_reactions_json(m.id, p_viewer) ELSE '[]'::jsonb END)
$$;

-- A new message; a text message's mentions are computed here. NULL when
-- p_client_id was used before (by this sender in this chat).
CREATE OR REPLACE FUNCTION message_append(p_chat_id bigint, p_sender bigint, p_kind text,
					  p_text text, p_client_id text DEFAULT NULL,
					  p_reply_to bigint DEFAULT NULL,
					  p_forwarded_from jsonb DEFAULT NULL,
					  p_service jsonb DEFAULT NULL)
RETURNS messages
LANGUAGE plpgsql AS $$
DECLARE
	m public.messages;
BEGIN
	-- messages_page_inserted makes it the chat's last message.
	INSERT INTO public.messages (chat_id, sender_id, kind, text, client_id, reply_to_id,
				     forwarded_from, mentions, service)
	VALUES (p_chat_id, p_sender, p_kind, p_text, p_client_id, p_reply_to, p_forwarded_from,
		CASE WHEN p_kind = 'text' THEN public.message_mentions(p_chat_id, p_text) ELSE '{}' END,
		p_service)
	ON CONFLICT (chat_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
	RETURNING * INTO m;
	RETURN m;
END
$$;

-- A service message's English text, from its data (messages.service;
-- migrations/028_service_data.sql): what API clients and old apps show,
-- with the names as they are when it is written. The app says it in the
-- reader's language from the data. The types, and what else each holds
-- besides "type":
--   group.created, group.renamed  actor, title
--   member.added, member.removed  actor, users [the one added/removed]
--   member.left                   actor
--   owner.handed                  actor, users [the new owner]
--   owner.inherited               users [the new owner, after the owner left]
--   message.pinned                actor, message_id, text (its first 50
--                                 characters, "" when it has none)
--   welcome                       users [the new account]
CREATE OR REPLACE FUNCTION service_text(p_data jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	actor text := public.user_name((p_data->>'actor')::bigint);
	other text := public.user_name((p_data->'users'->>0)::bigint);
	quoted text := p_data->>'text';
BEGIN
	RETURN CASE p_data->>'type'
		WHEN 'group.created' THEN format('%s created the group “%s”', actor, p_data->>'title')
		WHEN 'group.renamed' THEN format('%s renamed the group to “%s”', actor, p_data->>'title')
		WHEN 'member.added' THEN format('%s added %s', actor, other)
		WHEN 'member.removed' THEN format('%s removed %s', actor, other)
		WHEN 'member.left' THEN format('%s left', actor)
		WHEN 'owner.handed' THEN format('%s made %s the owner', actor, other)
		WHEN 'owner.inherited' THEN format('%s is now the owner', other)
		WHEN 'message.pinned' THEN format('%s pinned “%s”', actor,
			CASE WHEN coalesce(quoted, '') = '' THEN 'a message' ELSE quoted END)
		WHEN 'welcome' THEN format('Welcome to Messenger, %s! Find people with the search box '
			'to start a conversation, or create a group and invite friends.', other)
		END;
END
$$;

-- A service message of p_data (service_text() lists its types); its
-- sender_id is the actor, if any. Returns the event id.
CREATE OR REPLACE FUNCTION service_message(p_chat_id bigint, p_data jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	m public.messages;
BEGIN
	m := public.message_append(p_chat_id, (p_data->>'actor')::bigint, 'service',
				   public.service_text(p_data), NULL, NULL, NULL, p_data);
	RETURN public.emit(p_chat_id, 'message.created',
		    jsonb_build_object('message', public.message_json(m, NULL, false)));
END
$$;

-- A message p_user can see (a member of its chat), locked as asked; 404
-- otherwise. p_lock is 'update' (edits, deletes) or 'share' (reactions: a
-- concurrent delete waits, or is waited for).
CREATE OR REPLACE FUNCTION message_visible(p_message_id bigint, p_user bigint, p_lock text) RETURNS messages
LANGUAGE plpgsql AS $$
DECLARE
	m public.messages;
BEGIN
	IF p_lock = 'update' THEN
		SELECT * INTO m FROM public.messages WHERE id = p_message_id FOR NO KEY UPDATE;
	ELSE
		SELECT * INTO m FROM public.messages WHERE id = p_message_id FOR SHARE;
	END IF;
	IF m.id IS NULL OR NOT public.is_member(m.chat_id, p_user) THEN
		PERFORM public.api_error(404, 'message_not_found', 'no such message');
	END IF;
	RETURN m;
END
$$;

-- ---- page versions (migrations/006_page_versions.sql) -------------------------
-- Triggers bump chats.version with every change a page of history shows.

-- New messages, once per statement and chat: each chat's row takes its last
-- message and a new version in one update, the rows in id order (the order
-- chat locks are taken in everywhere), so two statements never wait for each
-- other (migrations/011_send_batch.sql).
CREATE OR REPLACE FUNCTION messages_page_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	chat_ids bigint[];
	last_ids bigint[];
	last_ats timestamptz[];
BEGIN
	SELECT array_agg(chat_id ORDER BY chat_id), array_agg(id ORDER BY chat_id),
		array_agg(at ORDER BY chat_id)
	INTO chat_ids, last_ids, last_ats
	FROM (SELECT chat_id, max(id) AS id, max(created_at) AS at
	      FROM inserted GROUP BY chat_id) s;
	-- "= ANY" keeps the planner on the primary key: it cannot know how
	-- few rows a transition table holds.
	UPDATE public.chats c SET last_message_id = n.id, last_activity_at = n.at,
		version = c.version + 1
	FROM unnest(chat_ids, last_ids, last_ats) AS n(chat_id, id, at)
	WHERE c.id = n.chat_id AND c.id = ANY(chat_ids);
	RETURN NULL;
END
$$;

-- A message edited or deleted.
CREATE OR REPLACE FUNCTION messages_page_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE public.chats SET version = version + 1 WHERE id = NEW.chat_id;
	RETURN NULL;
END
$$;

-- Reactions and files point at a message; the chat is the message's.
CREATE OR REPLACE FUNCTION message_parts_page_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' AND OLD.message_id IS NOT NULL THEN
		UPDATE public.chats SET version = version + 1
		WHERE id = (SELECT chat_id FROM public.messages WHERE id = OLD.message_id);
	END IF;
	IF TG_OP <> 'DELETE' AND NEW.message_id IS NOT NULL
	   AND NEW.message_id IS DISTINCT FROM (CASE WHEN TG_OP = 'UPDATE' THEN OLD.message_id END) THEN
		UPDATE public.chats SET version = version + 1
		WHERE id = (SELECT chat_id FROM public.messages WHERE id = NEW.message_id);
	END IF;
	RETURN NULL;
END
$$;

-- The messages p_ids as p_viewer sees them, as the text of a JSON array's
-- elements (", " between them), by id, oldest first or newest first: one
-- lookup of their files and reactions, each Message built by
-- message_text(). NULL for none. plpgsql, so that its plan is kept for
-- the session (a LANGUAGE sql function is planned again on every call
-- from plpgsql).
CREATE OR REPLACE FUNCTION messages_text(p_ids bigint[], p_viewer bigint, p_newest_first boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT string_agg(public.message_text(m, coalesce(a.attachments::text, '[]'),
						      coalesce(r.reactions::text, '[]')), ', '
				  ORDER BY CASE WHEN p_newest_first THEN -m.id ELSE m.id END)
		FROM public.messages m
		LEFT JOIN public.attachments_of(p_ids) a ON a.message_id = m.id
		LEFT JOIN public.reactions_of(p_ids, p_viewer) r ON r.message_id = m.id
		WHERE m.id = ANY(p_ids));
END
$$;

-- A page of history, {"has_more", "messages"}, as the text jsonb prints
-- (message_text()): the program sends it as it comes (HISTORY_RENDER_SQL).
-- Rendered from the page's ids by messages_text() (docs/BENCHMARKS.md,
-- "Read the newest 50 messages").
CREATE OR REPLACE FUNCTION chat_page(p_user bigint, p_chat_id bigint, p_before bigint,
				     p_after bigint, p_limit int) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	cleared bigint;
	page bigint[];
	has_more boolean;
	rendered text;
BEGIN
	SELECT cleared_upto INTO cleared FROM public.chat_members
	WHERE chat_id = p_chat_id AND user_id = p_user;
	IF NOT FOUND THEN
		PERFORM public.api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	-- One more than asked for tells whether more remain. What the viewer
	-- cleared is not shown (such a page is the viewer's own: the program
	-- keeps none, HISTORY_STAMP_SQL).
	IF p_after IS NOT NULL THEN
		page := ARRAY(SELECT id FROM public.messages
			      WHERE chat_id = p_chat_id AND id > greatest(p_after, cleared)
			      ORDER BY id LIMIT p_limit + 1);
	ELSE
		page := ARRAY(SELECT id FROM public.messages
			      WHERE chat_id = p_chat_id AND id < coalesce(p_before, 9223372036854775807)
				AND id > cleared
			      ORDER BY id DESC LIMIT p_limit + 1);
	END IF;
	has_more := cardinality(page) > p_limit;
	page := page[1:p_limit];
	rendered := public.messages_text(page, p_user, false);
	RETURN '{"has_more": ' || CASE WHEN has_more THEN 'true' ELSE 'false' END
		|| ', "messages": [' || coalesce(rendered, '') || ']}';
END
$$;

-- chat_page() as an api_reply, for SQL callers (export_messages()).
CREATE OR REPLACE FUNCTION chat_messages(p_user bigint, p_chat_id bigint, p_before bigint,
					 p_after bigint, p_limit int) RETURNS api_reply
LANGUAGE sql STABLE AS $$
	SELECT (200, public.chat_page(p_user, p_chat_id, p_before, p_after, p_limit)::jsonb,
		NULL)::public.api_reply
$$;

-- Takes one token from the user's bucket (rate tokens a second, at most
-- burst); raises 429 with the seconds to wait in HINT (the C side turns it
-- into Retry-After) when there is none. rate <= 0 turns the limit off.
CREATE OR REPLACE FUNCTION send_throttle(p_user bigint, p_rate double precision, p_burst double precision)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	left_ double precision;
BEGIN
	IF p_rate IS NULL OR p_rate <= 0 THEN
		RETURN;
	END IF;
	INSERT INTO public.send_buckets AS b (user_id, tokens, at)
	VALUES (p_user, p_burst - 1, clock_timestamp())
	ON CONFLICT (user_id) DO UPDATE SET
		tokens = least(p_burst, b.tokens
			+ extract(epoch FROM clock_timestamp() - b.at)::double precision * p_rate) - 1,
		at = clock_timestamp()
	RETURNING tokens INTO left_;
	IF left_ < 0 THEN
		-- The transaction rolls back: a refused send takes no token.
		RAISE EXCEPTION USING ERRCODE = 'M0429', MESSAGE = 'rate_limited',
			DETAIL = 'too many messages; slow down',
			HINT = greatest(1, ceil(-left_ / p_rate))::int::text;
	END IF;
END
$$;

-- The tokens in a bucket at p_at: refilled at p_rate a second, at most
-- p_burst (an inlined expression).
CREATE OR REPLACE FUNCTION bucket_tokens(b send_buckets, p_at timestamptz, p_rate double precision,
			      p_burst double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
	SELECT greatest(0, least(p_burst, b.tokens
		+ extract(epoch FROM p_at - b.at)::double precision * p_rate))
$$;

-- POST /api/chats/{id}/messages. p_blank: the text is empty or white space
-- (the C side trims with Unicode white space). A client_id seen before from
-- this sender in this chat returns that message with 200 and changes
-- nothing. Then the rate limit, the message, its files, message.created.
-- The new message's JSON is built once, without
-- lookups when it has no files, for both the event and the answer (the
-- sender's view differs from the event's only in reactions, and a new
-- message has none).
CREATE OR REPLACE FUNCTION message_send(p_user bigint, p_chat_id bigint, p_text text,
					p_blank boolean, p_client_id text, p_file_ids bigint[],
					p_max_files int, p_rate double precision,
					p_burst double precision, p_reply_to bigint DEFAULT NULL)
RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	m public.messages;
	with_files boolean := coalesce(cardinality(p_file_ids), 0) > 0;
	msg jsonb;
	ev bigint;
BEGIN
	PERFORM public.chat_lock(p_chat_id, p_user);
	IF p_client_id IS NOT NULL THEN
		SELECT * INTO m FROM public.messages
		WHERE chat_id = p_chat_id AND sender_id = p_user AND client_id = p_client_id;
		IF m.id IS NOT NULL THEN
			RETURN (200, public.message_json(m, p_user), NULL)::public.api_reply;
		END IF;
	END IF;
	PERFORM public.send_blocked_check(p_user, p_chat_id);
	IF p_blank AND NOT with_files THEN
		PERFORM public.api_field_error('text', 'a message needs text or an attachment');
	END IF;
	IF p_reply_to IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM public.messages WHERE id = p_reply_to AND chat_id = p_chat_id) THEN
		PERFORM public.api_field_error('reply_to_id', 'must be a message of this chat');
	END IF;
	PERFORM public.send_throttle(p_user, p_rate, p_burst);
	m := public.message_append(p_chat_id, p_user, 'text', coalesce(p_text, ''), p_client_id,
				   p_reply_to);
	IF m.id IS NULL THEN
		-- Only reachable without the chat lock; kept for safety.
		SELECT * INTO m FROM public.messages
		WHERE chat_id = p_chat_id AND sender_id = p_user AND client_id = p_client_id;
		RETURN (200, public.message_json(m, p_user), NULL)::public.api_reply;
	END IF;
	IF with_files THEN
		-- files.sql: each must be an unattached upload of the sender.
		PERFORM public.attach_files(m.id, p_user, p_file_ids, p_max_files);
	END IF;
	msg := public.message_json(m, NULL, with_files);
	ev := public.emit(p_chat_id, 'message.created', jsonb_build_object('message', msg));
	RETURN (201, msg, ev)::public.api_reply;
END
$$;

-- POST /api/chats/{id}/messages as multipart/form-data: the files the
-- program received (the arrays of upload_sql_arrays(), shared/upload.h)
-- become uploads of the sender (files_add() of files.sql) and the new
-- message's attachments, in the same transaction (within p_quota, as
-- files_add() checks it). A repeated client_id
-- returns the first message and stores no file.
CREATE OR REPLACE FUNCTION message_send_upload(p_user bigint, p_chat_id bigint, p_text text,
				    p_blank boolean, p_client_id text, p_names text[],
				    p_sizes bigint[], p_mimes text[], p_keys text[],
				    p_max_files int, p_rate double precision,
				    p_burst double precision, p_reply_to bigint DEFAULT NULL,
				    p_quota bigint DEFAULT NULL)
RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[] := '{}';
BEGIN
	PERFORM public.chat_lock(p_chat_id, p_user);
	IF cardinality(p_names) > p_max_files THEN
		PERFORM public.api_error(413, 'too_many_attachments',
			format('a message may carry at most %s attachments', p_max_files));
	END IF;
	IF cardinality(p_names) > 0 AND NOT (p_client_id IS NOT NULL AND EXISTS (
			SELECT 1 FROM public.messages WHERE chat_id = p_chat_id
			AND sender_id = p_user AND client_id = p_client_id)) THEN
		SELECT array_agg(f.id ORDER BY f.id) INTO ids
		FROM public.files_add(p_user, 'upload', p_names, p_sizes, p_mimes, p_keys, p_quota) f;
	END IF;
	RETURN public.message_send(p_user, p_chat_id, p_text, p_blank, p_client_id, ids, p_max_files,
			    p_rate, p_burst, p_reply_to);
END
$$;

-- Sends text messages, item i being p_users[i] sending p_texts[i] with
-- p_client_ids[i] (NULL: none) into p_chats[i], with the access token of
-- login session p_sids[i] (NULL: a token without sid), each as
-- message_send() would with no files. Returns a row (ord = i, status, the Message) for
-- each item it answers, in item order: 201 for a message it wrote (one
-- message.created event each, and one NOTIFY of msgr_events for all), 200
-- for a repeat. Any other item is left to message_send() by the caller,
-- alone, which answers it exactly: the sender is not a member (404), its
-- rate limit refuses it (429), an earlier item of the batch has the
-- same client_id, a member of the chat blocked the sender, or the
-- sender's login session ended (401 from live_session_user()). Items must not be blank (422 is message_send()'s).
--
-- Two statements: the chat locks, then everything else, which therefore
-- sees every message committed before the locks were held. Locks are taken
-- as everywhere: the chats in id order, then the send buckets in user order.
CREATE OR REPLACE FUNCTION message_send_batch(p_users bigint[], p_chats bigint[], p_texts text[],
				   p_client_ids text[], p_sids bigint[], p_rate double precision,
				   p_burst double precision)
RETURNS TABLE (ord int, status int, body jsonb)
LANGUAGE plpgsql
-- A custom plan of the big statement took longer to make (~400 µs) than a
-- batch of one takes to write; the generic plan suits every batch size.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	at_ timestamptz := clock_timestamp();
	limited boolean := p_rate > 0;
BEGIN
	PERFORM 1 FROM public.chats WHERE id = ANY(p_chats) ORDER BY id FOR NO KEY UPDATE;
	RETURN QUERY
	WITH item AS (
		SELECT i.n::int AS n, i.u, i.c, i.k
		FROM unnest(p_users, p_chats, p_client_ids, p_sids) WITH ORDINALITY AS i(u, c, k, s, n)
		-- A send whose login session ended (p_sids, NULL for a token
		-- without one) goes alone, where live_session_user() answers it
		-- 401: the others are not failed with it.
		WHERE public.session_live(i.u, i.s)
		  AND EXISTS (SELECT 1 FROM public.chat_members cm
			      WHERE cm.chat_id = i.c AND cm.user_id = i.u)
		  -- A sender a member of the chat blocked goes alone: message_send()
		  -- answers it (403 in a direct chat). The lookup starts at the
		  -- sender's blocks, of which there are seldom any.
		  AND NOT EXISTS (SELECT 1 FROM public.user_blocks b
				  JOIN public.chat_members o ON o.chat_id = i.c AND o.user_id = b.blocker_id
				  WHERE b.blocked_id = i.u)
	), repeated AS (
		SELECT i.n, i.u, m
		FROM item i JOIN public.messages m
			ON m.chat_id = i.c AND m.sender_id = i.u AND m.client_id = i.k
	), fresh AS (
		SELECT i.n, i.u, row_number() OVER (PARTITION BY i.u ORDER BY i.n) AS rank
		FROM item i
		WHERE i.k IS NULL OR (
			NOT EXISTS (SELECT 1 FROM repeated r WHERE r.n = i.n)
			AND NOT EXISTS (SELECT 1 FROM item j
					WHERE j.n < i.n AND j.u = i.u AND j.c = i.c AND j.k = i.k))
	), taken AS (
		-- As send_throttle(): a new bucket is full, a send takes a whole
		-- token, and a user's sends take them in item order. "granted"
		-- carries the number wanted in and the number taken out.
		INSERT INTO public.send_buckets AS b (user_id, tokens, at, granted)
		SELECT w.u, p_burst - least(w.n, floor(p_burst)), at_, least(w.n, floor(p_burst))
		FROM (SELECT u, count(*) AS n FROM fresh WHERE limited GROUP BY u) w
		ORDER BY w.u
		ON CONFLICT (user_id) DO UPDATE SET
			tokens = public.bucket_tokens(b, at_, p_rate, p_burst)
				- least(EXCLUDED.granted, floor(public.bucket_tokens(b, at_, p_rate, p_burst))),
			at = at_,
			granted = least(EXCLUDED.granted, floor(public.bucket_tokens(b, at_, p_rate, p_burst)))
		RETURNING b.user_id, b.granted
	), accepted AS (
		SELECT f.n, nextval('public.messages_id_seq') AS id
		FROM fresh f LEFT JOIN taken t ON t.user_id = f.u
		WHERE NOT limited OR f.rank <= t.granted
	), m AS (
		-- The ids were drawn first so that each row can be matched to its item.
		INSERT INTO public.messages (id, chat_id, sender_id, kind, text, client_id, mentions)
		OVERRIDING SYSTEM VALUE
		SELECT a.id, p_chats[a.n], p_users[a.n], 'text', p_texts[a.n], p_client_ids[a.n],
			public.message_mentions(p_chats[a.n], p_texts[a.n])
		FROM accepted a ORDER BY a.id
		RETURNING *
	), e AS (
		INSERT INTO public.events (chat_id, kind, payload)
		SELECT m.chat_id, 'message.created',
			jsonb_build_object('message', public.message_json(m::public.messages, NULL, false))
		FROM m ORDER BY m.id
		RETURNING events.id, events.payload
	), woken AS (
		-- wsd reads every event after the last it saw: one wake-up for
		-- the batch, sent at its commit (a round trip less than after it).
		SELECT pg_notify('msgr_events', max(e.id)::text) FROM e HAVING count(*) > 0
	)
	SELECT s.n, s.status, s.body FROM (
		SELECT a.n, 201 AS status, e.payload->'message' AS body
		FROM e JOIN accepted a ON a.id = (e.payload->'message'->>'id')::bigint
			CROSS JOIN woken
		UNION ALL
		SELECT r.n, 200, public.message_json(r.m, r.u) FROM repeated r
	) s ORDER BY s.n;
END
$$;

-- POST /api/messages/{id}/forward {chat_ids}: a copy of the message (its
-- text and files) in each chat, in the order given, marked with the
-- original's sender, name and time (a copy forwarded again keeps the first
-- original). The caller sees the message and is a member of each chat
-- (404 otherwise); each copy takes a token of the send rate limit. The
-- copies' files name the original's stored bytes (storage_purge() keeps
-- them while any row does), so deleting the original leaves the copies
-- whole. Events: message.created in each chat.
CREATE OR REPLACE FUNCTION message_forward(p_user bigint, p_message_id bigint, p_chat_ids bigint[],
				p_rate double precision, p_burst double precision)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	targets bigint[];
	missing bigint;
	m public.messages;
	copy public.messages;
	origin jsonb;
	c bigint;
	out jsonb := '[]';
	ev bigint;
BEGIN
	SELECT array_agg(x ORDER BY n) INTO targets
	FROM (SELECT x, min(n) AS n FROM unnest(p_chat_ids) WITH ORDINALITY AS t(x, n) GROUP BY x) s;
	-- Chat locks first, in id order, as every writer takes them; then the
	-- message, shared: a concurrent delete waits, or is waited for.
	PERFORM 1 FROM public.chats WHERE id = ANY(targets) ORDER BY id FOR NO KEY UPDATE;
	m := public.message_visible(p_message_id, p_user, 'share');
	SELECT x INTO missing FROM unnest(targets) WITH ORDINALITY AS t(x, n)
	WHERE NOT public.is_member(x, p_user) ORDER BY n LIMIT 1;
	IF missing IS NOT NULL THEN
		PERFORM public.api_error(404, 'chat_not_found', format('no chat with id %s', missing));
	END IF;
	IF m.deleted_at IS NOT NULL THEN
		PERFORM public.api_error(409, 'message_deleted', 'this message was deleted');
	END IF;
	IF m.kind <> 'text' THEN
		PERFORM public.api_error(409, 'not_forwardable', 'a service message cannot be forwarded');
	END IF;
	origin := coalesce(m.forwarded_from, jsonb_build_object(
		'sender_id', m.sender_id,
		'sender_name', public.user_name(m.sender_id),
		'created_at', public.api_ts(m.created_at)));
	FOREACH c IN ARRAY targets LOOP
		PERFORM public.send_blocked_check(p_user, c);
		PERFORM public.send_throttle(p_user, p_rate, p_burst);
		copy := public.message_append(c, p_user, 'text', m.text, NULL, NULL, origin);
		INSERT INTO public.files (uploader_id, kind, name, size, mime, storage_key, message_id,
					  attach_order, created_at)
		SELECT f.uploader_id, f.kind, f.name, f.size, f.mime, f.storage_key, copy.id,
			f.attach_order, f.created_at
		FROM public.files f WHERE f.message_id = m.id AND f.deleted_at IS NULL
		ORDER BY f.attach_order, f.id;
		ev := public.emit(c, 'message.created',
			jsonb_build_object('message', public.message_json(copy)));
		out := out || jsonb_build_array(public.message_json(copy, p_user));
	END LOOP;
	RETURN (201, jsonb_build_object('messages', out), ev)::public.api_reply;
END
$$;

-- PATCH /api/messages/{id} {text}: the sender only; 409 once deleted.
-- An edit takes a token of the sender's send bucket (send_throttle): each
-- one is broadcast to every member like a new message, so a burst of them
-- costs the same.
CREATE OR REPLACE FUNCTION message_edit(p_user bigint, p_message_id bigint, p_text text, p_blank boolean,
			 p_rate double precision, p_burst double precision)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	m public.messages := public.message_visible(p_message_id, p_user, 'update');
	ev bigint;
BEGIN
	IF m.kind <> 'text' OR m.sender_id IS DISTINCT FROM p_user THEN
		PERFORM public.api_error(403, 'not_sender', 'only the sender can edit a message');
	END IF;
	IF m.deleted_at IS NOT NULL THEN
		PERFORM public.api_error(409, 'message_deleted', 'this message was deleted');
	END IF;
	IF p_blank AND public.message_attachments(m.id) = '[]'::jsonb THEN
		PERFORM public.api_field_error('text', 'a message needs text or an attachment');
	END IF;
	PERFORM public.send_throttle(p_user, p_rate, p_burst);
	UPDATE public.messages SET text = p_text, edited_at = now(),
		mentions = public.message_mentions(m.chat_id, p_text)
	WHERE id = m.id RETURNING * INTO m;
	ev := public.emit(m.chat_id, 'message.updated', jsonb_build_object('message', public.message_json(m)));
	RETURN (200, public.message_json(m, p_user), ev)::public.api_reply;
END
$$;

-- DELETE /api/messages/{id}: the sender, or the owner of a group. A soft
-- delete: the row stays with its id and times, its text, reactions and
-- files go. Deleting a deleted message is a no-op.
CREATE OR REPLACE FUNCTION message_delete(p_user bigint, p_message_id bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
DECLARE
	m public.messages := public.message_visible(p_message_id, p_user, 'update');
	ev bigint;
BEGIN
	IF NOT ((m.kind = 'text' AND m.sender_id = p_user) OR EXISTS (
			SELECT 1 FROM public.chat_members cm JOIN public.chats c ON c.id = cm.chat_id
			WHERE cm.chat_id = m.chat_id AND cm.user_id = p_user
			  AND cm.role = 'owner' AND c.type = 'group')) THEN
		PERFORM public.api_error(403, 'not_allowed',
			'only the sender or the owner of the group can delete this message');
	END IF;
	IF m.deleted_at IS NOT NULL THEN
		RETURN (204, NULL, NULL)::public.api_reply;
	END IF;
	ev := public.message_soft_delete(m);
	RETURN (204, NULL, ev)::public.api_reply;
END
$$;

-- The soft delete of a message the caller locked and may delete: the one
-- place for DELETE /api/messages/{id} and an administrator's DELETE
-- /api/admin/users/{id}/messages (admin.sql). Returns the message.deleted
-- event. (files.sql marks its files deleted by a trigger; the program
-- unlinks them after the commit.)
CREATE OR REPLACE FUNCTION message_soft_delete(m messages) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE public.messages SET deleted_at = now(), text = '', pinned_at = NULL WHERE id = m.id;
	DELETE FROM public.message_reactions WHERE message_id = m.id;
	RETURN public.emit(m.chat_id, 'message.deleted', jsonb_build_object('message_id', m.id));
END
$$;

-- PUT (p_add) or DELETE /api/messages/{id}/reactions/{emoji}. Idempotent:
-- only a change emits reaction.updated, whose data extends the contract's
-- {message_id, reactions} with the user_id, emoji and added of the change,
-- so that clients can keep their own "me" flags.
CREATE OR REPLACE FUNCTION message_react(p_user bigint, p_message_id bigint, p_emoji text, p_add boolean,
			  p_rate double precision, p_burst double precision)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	m public.messages := public.message_visible(p_message_id, p_user, 'share');
	ev bigint;
BEGIN
	-- Adding and taking back alike, even when it changes nothing: each
	-- answer a client can get in a loop costs a token of its send bucket
	-- (send_throttle), as a reaction event goes to every member.
	PERFORM public.send_throttle(p_user, p_rate, p_burst);
	IF p_add THEN
		IF m.deleted_at IS NOT NULL THEN
			PERFORM public.api_error(409, 'message_deleted', 'this message was deleted');
		END IF;
		IF NOT EXISTS (SELECT 1 FROM public.message_reactions WHERE message_id = m.id AND emoji = p_emoji)
		   AND (SELECT count(DISTINCT emoji) FROM public.message_reactions
			WHERE message_id = m.id) >= public.max_reactions() THEN
			PERFORM public.api_error(409, 'too_many_reactions',
				format('a message takes at most %s different reactions', public.max_reactions()));
		END IF;
		INSERT INTO public.message_reactions (message_id, user_id, emoji)
		VALUES (m.id, p_user, p_emoji) ON CONFLICT DO NOTHING;
	ELSE
		DELETE FROM public.message_reactions
		WHERE message_id = m.id AND emoji = p_emoji AND user_id = p_user;
	END IF;
	IF NOT FOUND THEN
		RETURN (204, NULL, NULL)::public.api_reply;
	END IF;
	ev := public.emit(m.chat_id, 'reaction.updated', jsonb_build_object(
		'message_id', m.id,
		'reactions', public.message_reactions_json(m.id, NULL),
		'user_id', p_user, 'emoji', p_emoji, 'added', p_add));
	RETURN (204, NULL, ev)::public.api_reply;
END
$$;

-- POST /api/chats/{id}/read {message_id}: moves the caller's read marker
-- forward (never back; an older id is a no-op) and emits read. Reading
-- implies delivery: the delivered marker follows silently.
CREATE OR REPLACE FUNCTION chat_read(p_user bigint, p_chat_id bigint, p_message_id bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	was bigint;
BEGIN
	IF NOT public.is_member(p_chat_id, p_user) THEN
		PERFORM public.api_error(404, 'chat_not_found', 'no such chat');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM public.messages WHERE id = p_message_id AND chat_id = p_chat_id) THEN
		PERFORM public.api_error(404, 'message_not_found', 'no such message in this chat');
	END IF;
	SELECT last_read_message_id INTO was FROM public.chat_members
	WHERE chat_id = p_chat_id AND user_id = p_user FOR UPDATE;
	-- (NULL: removed since the check above.)
	IF was IS NULL OR was >= p_message_id THEN
		RETURN (204, NULL, NULL)::public.api_reply;
	END IF;
	UPDATE public.chat_members
	SET last_read_message_id = p_message_id,
	    last_delivered_message_id = greatest(last_delivered_message_id, p_message_id)
	WHERE chat_id = p_chat_id AND user_id = p_user;
	RETURN (204, NULL, public.emit_marker(p_chat_id, 'read', p_user, was, p_message_id))::public.api_reply;
END
$$;

-- For wsd's {"type":"ack"}: moves the user's delivered marker forward and
-- emits delivered. Returns the event id, or NULL when nothing changed (not
-- a member, not a message of the chat, or not forward). Never raises for
-- bad input.
CREATE OR REPLACE FUNCTION mark_delivered(p_user_id bigint, p_chat_id bigint, p_message_id bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	was bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM public.messages WHERE id = p_message_id AND chat_id = p_chat_id) THEN
		RETURN NULL;
	END IF;
	SELECT last_delivered_message_id INTO was FROM public.chat_members
	WHERE chat_id = p_chat_id AND user_id = p_user_id FOR UPDATE;
	IF was IS NULL OR was >= p_message_id THEN
		RETURN NULL;
	END IF;
	UPDATE public.chat_members SET last_delivered_message_id = p_message_id
	WHERE chat_id = p_chat_id AND user_id = p_user_id;
	RETURN public.emit_marker(p_chat_id, 'delivered', p_user_id, was, p_message_id);
END
$$;

-- Emits p_user's read or delivered marker, moved from p_after to p_upto. In
-- a chat of up to 100 members it goes to every member, as any event of the
-- chat. In a larger group it goes only to the user and to the members who
-- sent a message the marker passed: every member's marker to every member
-- made each message of a group of n members cost n² frames (a million in
-- one of 1,000), and the app shows a marker only as the ticks of one's own
-- messages. Members still read everyone's markers in GET /api/chats/{id}.
CREATE OR REPLACE FUNCTION emit_marker(p_chat_id bigint, p_kind text, p_user bigint,
				       p_after bigint, p_upto bigint) RETURNS bigint
LANGUAGE sql AS $$
	INSERT INTO public.events (chat_id, kind, payload, audience)
	SELECT p_chat_id, p_kind, jsonb_build_object('user_id', p_user, 'message_id', p_upto),
	       CASE WHEN (SELECT count(*) FROM (SELECT FROM public.chat_members
						 WHERE chat_id = p_chat_id LIMIT 101) AS big) > 100
	       THEN array(SELECT p_user
			  UNION
			  SELECT m.sender_id FROM public.messages m
			  JOIN public.chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = m.sender_id
			  WHERE m.chat_id = p_chat_id AND m.id > p_after AND m.id <= p_upto) END
	RETURNING id
$$;

-- GET /api/messages/{id}/reactions: who reacted, [{emoji, count, me,
-- user_ids (the first 100 to react so)}] in the order of the message's
-- reactions.
CREATE OR REPLACE FUNCTION message_reactors(p_user bigint, p_message_id bigint) RETURNS api_reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
	m public.messages;
	listed jsonb;
BEGIN
	SELECT * INTO m FROM public.messages WHERE id = p_message_id;
	IF m.id IS NULL OR NOT public.is_member(m.chat_id, p_user) THEN
		PERFORM public.api_error(404, 'message_not_found', 'no such message');
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'me', r.me,
			'user_ids', r.user_ids) ORDER BY r.first_at, r.emoji), '[]'::jsonb)
	INTO listed
	FROM (SELECT x.emoji, count(*) AS n, bool_or(x.user_id = p_user) AS me,
		     min(x.created_at) AS first_at,
		     to_jsonb((array_agg(x.user_id ORDER BY x.created_at, x.user_id))[1:100]) AS user_ids
	      FROM public.message_reactions x WHERE x.message_id = m.id
	      GROUP BY x.emoji) r;
	RETURN (200, jsonb_build_object('reactions', listed), NULL)::public.api_reply;
END
$$;

-- POST /api/messages/{id}/report {reason}: into the administrators' queue
-- (message_reports); a repeat by the same reporter changes nothing. 202
-- {id, status}.
CREATE OR REPLACE FUNCTION message_report(p_user bigint, p_message_id bigint, p_reason text)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	m public.messages;
	rep public.message_reports;
BEGIN
	SELECT * INTO m FROM public.messages WHERE id = p_message_id;
	IF m.id IS NULL OR NOT public.is_member(m.chat_id, p_user) THEN
		PERFORM public.api_error(404, 'message_not_found', 'no such message');
	END IF;
	INSERT INTO public.message_reports (message_id, reporter_id, reason)
	VALUES (m.id, p_user, p_reason)
	ON CONFLICT (message_id, reporter_id) DO NOTHING
	RETURNING * INTO rep;
	IF rep.id IS NULL THEN
		SELECT * INTO rep FROM public.message_reports
		WHERE message_id = m.id AND reporter_id = p_user;
	END IF;
	RETURN (202, jsonb_build_object('id', rep.id, 'status', rep.status), NULL)::public.api_reply;
END
$$;
