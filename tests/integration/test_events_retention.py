"""The event outbox keeps MSGR_EVENT_RETENTION_DAYS of events: the messages
program's master prunes older ones periodically."""

import time


def count_events(stack, where, *params):
    return stack.psql("SELECT count(*) FROM events WHERE " + where, *params)[0][0]


def test_master_prunes_events_past_retention(stack, new_user):
    new_user()  # registration writes fresh events, which must stay
    fresh = count_events(stack, "created_at > now() - interval '1 day'")
    assert fresh > 0
    # An old event with an id below every real one, so that the prune mark
    # it leaves (events_note_pruned(), schema/functions/events.sql) cannot
    # send other tests' clients a reset.
    stack.psql(
        "INSERT INTO events (id, chat_id, kind, payload, created_at) "
        "VALUES (-1, -1, 'read', '{}', now() - interval '8 days')")
    assert count_events(stack, "id = -1") == 1
    with stack.restarted("messages", MSGR_PRUNE_INTERVAL=1, MSGR_EVENT_RETENTION_DAYS=7):
        deadline = time.time() + 30
        while count_events(stack, "id = -1") and time.time() < deadline:
            time.sleep(0.5)
    assert count_events(stack, "id = -1") == 0
    assert count_events(stack, "created_at > now() - interval '1 day'") >= fresh
    assert "pruned 1 events older than 7 days" in stack.log("messages")
