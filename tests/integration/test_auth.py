"""Accounts, tokens and profiles (API.md "Auth and users") through nginx."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import threading
import time
import uuid

import pytest
import requests


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(header: dict, claims: dict, key: bytes, digest=hashlib.sha256) -> str:
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(key, signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(sig)


def unique_name(prefix="u"):
    return (prefix + uuid.uuid4().hex)[:20]


@pytest.fixture
def url(stack):
    return lambda path: stack.base_url.rstrip("/") + path


@pytest.fixture
def secret(stack):
    with open(os.path.join(stack.var, "secret"), "rb") as f:
        return f.read().rstrip(b"\r\n")


def register(url, **overrides):
    name = unique_name()
    body = {"username": name, "email": name + "@example.com", "password": "correct horse"}
    body.update(overrides)
    return requests.post(url("/api/auth/register"), json=body, timeout=30)


def auth_header(token):
    return {"Authorization": "Bearer " + token}


def assert_problem(r, status, code=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    if code:
        assert body["code"] == code, body
    return body


# --- health and routing ---------------------------------------------------

def test_health(url):
    r = requests.get(url("/api/health"), timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_wrong_method_is_405_with_allow(url):
    r = requests.delete(url("/api/auth/login"), timeout=10)
    assert_problem(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_unknown_api_path_is_404_problem(url):
    r = requests.get(url("/api/auth/nothing-here"), timeout=10)
    assert_problem(r, 404)


# --- register -------------------------------------------------------------

def test_register_returns_user_and_token_pair(url):
    name = unique_name("Reg")
    r = register(url, username=name, email=name.upper() + "@Example.COM")
    assert r.status_code == 201, r.text
    body = r.json()
    user = body["user"]
    assert user["username"] == name.lower()
    assert user["display_name"] == name.lower()
    assert user["email"] == name.upper() + "@Example.COM"
    assert user["about"] == ""
    assert user["avatar_url"] is None
    assert user["online"] is False
    assert user["last_seen_at"] is None
    assert isinstance(user["id"], int) and user["id"] > 0
    assert user["created_at"].endswith("Z") and len(user["created_at"]) == 24
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert len(body["refresh_token"]) == 43
    assert "password" not in json.dumps(body)
    assert r.headers["Cache-Control"] == "no-store"
    me = requests.get(url("/api/users/me"), headers=auth_header(body["access_token"]), timeout=10)
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]


def test_register_trims_display_name(url):
    r = register(url, display_name="  Ada Lovelace \u00a0")
    assert r.status_code == 201, r.text
    assert r.json()["user"]["display_name"] == "Ada Lovelace"


def test_register_duplicate_username_case_insensitive(url):
    name = unique_name("dup")
    assert register(url, username=name).status_code == 201
    r = register(url, username=name.upper())
    assert_problem(r, 409, "username_taken")


def test_register_duplicate_email_case_insensitive(url):
    email = unique_name("mail") + "@example.com"
    assert register(url, email=email).status_code == 201
    r = register(url, email=email.upper())
    assert_problem(r, 409, "email_taken")


def test_concurrent_registrations_of_one_name_create_one_account(url):
    name = unique_name("race")
    results = []

    def attempt():
        results.append(register(url, username=name, email=unique_name() + "@example.com").status_code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409, 409, 409]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"username": "ab"}, "username"),
        ({"username": "a" * 33}, "username"),
        ({"username": "bad name"}, "username"),
        ({"username": "émile"}, "username"),
        ({"username": 12345}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b@c"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": "has\u0000nul inside"}, "password"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 65}, "display_name"),
        ({"display_name": None}, "display_name"),
    ],
)
def test_register_validation_errors_per_field(url, overrides, field):
    r = register(url, **overrides)
    body = assert_problem(r, 422, "validation_failed")
    assert field in body["errors"], body
    assert isinstance(body["errors"][field], str)


def test_register_password_counts_code_points(url):
    # Eight code points in 24 bytes is long enough; seven is not.
    assert register(url, password="пароль🙂🙂").status_code == 201
    assert_problem(register(url, password="пароль🙂"), 422)


def test_register_missing_fields_listed_together(url):
    r = requests.post(url("/api/auth/register"), json={}, timeout=10)
    body = assert_problem(r, 422)
    assert set(body["errors"]) == {"username", "email", "password"}


def test_register_invalid_utf8_is_422(url):
    name = unique_name()
    raw = ('{"username":"%s","email":"%s@example.com","password":"pass\xff\xfeword"}' % (name, name))
    r = requests.post(url("/api/auth/register"), data=raw.encode("latin-1"),
                      headers={"Content-Type": "application/json"}, timeout=10)
    body = assert_problem(r, 422)
    assert "password" in body["errors"]


@pytest.mark.parametrize("raw", [b"{", b"[]", b"\"x\"", b"{\"username\": }", b"{} trailing", b"{'a':1}",
                                 b"{\"username\":NaN}", b"{\"n\":-Infinity}", b"{\"username\":\"a\tb\"}",
                                 b"{}\x00"])
def test_register_malformed_json_is_400(url, raw):
    r = requests.post(url("/api/auth/register"), data=raw,
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert_problem(r, 400, "malformed_json")


def test_register_wrong_content_type_is_415(url):
    r = requests.post(url("/api/auth/register"), data=b"hello",
                      headers={"Content-Type": "text/plain"}, timeout=10)
    assert_problem(r, 415)


def test_register_oversized_body_is_413(url):
    r = requests.post(url("/api/auth/register"),
                      json={"username": "x", "pad": "y" * 20000}, timeout=10)
    assert r.status_code == 413, r.text


def test_register_accepts_form_encoding(url):
    name = unique_name()
    r = requests.post(url("/api/auth/register"),
                      data={"username": name, "email": name + "@example.com", "password": "a form password"},
                      timeout=30)
    assert r.status_code == 201, r.text


def test_failed_registration_changes_nothing(url, stack):
    name = unique_name("nochange")
    r = register(url, username=name, password="short")
    assert r.status_code == 422
    rows = stack.psql("SELECT count(*) FROM users WHERE username = %s", name)
    assert rows[0][0] == 0


# --- login ----------------------------------------------------------------

def test_login_by_username_and_by_email(url):
    r = register(url)
    user = r.json()["user"]
    for login in (user["username"], user["email"].upper()):
        res = requests.post(url("/api/auth/login"),
                            json={"login": login, "password": "correct horse"}, timeout=30)
        assert res.status_code == 200, res.text
        pair = res.json()
        assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
        me = requests.get(url("/api/users/me"), headers=auth_header(pair["access_token"]), timeout=10)
        assert me.json()["id"] == user["id"]


def test_login_wrong_password_and_unknown_user_look_the_same(url):
    user = register(url).json()["user"]
    wrong = requests.post(url("/api/auth/login"),
                          json={"login": user["username"], "password": "wrong horse"}, timeout=30)
    unknown = requests.post(url("/api/auth/login"),
                            json={"login": unique_name("ghost"), "password": "wrong horse"}, timeout=30)
    a = assert_problem(wrong, 401, "invalid_credentials")
    b = assert_problem(unknown, 401, "invalid_credentials")
    assert a.pop("request_id") != b.pop("request_id")  # each names its own request
    assert a == b


def test_login_validation(url):
    r = requests.post(url("/api/auth/login"), json={"login": "someone"}, timeout=10)
    body = assert_problem(r, 422)
    assert "password" in body["errors"]


def test_login_throttled_per_username(url, stack):
    user = register(url).json()["user"]
    limit = int(stack.env.get("MSGR_LOGIN_MAX_PER_USER", "10"))
    for _ in range(limit):
        r = requests.post(url("/api/auth/login"),
                          json={"login": user["username"], "password": "wrong horse"}, timeout=30)
        assert r.status_code == 401
    r = requests.post(url("/api/auth/login"),
                      json={"login": user["username"], "password": "correct horse"}, timeout=30)
    assert_problem(r, 429, "too_many_attempts")
    assert int(r.headers["Retry-After"]) > 0
    # The limit is per name: another account still logs in.
    other = register(url).json()["user"]
    ok = requests.post(url("/api/auth/login"),
                       json={"login": other["username"], "password": "correct horse"}, timeout=30)
    assert ok.status_code == 200


def post_from(stack, source_ip, path, body):
    """POST from another loopback address, so that per-address limits apply to it alone."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30,
                                      source_address=(source_ip, 0))
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_login_throttled_per_address(url, stack):
    limit = int(stack.env.get("MSGR_LOGIN_MAX_PER_ADDR", "100"))
    source = "127.0.0.%d" % (10 + os.getpid() % 200)
    for i in range(limit):
        status, _, _ = post_from(stack, source, "/api/auth/login",
                                 {"login": unique_name("nobody"), "password": "wrong horse"})
        assert status == 401
    user = register(url).json()["user"]
    status, headers, body = post_from(stack, source, "/api/auth/login",
                                      {"login": user["username"], "password": "correct horse"})
    assert status == 429, body
    assert int(headers["Retry-After"]) > 0
    # Other addresses are not affected.
    ok = requests.post(url("/api/auth/login"),
                       json={"login": user["username"], "password": "correct horse"}, timeout=30)
    assert ok.status_code == 200


# --- OAuth2 token endpoint -----------------------------------------------

def test_token_password_grant(url):
    user = register(url).json()["user"]
    r = requests.post(url("/api/auth/token"),
                      data={"grant_type": "password", "username": user["username"],
                            "password": "correct horse"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    assert r.headers["Cache-Control"] == "no-store"


def test_token_password_grant_wrong_password(url):
    user = register(url).json()["user"]
    r = requests.post(url("/api/auth/token"),
                      data={"grant_type": "password", "username": user["username"],
                            "password": "wrong horse"}, timeout=30)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_token_refresh_grant_rotates(url):
    pair = register(url).json()
    r = requests.post(url("/api/auth/token"),
                      data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
                      timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] != pair["refresh_token"]
    again = requests.post(url("/api/auth/token"),
                          data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
                          timeout=10)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "form, error",
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": "password", "username": "x"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nonsense"}, "invalid_grant"),
    ],
)
def test_token_errors_are_oauth_style(url, form, error):
    r = requests.post(url("/api/auth/token"), data=form, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"] == error


def test_token_requires_form_encoding(url):
    r = requests.post(url("/api/auth/token"), json={"grant_type": "password"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


# --- refresh and logout ---------------------------------------------------

def refresh(url, token):
    return requests.post(url("/api/auth/refresh"), json={"refresh_token": token}, timeout=10)


def test_refresh_rotates_and_reuse_revokes_session(url):
    first = register(url).json()
    second = refresh(url, first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    me = requests.get(url("/api/users/me"), headers=auth_header(second["access_token"]), timeout=10)
    assert me.status_code == 200
    # Reuse of the rotated token: refused, and the whole session is revoked.
    assert_problem(refresh(url, first["refresh_token"]), 401, "invalid_refresh_token")
    assert_problem(refresh(url, second["refresh_token"]), 401, "invalid_refresh_token")


def test_reuse_revokes_only_that_session(url):
    user = register(url).json()
    other = requests.post(url("/api/auth/login"),
                          json={"login": user["user"]["username"], "password": "correct horse"},
                          timeout=30).json()
    assert refresh(url, user["refresh_token"]).status_code == 200
    assert refresh(url, user["refresh_token"]).status_code == 401
    assert refresh(url, other["refresh_token"]).status_code == 200


def test_concurrent_refresh_exactly_one_succeeds(url):
    token = register(url).json()["refresh_token"]
    statuses = []
    barrier = threading.Barrier(6)

    def attempt():
        barrier.wait()
        statuses.append(refresh(url, token).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 5, statuses


def test_refresh_validation(url):
    assert_problem(requests.post(url("/api/auth/refresh"), json={}, timeout=10), 422)
    assert_problem(refresh(url, "not-a-token"), 401, "invalid_refresh_token")


def test_logout_revokes_session(url):
    pair = register(url).json()
    r = requests.post(url("/api/auth/logout"), json={"refresh_token": pair["refresh_token"]}, timeout=10)
    assert r.status_code == 204
    assert r.content == b""
    assert_problem(refresh(url, pair["refresh_token"]), 401)
    # Logging out twice or with an unknown token is not an error.
    again = requests.post(url("/api/auth/logout"), json={"refresh_token": pair["refresh_token"]}, timeout=10)
    assert again.status_code == 204


def test_logout_validation(url):
    assert_problem(requests.post(url("/api/auth/logout"), json={"refresh_token": 5}, timeout=10), 422)


def test_expired_refresh_token_is_refused(url, stack):
    pair = register(url).json()
    digest = hashlib.sha256(pair["refresh_token"].encode()).hexdigest()
    stack.psql("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = %s", digest)
    assert_problem(refresh(url, pair["refresh_token"]), 401)


# --- access tokens --------------------------------------------------------

def test_me_without_token_is_401_with_challenge(url):
    r = requests.get(url("/api/users/me"), timeout=10)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def bad_tokens(secret, user_id):
    now = int(time.time())
    good_claims = {"sub": str(user_id), "iat": now, "exp": now + 600, "typ": "access"}
    hs256 = {"alg": "HS256", "typ": "JWT"}
    yield "garbage", "not.a.jwt"
    yield "forged", make_jwt(hs256, good_claims, b"another secret of at least thirty-two bytes")
    yield "expired", make_jwt(hs256, dict(good_claims, exp=now - 1), secret)
    yield "no exp", make_jwt(hs256, {k: v for k, v in good_claims.items() if k != "exp"}, secret)
    yield "not yet valid", make_jwt(hs256, dict(good_claims, nbf=now + 300), secret)
    # Numeric claims of another type are refused, not taken as absent.
    yield "nbf a string", make_jwt(hs256, dict(good_claims, nbf=str(now + 300)), secret)
    yield "nbf a fraction", make_jwt(hs256, dict(good_claims, nbf=now - 0.5), secret)
    yield "iat a string", make_jwt(hs256, dict(good_claims, iat=str(now)), secret)
    yield "exp a string", make_jwt(hs256, dict(good_claims, exp=str(now + 600)), secret)
    yield "sid a string", make_jwt(hs256, dict(good_claims, sid="1"), secret)
    yield "wrong typ", make_jwt(hs256, dict(good_claims, typ="refresh"), secret)
    yield "no typ", make_jwt(hs256, {k: v for k, v in good_claims.items() if k != "typ"}, secret)
    yield "HS512 same secret", make_jwt({"alg": "HS512", "typ": "JWT"}, good_claims, secret, hashlib.sha512)
    yield "HS384 same secret", make_jwt({"alg": "HS384", "typ": "JWT"}, good_claims, secret, hashlib.sha384)
    unsigned = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(good_claims).encode())
    yield "alg none", unsigned + "."
    yield "alg none no dot", unsigned
    yield "bad sub", make_jwt(hs256, dict(good_claims, sub="-5"), secret)
    yield "huge", "a" * 5000


def test_bad_access_tokens_are_refused(url, secret):
    pair = register(url).json()
    uid = pair["user"]["id"]
    # The secret really is what signs our tokens: a token made here passes.
    now = int(time.time())
    ours = make_jwt({"alg": "HS256", "typ": "JWT"},
                    {"sub": str(uid), "iat": now, "exp": now + 600, "typ": "access"}, secret)
    assert requests.get(url("/api/users/me"), headers=auth_header(ours), timeout=10).status_code == 200
    for name, token in bad_tokens(secret, uid):
        r = requests.get(url("/api/users/me"), headers=auth_header(token), timeout=10)
        assert r.status_code == 401, name
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), name
    # A refresh token never passes as an access token.
    r = requests.get(url("/api/users/me"), headers=auth_header(pair["refresh_token"]), timeout=10)
    assert r.status_code == 401


def test_access_token_claims(url):
    token = register(url).json()["access_token"]
    header, claims, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    header = json.loads(base64.urlsafe_b64decode(pad(header)))
    claims = json.loads(base64.urlsafe_b64decode(pad(claims)))
    assert header["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["sub"].isdigit()


# --- profiles -------------------------------------------------------------

def test_update_me(url):
    token = register(url).json()["access_token"]
    r = requests.patch(url("/api/users/me"), headers=auth_header(token),
                       json={"display_name": "  New Name ", "about": "line one\nline two"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "New Name"
    assert r.json()["about"] == "line one\nline two"
    assert "email" in r.json()
    # Fields left out stay as they are.
    r = requests.patch(url("/api/users/me"), headers=auth_header(token), json={"about": ""}, timeout=10)
    assert r.json()["display_name"] == "New Name"
    assert r.json()["about"] == ""


@pytest.mark.parametrize("body, field", [
    ({"display_name": ""}, "display_name"),
    ({"display_name": "x" * 65}, "display_name"),
    ({"about": "x" * 501}, "about"),
    ({"about": 7}, "about"),
])
def test_update_me_validation(url, body, field):
    token = register(url).json()["access_token"]
    r = requests.patch(url("/api/users/me"), headers=auth_header(token), json=body, timeout=10)
    assert field in assert_problem(r, 422)["errors"]
    assert requests.get(url("/api/users/me"), headers=auth_header(token), timeout=10).json()["about"] == ""


def test_update_me_needs_token(url):
    assert_problem(requests.patch(url("/api/users/me"), json={"about": "x"}, timeout=10), 401)


def test_get_user_by_id(url):
    a = register(url).json()
    b = register(url).json()
    r = requests.get(url("/api/users/%d" % b["user"]["id"]), headers=auth_header(a["access_token"]), timeout=10)
    assert r.status_code == 200
    assert r.json()["username"] == b["user"]["username"]
    assert "email" not in r.json()
    assert_problem(requests.get(url("/api/users/999999999"), headers=auth_header(a["access_token"]), timeout=10),
                   404, "user_not_found")
    assert_problem(requests.get(url("/api/users/abc"), headers=auth_header(a["access_token"]), timeout=10), 404)
    assert_problem(requests.get(url("/api/users/%d" % b["user"]["id"]), timeout=10), 401)


def test_search_users(url):
    tag = uuid.uuid4().hex[:8]
    me = register(url, username="srch" + tag + "a", display_name="Searcher").json()
    prefix_hit = register(url, username="srch" + tag + "b", display_name="Bob").json()["user"]
    name_hit = register(url, display_name="Mr SRCH%sB Smith" % tag).json()["user"]
    headers = auth_header(me["access_token"])
    r = requests.get(url("/api/users"), params={"q": "SRCH" + tag}, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    ids = [u["id"] for u in r.json()["users"]]
    assert me["user"]["id"] not in ids  # the caller is excluded
    assert ids == [prefix_hit["id"], name_hit["id"]]  # prefix matches first
    assert all("email" not in u for u in r.json()["users"])
    r = requests.get(url("/api/users"), params={"q": "srch" + tag, "limit": 1}, headers=headers, timeout=10)
    assert len(r.json()["users"]) == 1


def test_search_users_escapes_like_patterns(url):
    me = register(url).json()
    r = requests.get(url("/api/users"), params={"q": "%"}, headers=auth_header(me["access_token"]), timeout=10)
    assert r.status_code == 200
    assert all("%" in u["display_name"] for u in r.json()["users"])


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "a", "limit": 0}, {"q": "a", "limit": 51},
                                    {"q": "a", "limit": "x"}])
def test_search_users_validation(url, params):
    me = register(url).json()
    r = requests.get(url("/api/users"), params=params, headers=auth_header(me["access_token"]), timeout=10)
    assert_problem(r, 422)


def test_search_users_needs_token(url):
    assert_problem(requests.get(url("/api/users"), params={"q": "a"}, timeout=10), 401)


def test_request_log_has_no_secrets(url, stack):
    pair = register(url, password="a very secret password").json()
    requests.get(url("/api/users/me"), headers=auth_header(pair["access_token"]), timeout=10)
    requests.get(url("/api/users"), params={"q": "needle-in-query"},
                 headers=auth_header(pair["access_token"]), timeout=10)
    with open(os.path.join(stack.var, "log", "auth.log"), encoding="utf-8", errors="replace") as f:
        log = f.read()
    assert "GET /api/users/me 200" in log
    for secret_text in ("a very secret password", pair["access_token"], pair["refresh_token"], "needle-in-query"):
        assert secret_text not in log
