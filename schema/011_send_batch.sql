-- Sends written in batches (docs/BENCHMARKS.md, "Send"). One transaction
-- per message costs the database ~550 µs of CPU, most of it per statement
-- and per commit, not per row: the messages program now hands plain text
-- sends to one process of its own, which writes all that are waiting in one
-- transaction (fcgi/messages/batch.c) and answers each after the commit.

-- The chat row's last message and version, once per statement and chat
-- rather than once per row: a batch of 16 messages paid 16 updates of
-- 16 chat rows through 16 trigger calls. The rows are updated in id order,
-- the order chat locks are taken in everywhere, so that two statements
-- never wait for each other.
DROP TRIGGER messages_page_inserted ON messages;
DROP FUNCTION messages_page_inserted();

CREATE FUNCTION messages_page_inserted() RETURNS trigger
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
	UPDATE chats c SET last_message_id = n.id, last_activity_at = n.at,
		version = c.version + 1
	FROM unnest(chat_ids, last_ids, last_ats) AS n(chat_id, id, at)
	WHERE c.id = n.chat_id AND c.id = ANY(chat_ids);
	RETURN NULL;
END
$$;

CREATE TRIGGER messages_page_inserted AFTER INSERT ON messages
	REFERENCING NEW TABLE AS inserted
	FOR EACH STATEMENT EXECUTE FUNCTION messages_page_inserted();

-- No foreign key from messages to chats: chats are never deleted by the
-- application, every writer of a message holds the chat's row lock (which
-- proves it exists), and the key's check cost each message a query and a
-- second lock of the chat row (~30 µs, 15% of a batched send). Deleting a
-- chat by hand still takes its messages with it.
ALTER TABLE messages DROP CONSTRAINT messages_chat_id_fkey;

CREATE FUNCTION chats_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM messages WHERE chat_id IN (SELECT id FROM gone);
	RETURN NULL;
END
$$;

CREATE TRIGGER chats_deleted AFTER DELETE ON chats
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION chats_deleted();

-- How many sends the bucket's last update took (message_send_batch() reads
-- it back from the same statement that takes them).
ALTER TABLE send_buckets ADD COLUMN granted int NOT NULL DEFAULT 0;

-- The tokens in a bucket at p_at: refilled at p_rate a second, at most
-- p_burst (an inlined expression).
CREATE FUNCTION bucket_tokens(b send_buckets, p_at timestamptz, p_rate double precision,
			      p_burst double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
	SELECT greatest(0, least(p_burst, b.tokens
		+ extract(epoch FROM p_at - b.at)::double precision * p_rate))
$$;

-- Sends text messages, item i being p_users[i] sending p_texts[i] with
-- p_client_ids[i] (NULL: none) into p_chats[i], each as message_send()
-- would with no files. Returns a row (ord = i, the Message, its
-- message.created event) for each item it wrote, in item order, and
-- notifies msgr_events once. Any other
-- item is left to message_send() by the caller, alone, which answers it
-- exactly: the sender is not a member (404), its client_id was seen before
-- (200), its rate limit refuses it (429) or an earlier item of the batch
-- has the same client_id. Items must not be blank (422 is message_send()'s).
--
-- Two statements: the chat locks, then everything else, which therefore
-- sees every message committed before the locks were held. Locks are taken
-- as everywhere: the chats in id order, then the send buckets in user order.
CREATE FUNCTION message_send_batch(p_users bigint[], p_chats bigint[], p_texts text[],
				   p_client_ids text[], p_rate double precision,
				   p_burst double precision)
RETURNS TABLE (ord int, body jsonb, event_id bigint)
LANGUAGE plpgsql
-- A custom plan of the big statement took longer to make (~400 µs) than a
-- batch of one takes to write; the generic plan suits every batch size.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	at_ timestamptz := clock_timestamp();
	limited boolean := p_rate > 0;
BEGIN
	PERFORM 1 FROM chats WHERE id = ANY(p_chats) ORDER BY id FOR NO KEY UPDATE;
	RETURN QUERY
	WITH item AS (
		SELECT i.n::int AS n, i.u, i.c, i.k
		FROM unnest(p_users, p_chats, p_client_ids) WITH ORDINALITY AS i(u, c, k, n)
	), fresh AS (
		SELECT i.n, i.u, row_number() OVER (PARTITION BY i.u ORDER BY i.n) AS rank
		FROM item i
		WHERE EXISTS (SELECT 1 FROM chat_members cm
			      WHERE cm.chat_id = i.c AND cm.user_id = i.u)
		  AND (i.k IS NULL OR (
			NOT EXISTS (SELECT 1 FROM messages m
				    WHERE m.chat_id = i.c AND m.sender_id = i.u AND m.client_id = i.k)
			AND NOT EXISTS (SELECT 1 FROM item j
					WHERE j.n < i.n AND j.u = i.u AND j.c = i.c AND j.k = i.k)))
	), taken AS (
		-- As send_throttle(): a new bucket is full, a send takes a whole
		-- token, and a user's sends take them in item order. "granted"
		-- carries the number wanted in and the number taken out.
		INSERT INTO send_buckets AS b (user_id, tokens, at, granted)
		SELECT w.u, p_burst - least(w.n, floor(p_burst)), at_, least(w.n, floor(p_burst))
		FROM (SELECT u, count(*) AS n FROM fresh WHERE limited GROUP BY u) w
		ORDER BY w.u
		ON CONFLICT (user_id) DO UPDATE SET
			tokens = bucket_tokens(b, at_, p_rate, p_burst)
				- least(EXCLUDED.granted, floor(bucket_tokens(b, at_, p_rate, p_burst))),
			at = at_,
			granted = least(EXCLUDED.granted, floor(bucket_tokens(b, at_, p_rate, p_burst)))
		RETURNING b.user_id, b.granted
	), accepted AS (
		SELECT f.n, nextval('messages_id_seq') AS id
		FROM fresh f LEFT JOIN taken t ON t.user_id = f.u
		WHERE NOT limited OR f.rank <= t.granted
	), m AS (
		-- The ids were drawn first so that each row can be matched to its item.
		INSERT INTO messages (id, chat_id, sender_id, kind, text, client_id)
		OVERRIDING SYSTEM VALUE
		SELECT a.id, p_chats[a.n], p_users[a.n], 'text', p_texts[a.n], p_client_ids[a.n]
		FROM accepted a ORDER BY a.id
		RETURNING *
	), e AS (
		INSERT INTO events (chat_id, kind, payload)
		SELECT m.chat_id, 'message.created',
			jsonb_build_object('message', message_json(m::messages, NULL, false))
		FROM m ORDER BY m.id
		RETURNING events.id, events.payload
	), woken AS (
		-- wsd reads every event after the last it saw: one wake-up for
		-- the batch, sent at its commit (a round trip less than after it).
		SELECT pg_notify('msgr_events', max(e.id)::text) FROM e HAVING count(*) > 0
	)
	SELECT a.n, e.payload->'message', e.id
	FROM e JOIN accepted a ON a.id = (e.payload->'message'->>'id')::bigint CROSS JOIN woken
	ORDER BY a.n;
END
$$;
