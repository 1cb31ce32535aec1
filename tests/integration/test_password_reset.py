"""Password reset by mail (API.md "Password reset"): the request is 202
whatever the address, at most 3 mails an hour per address, the mail (read
from the test SMTP server) links to MSGR_PUBLIC_URL + "/#/reset?token=",
the token is stored only hashed, single use, valid an hour, and the reset
ends every session of the account."""

import hashlib
import re
import uuid

import pytest

from helpers import wait_until

LINK = re.compile(r"(\S+)/#/reset\?token=([A-Za-z0-9_-]+)")


def request_reset(api, email):
    r = api.post("/api/auth/password-reset", json={"email": email})
    assert r.status_code == 202, r.text
    assert r.content == b""
    return r


def reset_link(stack, email, count=1):
    mails = stack.wait_mails(email, count)
    mail = mails[count - 1]
    text = mail.get_body(("plain",)).get_content()
    m = LINK.search(text)
    assert m, text
    assert m.group(0) in mail.get_body(("html",)).get_content()
    return m.group(1), m.group(2), mail


def test_reset_by_the_mailed_link(stack, api, new_user):
    u = new_user("reset")
    other = api.post("/api/auth/login", json={"login": u["username"], "password": u["password"]})
    assert other.status_code == 200
    request_reset(api, u["email"].upper())
    base, token, mail = reset_link(stack, u["email"])
    assert base == stack.base_url
    assert mail["Subject"] == "Reset your Messenger password"
    # Only the hash is stored.
    assert stack.psql("SELECT count(*) FROM password_resets WHERE token_hash = %s", token)[0][0] == 0
    assert stack.psql("SELECT count(*) FROM password_resets WHERE token_hash = %s",
                      hashlib.sha256(token.encode()).hexdigest())[0][0] == 1
    # Nor does the sent mail keep the link.
    wait_until(lambda: stack.psql("SELECT sent_at IS NOT NULL FROM mail_outbox WHERE to_addr = %s",
                                  u["email"])[0][0], message="the mail marked sent")
    assert stack.psql("SELECT count(*) FROM mail_outbox WHERE body_text LIKE %s OR body_html LIKE %s",
                      f"%{token}%", f"%{token}%")[0][0] == 0

    r = api.post("/api/auth/password-reset/confirm", json={"token": token, "password": "a new password"})
    assert r.status_code == 204, r.text
    # Every session ended, the one signed in elsewhere too.
    for t in (u["access_token"], other.json()["access_token"]):
        assert api.get("/api/users/me", token=t).status_code == 401
    assert api.post("/api/auth/refresh", json={"refresh_token": u["refresh_token"]}).status_code == 401
    bad = api.post("/api/auth/login", json={"login": u["username"], "password": u["password"]})
    assert bad.status_code == 401
    good = api.post("/api/auth/login", json={"login": u["username"], "password": "a new password"})
    assert good.status_code == 200

    # Used once.
    again = api.post("/api/auth/password-reset/confirm", json={"token": token, "password": "another one"})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"


def test_unknown_address_is_202_and_sends_nothing(stack, api):
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.test"
    request_reset(api, email)
    known = f"k-{uuid.uuid4().hex[:8]}"
    u = api.new_user(known)
    request_reset(api, u["email"])
    stack.wait_mails(u["email"])
    assert stack.mails(email) == []


def test_three_an_hour_per_address(stack, api, new_user):
    u = new_user("thrice")
    for _ in range(5):
        request_reset(api, u["email"])
    stack.wait_mails(u["email"], 3)
    # The two beyond the limit: no row, no mail.
    stack.psql("NOTIFY msgr_mail")
    assert stack.psql("SELECT count(*) FROM mail_outbox WHERE to_addr = %s", u["email"])[0][0] == 3
    assert len(stack.mails(u["email"])) == 3


def test_expired_and_unknown_tokens_are_invalid(stack, api, new_user):
    u = new_user("expired")
    request_reset(api, u["email"])
    _, token, _ = reset_link(stack, u["email"])
    stack.psql("UPDATE password_resets SET expires_at = now() - interval '1 second' "
               "WHERE token_hash = %s", hashlib.sha256(token.encode()).hexdigest())
    for t in (token, "not-a-token"):
        r = api.post("/api/auth/password-reset/confirm", json={"token": t, "password": "long enough"})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid_token"
    assert api.get("/api/users/me", token=u).status_code == 200


def test_a_reset_uses_up_the_other_links(stack, api, new_user):
    u = new_user("twice")
    request_reset(api, u["email"])
    request_reset(api, u["email"])
    _, first, _ = reset_link(stack, u["email"], 1)
    _, second, _ = reset_link(stack, u["email"], 2)
    assert first != second
    assert api.post("/api/auth/password-reset/confirm",
                    json={"token": second, "password": "the second one"}).status_code == 204
    r = api.post("/api/auth/password-reset/confirm", json={"token": first, "password": "the first one"})
    assert r.status_code == 400


@pytest.mark.parametrize("path,body,field", [
    ("/api/auth/password-reset", {}, "email"),
    ("/api/auth/password-reset", {"email": "no-at-sign"}, "email"),
    ("/api/auth/password-reset", {"email": 5}, "email"),
    ("/api/auth/password-reset/confirm", {"password": "long enough"}, "token"),
    ("/api/auth/password-reset/confirm", {"token": "x", "password": "short"}, "password"),
])
def test_bad_input_is_422_per_field(api, path, body, field):
    r = api.post(path, json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"]
