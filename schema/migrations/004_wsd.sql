-- The realtime daemon's state (wsd/): its processes, presence, the
-- retention mark (its functions: functions/wsd.sql).

-- One row per running wsd process. A process refreshes heartbeat_at every
-- few seconds; one silent for longer than the dead_secs it declared is taken
-- for dead by the others, and its users' presence rows go with it.
CREATE TABLE wsd_instances (
	wsd_id text PRIMARY KEY,
	pid int NOT NULL,
	dead_secs int NOT NULL,
	started_at timestamptz NOT NULL DEFAULT now(),
	heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- The highest event id ever pruned (prune_events()): a client resuming from
-- below it may have missed events and gets {"type":"reset"}.
CREATE TABLE events_pruned (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	upto bigint NOT NULL
);

-- The trigger below: declared here, defined in functions/events.sql
-- (schema/README.md).
CREATE FUNCTION events_note_pruned() RETURNS trigger
LANGUAGE plpgsql AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;

CREATE TRIGGER events_pruned AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION events_note_pruned();

-- The index below: declared here, defined in functions/wsd.sql
-- (schema/README.md).
CREATE FUNCTION wsd_event_users(kind text, payload jsonb) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;

-- A user's membership events after some id (wsd loads and replays with it).
CREATE INDEX events_membership ON events USING gin (wsd_event_users(kind, payload))
WHERE kind IN ('chat.created', 'member.added', 'member.removed');
