-- The event outbox (migrations/002_events.sql): ids, appending, pruning
-- and the retention mark wsd reads (events_pruned, migrations/004_wsd.sql).

-- The default of events.id: the writing transaction's id is assigned before
-- the event id is drawn (migrations/002_events.sql tells why).
CREATE OR REPLACE FUNCTION next_event_id() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_current_xact_id();
	RETURN nextval('public.events_id_seq');
END
$$;

-- Appends one event; returns its id. payload is the "data" object clients
-- get. emit() was a LANGUAGE sql function around an INSERT: PostgreSQL cannot
-- inline that, and parses and plans its body on every call; in plpgsql the
-- plan is kept for the session (half of its cost per event here).
CREATE OR REPLACE FUNCTION emit(p_chat_id bigint, p_kind text, p_payload jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	event_id bigint;
BEGIN
	INSERT INTO public.events (chat_id, kind, payload) VALUES (p_chat_id, p_kind, p_payload)
	RETURNING id INTO event_id;
	RETURN event_id;
END
$$;

-- Removes events older than the retention period; returns how many.
CREATE OR REPLACE FUNCTION prune_events(retention interval DEFAULT '7 days') RETURNS bigint
LANGUAGE sql AS $$
	WITH d AS (DELETE FROM public.events WHERE created_at < now() - retention RETURNING 1)
	SELECT count(*) FROM d
$$;

-- After a prune: the highest event id gone (events_pruned).
CREATE OR REPLACE FUNCTION events_note_pruned() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.events_pruned AS p (upto)
	SELECT max(id) FROM old_rows HAVING max(id) IS NOT NULL
	ON CONFLICT (one) DO UPDATE SET upto = greatest(p.upto, excluded.upto);
	RETURN NULL;
END
$$;
