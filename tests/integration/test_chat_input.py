"""Hostile input to every chats and messages endpoint: whatever arrives, the
answer is a 2xx or a 4xx problem document, never a 500 or a dropped
connection (API.md "General rules")."""

import json
import random

import pytest

from chatkit import direct, group, send

STRANGE_VALUES = [
    None, True, False, 0, -1, 1, 2**63 - 1, 2**63, 2**64 + 5, -(2**63), 1.5, 1e308, "", " ", "1", "-1",
    "x" * 5000, "\u0000", "\ud800", "Привет", "🎉" * 50, "\u202e", [], [1], [0], ["1"], [None],
    list(range(1, 1200)), {}, {"a": 1}, "%s%n%x", "'; DROP TABLE messages; --", "\\", '"',
]
FIELDS = ["type", "user_id", "title", "member_ids", "text", "client_id", "attachment_ids", "message_id"]
RAW_BODIES = [b"", b"{", b"}", b"null", b"[]", b"1", b'"x"', b"{\"text\": \"a\"", b"\xff\xfe\x00",
              b'{"text": "a", "text": "b"}', b"{'text': 'a'}", b'{"text": "a"}garbage', b"\x00" * 10,
              b'{"text": "\\ud83c"}', b'{"text": "' + b"\xed\xa0\x80" + b'"}', b'{"a":' * 5000]
QUERIES = ["", "?limit=", "?limit=1e3", "?before=-0", "?after=00", "?before=%00", "?limit=%FF",
           "?q=%00", "?q=%E2%80", "?before=1&before=2", "?limit=99999999999999999999999", "?&&&=&",
           "?q=" + "%F0%9F%8E%89" * 300, "?chat_id=1e2", "?q=a&limit=+5"]


@pytest.fixture(scope="module")
def targets(api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    d = direct(api, alice, bob)
    g = group(api, alice, [bob])
    m = send(api, bob, g["id"], "target")
    return alice, bob, d, g, m


def paths(d, g, m, bob):
    return [
        ("POST", "/api/chats"),
        ("PATCH", f"/api/chats/{g['id']}"),
        ("PATCH", f"/api/chats/{d['id']}"),
        ("POST", f"/api/chats/{g['id']}/members"),
        ("POST", f"/api/chats/{g['id']}/messages"),
        ("POST", f"/api/chats/{d['id']}/read"),
        ("PATCH", f"/api/messages/{m['id']}"),
    ]


def check(r):
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if r.status_code >= 400:
        assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
        body = r.json()
        assert body["status"] == r.status_code and body["code"]


def test_random_json_bodies(api, targets):
    alice, bob, d, g, m = targets
    rng = random.Random(20261121)
    endpoints = paths(d, g, m, bob)
    for _ in range(250):
        method, path = rng.choice(endpoints)
        body = {f: rng.choice(STRANGE_VALUES) for f in rng.sample(FIELDS, rng.randint(0, 4))}
        if rng.random() < 0.3:
            body["type"] = rng.choice(["direct", "group"])
        r = api.request(method, path, token=alice, data=json.dumps(body),
                        headers={"Content-Type": "application/json"})
        check(r)


def test_raw_bodies_and_content_types(api, targets):
    alice, bob, d, g, m = targets
    for method, path in paths(d, g, m, bob):
        for raw in RAW_BODIES:
            for ctype in ("application/json", "application/x-www-form-urlencoded", "text/plain",
                          "multipart/form-data", "multipart/form-data; boundary=x", None):
                headers = {"Content-Type": ctype} if ctype else {}
                check(api.request(method, path, token=alice, data=raw, headers=headers))


def test_strange_queries_and_paths(api, targets):
    alice, bob, d, g, m = targets
    for q in QUERIES:
        check(api.get(f"/api/chats/{g['id']}/messages{q}", token=alice))
        check(api.get(f"/api/search/messages{q}", token=alice))
    for path in ("/api/chats/0", "/api/chats/-1", "/api/chats/01", "/api/chats/99999999999999999999",
                 "/api/chats/1/", "/api/chats//messages", "/api/messages/1/reactions/",
                 "/api/messages/1/reactions/%", "/api/messages/1/reactions/%zz",
                 "/api/messages/1/reactions/a%2Fb", "/api/chats/1/members/x",
                 f"/api/messages/{m['id']}/reactions/" + "%F0" * 40):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            check(api.request(method, path, token=alice, json={}))
