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

-- The default of events.id: declared here, defined in functions/events.sql
-- (schema/README.md).
CREATE FUNCTION next_event_id() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$BEGIN RAISE 'declared by a migration; see schema/functions/'; END$$;

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
