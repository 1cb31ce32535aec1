-- A batch answers repeated sends too. The messages program's companion now
-- serves sends from one event loop (fcgi/messages/batch.c), and a send it
-- cannot write in the batch it writes alone, one at a time: a client
-- resending its unconfirmed messages after a restart must not take that
-- path, one round trip each. A repeat is a send whose client_id its sender
-- already used in that chat; it is answered 200 with the message stored
-- then, as message_send() answers it.
DROP FUNCTION message_send_batch(bigint[], bigint[], text[], text[], double precision,
				 double precision);

-- Sends text messages, item i being p_users[i] sending p_texts[i] with
-- p_client_ids[i] (NULL: none) into p_chats[i], each as message_send()
-- would with no files. Returns a row (ord = i, status, the Message) for
-- each item it answers, in item order: 201 for a message it wrote (one
-- message.created event each, and one NOTIFY of msgr_events for all), 200
-- for a repeat. Any other item is left to message_send() by the caller,
-- alone, which answers it exactly: the sender is not a member (404), its
-- rate limit refuses it (429) or an earlier item of the batch has the
-- same client_id. Items must not be blank (422 is message_send()'s).
--
-- Two statements: the chat locks, then everything else, which therefore
-- sees every message committed before the locks were held. Locks are taken
-- as everywhere: the chats in id order, then the send buckets in user order.
CREATE FUNCTION message_send_batch(p_users bigint[], p_chats bigint[], p_texts text[],
				   p_client_ids text[], p_rate double precision,
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
	PERFORM 1 FROM chats WHERE id = ANY(p_chats) ORDER BY id FOR NO KEY UPDATE;
	RETURN QUERY
	WITH item AS (
		SELECT i.n::int AS n, i.u, i.c, i.k
		FROM unnest(p_users, p_chats, p_client_ids) WITH ORDINALITY AS i(u, c, k, n)
		WHERE EXISTS (SELECT 1 FROM chat_members cm
			      WHERE cm.chat_id = i.c AND cm.user_id = i.u)
	), repeated AS (
		SELECT i.n, i.u, m
		FROM item i JOIN messages m
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
	SELECT s.n, s.status, s.body FROM (
		SELECT a.n, 201 AS status, e.payload->'message' AS body
		FROM e JOIN accepted a ON a.id = (e.payload->'message'->>'id')::bigint
			CROSS JOIN woken
		UNION ALL
		SELECT r.n, 200, message_json(r.m, r.u) FROM repeated r
	) s ORDER BY s.n;
END
$$;
