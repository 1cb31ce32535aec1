"""Issue 18's limits on the auth side (API.md "Administration", Limits):
nosniff on every answer, and the ones that follow in this file."""

import http.client
import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

# Each test that must be alone on its client address takes one of its own
# on the loopback network (127/8 is all loopback on Linux); a block apart
# from test_auth.py's 127.0.0.x.
_PID = os.getpid() % 200


def own_address(block):
    return "127.0.%d.%d" % (block, 10 + _PID)


def request_from(stack, source_ip, method, path, body=None, headers=None):
    """One request from a source address of the test's choosing (nginx
    takes the client address from the connection, which is what the limits
    count); returns (status, headers with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30,
                                      source_address=(source_ip, 0))
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def raw_exchange(stack, data):
    """Sends raw bytes to nginx and returns what it answers (a request it
    refuses before choosing any location)."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


# --- X-Content-Type-Options: nosniff on every answer ------------------------

def test_nosniff_on_every_kind_of_answer(stack, api, new_user):
    alice = new_user("sniff")
    up = api.post("/api/files", token=alice,
                  files=[("file", ("notes.txt", b"plain words\n", "text/plain"))])
    assert up.status_code == 201, up.text
    answers = {
        "program 200": api.get("/api/health"),
        "program 200 with a token": api.get("/api/users/me", token=alice),
        "program 401": api.get("/api/users/me"),
        "program 404": api.get("/api/chats/999999999", token=alice),
        "program 422": api.post("/api/auth/login", json={"login": "x"}),
        "OAuth2 error": api.post("/api/auth/token", data={"grant_type": "nonsense"}),
        "nginx's JSON 404": api.get("/api/nothing/here"),
        "nginx's 413": api.post("/api/auth/login", data=b"x" * (2 << 20),
                                headers={"Content-Type": "application/json"}),
        "/ws without upgrade": api.get("/ws"),
        "the app's page": api.get("/"),
        "a file of the app": api.get("/js/dom.js"),
        "the app's redirect": api.get("/chats/12", allow_redirects=False),
        "a download": api.get(up.json()["files"][0]["url"]),
        "a file that is gone": api.get("/api/files/999999999", token=alice),
    }
    for name, r in answers.items():
        assert r.headers.get("X-Content-Type-Options") == "nosniff", (name, r.status_code, r.headers)
    assert answers["nginx's 413"].status_code == 413
    assert answers["/ws without upgrade"].status_code == 400
    # (requests joins a repeated header with ", ": the equality above also
    # says the locations that add their own do not send it twice.)

    # /metrics refused to another address: nginx's own 403 document.
    status, headers, _ = request_from(stack, own_address(3), "GET", "/metrics")
    assert status == 403
    assert headers.get("x-content-type-options") == "nosniff", headers

    # A request line nginx cannot read: the server's own error page.
    answer = raw_exchange(stack, b"GARBAGE\r\n\r\n")
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 400"), head
    assert "x-content-type-options: nosniff" in head, head


# --- /api/auth/token: no parameter more than once (RFC 6749 section 3.2) ----

@pytest.mark.parametrize("repeat", [
    "grant_type=password",
    "grant_type=refresh_token",
    "username={username}",
    "password={password}",
    "password=wrong",
    "scope=a",
    "client_id=x",
    "grant%5Ftype=password",
])
def test_token_refuses_a_repeated_parameter(api, new_user, repeat):
    user = new_user("oauth")
    good = "grant_type=password&username={username}&password={password}&scope=a&client_id=x"
    form = f"{good}&{repeat}".format(**user)
    r = api.post("/api/auth/token", data=form,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_request", body
    assert "more than once" in body["error_description"]
    # The same form without the repeat is a good login.
    r = api.post("/api/auth/token", data=good.format(**user),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text


def test_token_refuses_a_repeated_refresh_token(api, new_user):
    user = new_user("oauth")
    form = "grant_type=refresh_token&refresh_token={0}&refresh_token={0}".format(user["refresh_token"])
    r = api.post("/api/auth/token", data=form,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    # Refused before anything was done: the token still rotates once.
    r = api.post("/api/auth/token", data={"grant_type": "refresh_token",
                                          "refresh_token": user["refresh_token"]})
    assert r.status_code == 200, r.text


# --- bidirectional controls in display names and chat titles ---------------

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c"]


def assert_field_error(r, field):
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert "bidirectional" in errors.get(field, ""), errors


@pytest.mark.parametrize("mark", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_bidi_controls_refused_in_names_and_titles(api, new_user, mark):
    alice = new_user("bidi")
    spoof = "bob" + mark + "gnp.exe"
    # Registration, JSON and form alike: nothing is made.
    before = api.get("/api/users?q=bidispoof", token=alice).json()["users"]
    name = "bidispoof" + os.urandom(4).hex()
    body = {"username": name, "email": name + "@example.test", "password": "correct horse",
            "display_name": spoof}
    assert_field_error(api.post("/api/auth/register", json=body), "display_name")
    assert_field_error(api.post("/api/auth/register", data=body), "display_name")
    assert api.get("/api/users?q=bidispoof", token=alice).json()["users"] == before
    # The profile.
    assert_field_error(api.patch("/api/users/me", token=alice, json={"display_name": spoof}),
                       "display_name")
    assert api.get("/api/users/me", token=alice).json()["display_name"] == alice["user"]["display_name"]
    # A group's title, new or changed.
    assert_field_error(api.post("/api/chats", token=alice,
                                json={"type": "group", "title": spoof, "member_ids": []}), "title")
    chat = api.post("/api/chats", token=alice,
                    json={"type": "group", "title": "plain", "member_ids": []})
    assert chat.status_code == 201, chat.text
    assert_field_error(api.patch(f"/api/chats/{chat.json()['id']}", token=alice,
                                 json={"title": spoof}), "title")
    assert api.get(f"/api/chats/{chat.json()['id']}", token=alice).json()["title"] == "plain"


def test_right_to_left_names_and_marks_in_text_stay_allowed(api, new_user):
    alice = new_user("rtl")
    r = api.patch("/api/users/me", token=alice, json={"display_name": "שלום مرحبا"})
    assert r.status_code == 200 and r.json()["display_name"] == "שלום مرحبا", r.text
    r = api.patch("/api/users/me", token=alice, json={"about": "\u202bשלום\u202c"})
    assert r.status_code == 200, r.text
    r = api.post("/api/chats", token=alice, json={"type": "group", "title": "קבוצה", "member_ids": []})
    assert r.status_code == 201, r.text


# --- registrations per client address --------------------------------------

def register_from(stack, source, prefix="reg"):
    name = f"{prefix}{os.urandom(5).hex()}"
    return request_from(stack, source, "POST", "/api/auth/register",
                        {"username": name, "email": name + "@example.test",
                         "password": "correct horse"}) + (name,)


def test_registrations_limited_per_address(stack):
    source, other = own_address(4), own_address(5)
    limit = 3
    with stack.restarted("auth", MSGR_REGISTER_MAX_PER_ADDR=limit):
        # Earlier runs of this test (a kept stack) may have used the address.
        stack.psql("DELETE FROM registrations_per_addr WHERE addr IN (%s, %s)", source, other)
        # A refused registration (a name taken) does not count.
        status, _, _, taken = register_from(stack, source)
        assert status == 201
        dup = request_from(stack, source, "POST", "/api/auth/register",
                           {"username": taken, "email": taken + "x@example.test",
                            "password": "correct horse"})
        assert dup[0] == 409, dup
        for _ in range(limit - 1):
            status, _, body, _ = register_from(stack, source)
            assert status == 201, body
        status, headers, body, name = register_from(stack, source)
        assert status == 429, body
        problem = json.loads(body)
        assert problem["code"] == "too_many_registrations", problem
        assert headers["content-type"].startswith("application/problem+json")
        assert 3500 <= int(headers["retry-after"]) <= 3600, headers
        # Nothing was made.
        assert stack.psql("SELECT count(*) FROM users WHERE username = %s", name)[0][0] == 0
        # Another address is not affected.
        status, _, body, _ = register_from(stack, other)
        assert status == 201, body
        # The window passed: the address may register again.
        stack.psql("UPDATE registrations_per_addr SET window_start = now() - interval '61 minutes' "
                   "WHERE addr = %s", source)
        status, _, body, _ = register_from(stack, source)
        assert status == 201, body
        # Racing registrations from one address: no more than the limit.
        racer = own_address(6)
        stack.psql("DELETE FROM registrations_per_addr WHERE addr = %s", racer)
        with ThreadPoolExecutor(6) as pool:
            statuses = sorted(r[0] for r in pool.map(lambda _: register_from(stack, racer), range(6)))
        assert statuses == [201] * limit + [429] * (6 - limit), statuses


# --- failed logins per (login, client address) ------------------------------

def forget_failures(stack, *addresses):
    """Earlier runs of a test (a kept stack) may have failed from these."""
    for addr in addresses:
        stack.psql("DELETE FROM login_failures WHERE key = %s OR key LIKE %s", addr, "% " + addr)


def login_from(stack, source, login, password):
    return request_from(stack, source, "POST", "/api/auth/login",
                        {"login": login, "password": password})


def test_failed_logins_limited_per_login_and_address(stack, new_user):
    limit = int(stack.env["MSGR_LOGIN_MAX_PER_USER"])
    stranger, owner = own_address(7), own_address(8)
    forget_failures(stack, stranger, owner)
    alice = new_user("pair")
    # The stranger guesses with the username and with the e-mail: one
    # login, one count.
    for i in range(limit):
        login = alice["username"] if i % 2 else alice["email"].upper()
        status, _, body = login_from(stack, stranger, login, "wrong horse")
        assert status == 401, body
    # That pair is locked, the right password too, by either name.
    for login in (alice["username"], alice["email"]):
        status, headers, body = login_from(stack, stranger, login, alice["password"])
        assert status == 429, body
        assert json.loads(body)["code"] == "too_many_attempts"
        assert int(headers["retry-after"]) > 0
    # The owner, from elsewhere, is not locked out, by either name.
    for login in (alice["username"], alice["email"]):
        status, _, body = login_from(stack, owner, login, alice["password"])
        assert status == 200, body
    # A name that names nobody counts as typed, apart from the accounts.
    nobody = "nobody" + os.urandom(4).hex()
    for _ in range(limit):
        assert login_from(stack, owner, nobody, "wrong horse")[0] == 401
    assert login_from(stack, owner, nobody, "wrong horse")[0] == 429
    assert login_from(stack, owner, alice["username"], alice["password"])[0] == 200


def test_a_good_login_clears_only_its_own_pair(stack, new_user):
    limit = int(stack.env["MSGR_LOGIN_MAX_PER_USER"])
    here, there = own_address(9), own_address(10)
    forget_failures(stack, here, there)
    bob = new_user("pair")
    for _ in range(limit - 1):
        assert login_from(stack, here, bob["username"], "wrong horse")[0] == 401
        assert login_from(stack, there, bob["email"], "wrong horse")[0] == 401
    # A good login from here forgets here's failures, not there's.
    assert login_from(stack, here, bob["email"], bob["password"])[0] == 200
    assert login_from(stack, there, bob["username"], "wrong horse")[0] == 401
    assert login_from(stack, there, bob["username"], bob["password"])[0] == 429
    for _ in range(limit - 1):
        assert login_from(stack, here, bob["username"], "wrong horse")[0] == 401
    assert login_from(stack, here, bob["username"], bob["password"])[0] == 200


def test_master_forgets_counts_past_their_window(stack):
    addr = own_address(11)
    forget_failures(stack, addr)
    stack.psql("DELETE FROM registrations_per_addr WHERE addr = %s", addr)
    stack.psql("INSERT INTO login_failures (scope, key, window_start, failures) VALUES "
               "('addr', %s, now() - interval '2 hours', 3), "
               "('pair', 'name:old ' || %s, now() - interval '2 hours', 3), "
               "('pair', 'name:new ' || %s, now(), 3)", addr, addr, addr)
    stack.psql("INSERT INTO registrations_per_addr VALUES (%s, now() - interval '61 minutes', 9)", addr)

    def left():
        return (stack.psql("SELECT count(*) FROM login_failures WHERE key = %s OR key LIKE %s",
                           addr, "% " + addr)[0][0]
                + stack.psql("SELECT count(*) FROM registrations_per_addr WHERE addr = %s", addr)[0][0])

    assert left() == 4
    with stack.restarted("auth", MSGR_PRUNE_INTERVAL=1):
        deadline = time.time() + 30
        while left() > 1 and time.time() < deadline:
            time.sleep(0.5)
    # Only the count still in its window stays.
    assert left() == 1
    assert stack.psql("SELECT key FROM login_failures WHERE key LIKE %s", "% " + addr) == [("name:new " + addr,)]
    assert "failed-login and registration counts past their window" in stack.log("auth")
