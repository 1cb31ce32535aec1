"""A page of history is rendered as text (message_text(), chat_page():
schema/functions/messages.sql) for speed; it must be byte for byte what the
jsonb render it replaced printed, for every kind of message and part, and
message_object() (events, sends) the same object.

The reference is the former render, kept here as temporary functions of
the test's database session."""

import pytest

from chatkit import emoji_path, group, send, uid

# The jsonb render as it was before message_text() (main at issue 20).
REFERENCE = [
    """
CREATE FUNCTION pg_temp.ref_object(m messages, p_attachments jsonb, p_reactions jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', m.id,
		'chat_id', m.chat_id,
		'sender_id', CASE WHEN m.kind = 'service' THEN NULL ELSE m.sender_id END,
		'kind', m.kind,
		'text', CASE WHEN m.deleted_at IS NULL THEN m.text ELSE '' END,
		'created_at', public.api_ts(m.created_at),
		'edited_at', public.api_ts(m.edited_at),
		'deleted', m.deleted_at IS NOT NULL,
		'attachments', CASE WHEN m.deleted_at IS NULL THEN p_attachments ELSE '[]'::jsonb END,
		'reactions', CASE WHEN m.deleted_at IS NULL THEN p_reactions ELSE '[]'::jsonb END,
		'client_id', m.client_id,
		'reply_to', CASE WHEN m.reply_to_id IS NOT NULL AND m.deleted_at IS NULL
			THEN public.message_quote(m.reply_to_id) END,
		'forwarded_from', CASE WHEN m.deleted_at IS NULL THEN m.forwarded_from END,
		'mentions', CASE WHEN m.deleted_at IS NULL THEN to_jsonb(m.mentions) ELSE '[]'::jsonb END,
		'pinned', m.pinned_at IS NOT NULL AND m.deleted_at IS NULL)
		|| CASE WHEN m.kind = 'service' THEN jsonb_build_object('service', m.service)
			ELSE '{}'::jsonb END
$$""",
    """
CREATE FUNCTION pg_temp.ref_page(p_user bigint, p_chat_id bigint, p_before bigint,
				 p_after bigint, p_limit int) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	cleared bigint;
	page bigint[];
	has_more boolean;
	rendered jsonb;
BEGIN
	SELECT cleared_upto INTO cleared FROM public.chat_members
	WHERE chat_id = p_chat_id AND user_id = p_user;
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
	SELECT coalesce(jsonb_agg(pg_temp.ref_object(m, coalesce(a.attachments, '[]'::jsonb),
						 coalesce(r.reactions, '[]'::jsonb)) ORDER BY m.id),
			'[]'::jsonb)
	INTO rendered
	FROM public.messages m
	LEFT JOIN public.attachments_of(page) a ON a.message_id = m.id
	LEFT JOIN public.reactions_of(page, p_user) r ON r.message_id = m.id
	WHERE m.id = ANY(page);
	RETURN jsonb_build_object('messages', rendered, 'has_more', has_more)::text;
END
$$""",
]

# Texts that jsonb escapes or keeps as they are.
TEXTS = ['say "hi" \\ back', "tab\there\nline end", "юникод ✓ 👍🏽 ﷽", "/*", "</script>"]


@pytest.fixture
def reference(stack):
    # The programs' secret (shared/db.c), so that file URLs are signed alike.
    stack.psql("SELECT set_config('msgr.secret', %s, false)", (stack.var / "secret").read_bytes().hex())
    for sql in REFERENCE:
        stack.psql(sql)
    yield
    stack.psql("DROP FUNCTION pg_temp.ref_page(bigint, bigint, bigint, bigint, int)")
    stack.psql("DROP FUNCTION pg_temp.ref_object(messages, jsonb, jsonb)")


@pytest.fixture
def busy_chat(api, new_user):
    """A group with every kind of message and part."""
    owner, ann, ben = new_user("rndown"), new_user("rndann"), new_user("rndben")
    c = group(api, owner, [ann], title='The "render" group')  # group.created, member.added
    sent = [send(api, ann, c["id"], t) for t in TEXTS]
    sent.append(send(api, owner, c["id"], f"ping @{ann['username']} and @nobody_here",
                     client_id='id "quoted" \\ 1'))
    sent.append(send(api, owner, c["id"], "a reply", reply_to_id=sent[0]["id"]))
    r = api.post("/api/files", token=ann, files=[("file", ("notes \"1\".txt", b"some bytes", "text/plain"))])
    assert r.status_code == 201, r.text
    sent.append(send(api, ann, c["id"], "with a file", attachment_ids=[r.json()["files"][0]["id"]]))
    r = api.post(f"/api/messages/{sent[1]['id']}/forward", token=owner, json={"chat_ids": [c["id"]]})
    assert r.status_code in (200, 201), r.text
    for user, emoji in ((ann, "👍"), (owner, "👍"), (owner, "😮")):
        path = f"/api/messages/{sent[2]['id']}/reactions/{emoji_path(emoji)}"
        assert api.put(path, token=user).status_code in (200, 201, 204)
    assert api.put(f"/api/chats/{c['id']}/pins/{sent[3]['id']}", token=owner).status_code == 204
    r = api.patch(f"/api/messages/{sent[4]['id']}", token=ann, json={"text": "edited \"now\""})
    assert r.status_code == 200, r.text
    # Deleted: a plain message and the one that was replied to (the reply's
    # quote then shows it deleted).
    for m, user in ((sent[1], ann), (sent[0], ann)):
        assert api.delete(f"/api/messages/{m['id']}", token=user).status_code == 204
    r = api.post(f"/api/chats/{c['id']}/members", token=owner, json={"user_id": uid(ben)})
    assert r.status_code == 201, r.text
    return owner, ann, ben, c


def test_pages_are_the_jsonb_render(api, stack, reference, busy_chat):
    owner, ann, ben, c = busy_chat
    # Control characters the API refuses now, in a row written before.
    stack.psql("UPDATE messages SET text = text || E'\\r\\x01\\x1f\\x7f' WHERE id = "
               "(SELECT max(id) FROM messages WHERE chat_id = %s AND text LIKE 'tab%%')", c["id"])
    # A service message from before migration 028: no data.
    stack.psql("UPDATE messages SET service = NULL WHERE id = (SELECT min(id) FROM messages "
               "WHERE chat_id = %s AND kind = 'service')", c["id"])
    ids = [r[0] for r in stack.psql("SELECT id FROM messages WHERE chat_id = %s ORDER BY id", c["id"])]
    kinds = {r[0] for r in stack.psql("SELECT kind FROM messages WHERE chat_id = %s", c["id"])}
    assert len(ids) >= 12 and kinds == {"text", "service"}
    compared = 0
    for viewer in (owner, ann, ben):
        for before, after, limit in [(None, None, 50), (None, None, 3), (ids[6], None, 4),
                                     (None, ids[2], 5), (None, 0, 100), (None, ids[-1], 10),
                                     (ids[0], None, 10)]:
            args = (uid(viewer), c["id"], before, after, limit)
            new = stack.psql("SELECT chat_page(%s, %s, %s, %s, %s)", *args)[0][0]
            old = stack.psql("SELECT pg_temp.ref_page(%s, %s, %s, %s, %s)", *args)[0][0]
            assert new == old, (args, new, old)
            compared += 1
        # What the program sends is the same bytes.
        r = api.get(f"/api/chats/{c['id']}/messages", token=viewer)
        assert r.status_code == 200, r.text
        old = stack.psql("SELECT pg_temp.ref_page(%s, %s, NULL, NULL, 50)", uid(viewer), c["id"])[0][0]
        assert r.content.decode() == old
    assert compared == 21


def test_message_objects_are_the_jsonb_render(stack, reference, busy_chat):
    owner, _, _, c = busy_chat
    rows = stack.psql(
        "SELECT message_json(m, %s)::text, pg_temp.ref_object(m, message_attachments(m.id), "
        "message_reactions_json(m.id, %s))::text FROM messages m WHERE chat_id = %s ORDER BY id",
        uid(owner), uid(owner), c["id"])
    assert len(rows) >= 12
    for new, old in rows:
        assert new == old
