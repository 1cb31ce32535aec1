-- The event outbox: every change a client must hear about is a row here,
-- written in the same transaction as the change. wsd reads this table; a
-- NOTIFY on channel msgr_events (sent after commit, payload the highest new
-- event id) is only a hint to look now.
--
-- Sequence ids can commit out of order. Each row records the writing
-- transaction's id, and next_event_id() makes sure that id is assigned
-- before the event id is drawn: so once every transaction that was running
-- when a reader saw a gap below id N has ended, no event below N can still
-- appear (see wsd/).

CREATE SEQUENCE events_id_seq; -- no cache: ids are handed out in order

CREATE FUNCTION next_event_id() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_current_xact_id();
	RETURN nextval('events_id_seq');
END
$$;

CREATE TABLE events (
	id bigint PRIMARY KEY DEFAULT next_event_id(),
	xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	chat_id bigint NOT NULL,
	kind text NOT NULL CHECK (kind IN ('message.created', 'message.updated',
		'message.deleted', 'reaction.updated', 'chat.created', 'chat.updated',
		'member.added', 'member.removed', 'read', 'delivered')),
	payload jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE events_id_seq OWNED BY events.id;
CREATE INDEX events_chat ON events (chat_id, id);
CREATE INDEX events_created ON events (created_at);

-- Appends one event; returns its id. payload is the "data" object clients get.
CREATE FUNCTION emit(p_chat_id bigint, p_kind text, p_payload jsonb) RETURNS bigint
LANGUAGE sql AS $$
	INSERT INTO events (chat_id, kind, payload) VALUES (p_chat_id, p_kind, p_payload)
	RETURNING id
$$;

-- Removes events older than the retention period; returns how many.
CREATE FUNCTION prune_events(retention interval DEFAULT '7 days') RETURNS bigint
LANGUAGE sql AS $$
	WITH d AS (DELETE FROM events WHERE created_at < now() - retention RETURNING 1)
	SELECT count(*) FROM d
$$;
