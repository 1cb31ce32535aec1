-- The realtime daemon's functions (wsd/; its tables: migrations/004_wsd.sql).

-- The users whose membership a membership event changes (wsd/event.h reads
-- the same from the payloads): the members of a new chat, the user added,
-- the user removed, the members of a deleted chat. An index is built on
-- it, so it never raises: what is not a number is left out.
CREATE OR REPLACE FUNCTION wsd_event_users(kind text, payload jsonb) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT coalesce(array_agg(trunc((v #>> '{}')::numeric)::bigint), '{}')
	FROM (
		SELECT payload->'user'->'id' AS v WHERE kind = 'member.added'
		UNION ALL
		SELECT payload->'user_id' WHERE kind = 'member.removed'
		UNION ALL
		SELECT x FROM jsonb_array_elements(CASE WHEN kind = 'chat.deleted'
			AND jsonb_typeof(payload->'user_ids') = 'array'
			THEN payload->'user_ids' ELSE '[]' END) AS x
		UNION ALL
		SELECT m->'user'->'id'
		FROM jsonb_array_elements(CASE WHEN kind = 'chat.created'
			AND jsonb_typeof(payload->'chat'->'members') = 'array'
			THEN payload->'chat'->'members' ELSE '[]' END) AS m
	) s
	WHERE jsonb_typeof(v) = 'number' AND (v #>> '{}')::numeric BETWEEN 1 AND 9223372036854775807
$$;

-- ---- presence -----------------------------------------------------------------
-- A user is online while any wsd process has a user_presence row for it.
-- Changes of one user are serialised on its users row, so that exactly one
-- process sees the first connection and one the last. The notification on
-- msgr_wsd is sent inside the transaction on purpose: notifications are
-- delivered in commit order, so every process sees one user's online and
-- offline in the order they happened.

-- Tells every wsd process that p_user went online or offline. The chats
-- are listed when they fit in a notification (8000 bytes), else null and
-- the receivers look them up.
CREATE OR REPLACE FUNCTION wsd_notify_presence(p_user bigint, p_online boolean, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	chat_ids bigint[];
	msg jsonb;
BEGIN
	SELECT array_agg(chat_id ORDER BY chat_id) INTO chat_ids
	FROM public.chat_members WHERE user_id = p_user;
	msg := jsonb_build_object('t', 'presence', 'u', p_user, 'on', p_online,
		'ts', public.api_ts(p_at), 'chats', coalesce(to_jsonb(chat_ids), '[]'::jsonb));
	IF octet_length(msg::text) > 7500 THEN
		msg := jsonb_set(msg, '{chats}', 'null'::jsonb);
	END IF;
	PERFORM pg_notify('msgr_wsd', msg::text);
END
$$;

-- Tells every wsd process that these sessions of p_user ended: they close
-- their sockets with 4401 (wsd/bus.c). In the revoking transaction, so it
-- goes at the commit; in slices that fit a notification.
CREATE OR REPLACE FUNCTION wsd_notify_revoked(p_user bigint, p_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	i int := 1;
	n int := coalesce(array_length(p_ids, 1), 0);
BEGIN
	WHILE i <= n LOOP
		PERFORM pg_notify('msgr_wsd', jsonb_build_object('t', 'revoke', 'u', p_user,
			's', to_jsonb(p_ids[i:i + 299]))::text);
		i := i + 300;
	END LOOP;
END
$$;

-- p_wsd has a connection of p_user now.
CREATE OR REPLACE FUNCTION wsd_presence_up(p_wsd text, p_user bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	at timestamptz;
BEGIN
	PERFORM 1 FROM public.users WHERE id = p_user FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF EXISTS (SELECT 1 FROM public.user_presence WHERE user_id = p_user) THEN
		INSERT INTO public.user_presence (user_id, wsd_id) VALUES (p_user, p_wsd)
		ON CONFLICT (user_id, wsd_id) DO NOTHING;
		RETURN;
	END IF;
	INSERT INTO public.user_presence (user_id, wsd_id) VALUES (p_user, p_wsd);
	UPDATE public.users SET last_seen_at = now() WHERE id = p_user RETURNING last_seen_at INTO at;
	PERFORM public.wsd_notify_presence(p_user, true, at);
END
$$;

-- p_wsd has no connection of p_user any more.
CREATE OR REPLACE FUNCTION wsd_presence_down(p_wsd text, p_user bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	at timestamptz;
BEGIN
	PERFORM 1 FROM public.users WHERE id = p_user FOR NO KEY UPDATE;
	DELETE FROM public.user_presence WHERE user_id = p_user AND wsd_id = p_wsd;
	IF NOT FOUND OR EXISTS (SELECT 1 FROM public.user_presence WHERE user_id = p_user) THEN
		RETURN;
	END IF;
	UPDATE public.users SET last_seen_at = now() WHERE id = p_user RETURNING last_seen_at INTO at;
	PERFORM public.wsd_notify_presence(p_user, false, at);
END
$$;

-- A batch of changes from one process, in order (wsd sorts a batch by user,
-- keeping each user's changes in order, so processes lock users in one
-- order).
CREATE OR REPLACE FUNCTION wsd_presence_batch(p_wsd text, p_users bigint[], p_up boolean[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. coalesce(cardinality(p_users), 0) LOOP
		IF p_up[i] THEN
			PERFORM public.wsd_presence_up(p_wsd, p_users[i]);
		ELSE
			PERFORM public.wsd_presence_down(p_wsd, p_users[i]);
		END IF;
	END LOOP;
END
$$;

-- Takes every user of p_wsd offline there and forgets the process, in one
-- pass (a process may have had tens of thousands of users).
CREATE OR REPLACE FUNCTION wsd_drop_instance(p_wsd text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	-- In user order, like everyone else who locks several users here.
	PERFORM 1 FROM public.users
	WHERE id IN (SELECT user_id FROM public.user_presence WHERE wsd_id = p_wsd)
	ORDER BY id FOR NO KEY UPDATE;
	FOR r IN
		WITH gone AS (
			DELETE FROM public.user_presence WHERE wsd_id = p_wsd RETURNING user_id)
		UPDATE public.users u SET last_seen_at = now()
		FROM gone
		WHERE u.id = gone.user_id
		  -- (the statement still sees the rows its CTE deleted)
		  AND NOT EXISTS (SELECT 1 FROM public.user_presence p
				  WHERE p.user_id = gone.user_id AND p.wsd_id <> p_wsd)
		RETURNING u.id, u.last_seen_at
	LOOP
		PERFORM public.wsd_notify_presence(r.id, false, r.last_seen_at);
	END LOOP;
	DELETE FROM public.wsd_instances WHERE wsd_id = p_wsd;
END
$$;

-- Forgets the processes silent for longer than they declared, and presence
-- rows of processes that are not registered at all. Every wsd on every host
-- calls it with each heartbeat: one at a time does the work (the advisory
-- lock, 1919 like the programs' periodic jobs, shared/server.c), the others
-- pass this turn rather than queue behind it on the same users' rows.
CREATE OR REPLACE FUNCTION wsd_reap() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w text;
BEGIN
	IF NOT pg_try_advisory_xact_lock(1919, hashtext('wsd_reap')) THEN
		RETURN;
	END IF;
	FOR w IN
		SELECT wsd_id FROM public.wsd_instances
		WHERE heartbeat_at < now() - make_interval(secs => dead_secs)
		UNION
		SELECT DISTINCT p.wsd_id FROM public.user_presence p
		WHERE NOT EXISTS (SELECT 1 FROM public.wsd_instances i WHERE i.wsd_id = p.wsd_id)
		ORDER BY 1
	LOOP
		PERFORM public.wsd_drop_instance(w);
	END LOOP;
END
$$;

-- A process starts: what an earlier run under the same id left is stale.
-- p_dead_secs: how long others wait for its heartbeat before they take it
-- for dead.
CREATE OR REPLACE FUNCTION wsd_start(p_wsd text, p_pid int, p_dead_secs int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM public.wsd_drop_instance(p_wsd);
	INSERT INTO public.wsd_instances (wsd_id, pid, dead_secs) VALUES (p_wsd, p_pid, p_dead_secs);
END
$$;

-- Every few seconds. Returns false when the process had been taken for
-- dead (then it registers its users again).
CREATE OR REPLACE FUNCTION wsd_heartbeat(p_wsd text, p_pid int, p_dead_secs int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	known boolean;
BEGIN
	UPDATE public.wsd_instances SET heartbeat_at = now(), pid = p_pid, dead_secs = p_dead_secs
	WHERE wsd_id = p_wsd;
	known := FOUND;
	IF NOT known THEN
		INSERT INTO public.wsd_instances (wsd_id, pid, dead_secs) VALUES (p_wsd, p_pid, p_dead_secs);
	END IF;
	PERFORM public.wsd_reap();
	RETURN known;
END
$$;

-- A process stops cleanly.
CREATE OR REPLACE FUNCTION wsd_stop(p_wsd text) RETURNS void
LANGUAGE sql AS $$ SELECT public.wsd_drop_instance(p_wsd) $$;

-- ---- delivered markers ----------------------------------------------------------

-- A batch of {"type":"ack"}: mark_delivered() (messages.sql) for each
-- (user, chat, message). Returns the highest event id emitted, or NULL; the
-- caller notifies msgr_events after the commit.
CREATE OR REPLACE FUNCTION wsd_mark_delivered(p_users bigint[], p_chats bigint[], p_messages bigint[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	top bigint;
	ev bigint;
BEGIN
	FOR i IN 1 .. coalesce(cardinality(p_users), 0) LOOP
		ev := public.mark_delivered(p_users[i], p_chats[i], p_messages[i]);
		top := greatest(top, ev);
	END LOOP;
	RETURN top;
END
$$;
