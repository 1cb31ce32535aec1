"""The user's own settings (API.md "Notifications"): GET and PATCH
/api/users/me/settings, defaults, partial changes, validation, and that one
user's settings are theirs alone; the app's language and its default from
the registration's Accept-Language. Through nginx."""

import uuid

import pytest

from chatkit import assert_problem

DEFAULTS = {"email_notifications": "all", "email_delay_minutes": 10, "language": "en"}


def settings(api, user):
    r = api.get("/api/users/me/settings", token=user)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def patch(api, user, body):
    return api.patch("/api/users/me/settings", token=user, json=body)


def test_defaults(new_user, api):
    assert settings(api, new_user("alice")) == DEFAULTS


def test_patch_one_or_both_and_keep(new_user, api):
    alice, bob = new_user("alice"), new_user("bob")
    r = patch(api, alice, {"email_notifications": "mentions"})
    assert r.status_code == 200, r.text
    assert r.json() == {**DEFAULTS, "email_notifications": "mentions"}
    r = patch(api, alice, {"email_delay_minutes": 1440})
    assert r.json() == {**DEFAULTS, "email_notifications": "mentions", "email_delay_minutes": 1440}
    r = patch(api, alice, {"email_notifications": "none", "email_delay_minutes": 1})
    assert r.json() == {**DEFAULTS, "email_notifications": "none", "email_delay_minutes": 1}
    r = patch(api, alice, {"language": "uk"})
    assert r.json() == {"email_notifications": "none", "email_delay_minutes": 1, "language": "uk"}
    r = patch(api, alice, {"language": "ru", "email_delay_minutes": 5})
    assert r.json() == {"email_notifications": "none", "email_delay_minutes": 5, "language": "ru"}
    assert settings(api, alice) == {"email_notifications": "none", "email_delay_minutes": 5, "language": "ru"}
    # Nothing given (or only unknown members, ignored as everywhere in the
    # API): the settings as they are.
    assert patch(api, alice, {}).json() == settings(api, alice)
    assert patch(api, alice, {"colour": "red"}).json() == settings(api, alice)
    # Another user's are untouched.
    assert settings(api, bob) == DEFAULTS


@pytest.mark.parametrize("body,field", [
    ({"email_notifications": "some"}, "email_notifications"),
    ({"email_notifications": "ALL"}, "email_notifications"),
    ({"email_notifications": ""}, "email_notifications"),
    ({"email_notifications": None}, "email_notifications"),
    ({"email_notifications": 1}, "email_notifications"),
    ({"email_delay_minutes": 0}, "email_delay_minutes"),
    ({"email_delay_minutes": 1441}, "email_delay_minutes"),
    ({"email_delay_minutes": -5}, "email_delay_minutes"),
    ({"email_delay_minutes": "10"}, "email_delay_minutes"),
    ({"email_delay_minutes": 2.5}, "email_delay_minutes"),
    ({"email_delay_minutes": None}, "email_delay_minutes"),
    ({"email_delay_minutes": True}, "email_delay_minutes"),
    ({"language": "fr"}, "language"),
    ({"language": "EN"}, "language"),
    ({"language": "ua"}, "language"),
    ({"language": "ru-RU"}, "language"),
    ({"language": ""}, "language"),
    ({"language": None}, "language"),
    ({"language": 1}, "language"),
])
def test_bad_values_422_and_nothing_changes(new_user, api, body, field):
    alice = new_user("alice")
    # With a good value of the other setting: that is not written either.
    good = {"email_notifications": "none", "email_delay_minutes": 30, "language": "uk"}
    body = {**{k: v for k, v in good.items() if k != field}, **body}
    problem = assert_problem(patch(api, alice, body), 422, "validation_failed")
    assert field in problem["errors"], problem
    assert settings(api, alice) == DEFAULTS


def test_malformed_body(new_user, api):
    alice = new_user("alice")
    r = api.patch("/api/users/me/settings", token=alice, data=b"{",
                  headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    r = api.patch("/api/users/me/settings", token=alice, data=b"[]",
                  headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
    assert settings(api, alice) == DEFAULTS


def test_needs_a_live_session(new_user, api):
    assert_problem(api.get("/api/users/me/settings"), 401)
    assert_problem(api.patch("/api/users/me/settings", json={"email_notifications": "none"}), 401)
    alice = new_user("alice")
    r = api.post("/api/auth/logout", json={"refresh_token": alice["refresh_token"]})
    assert r.status_code == 204, r.text
    assert_problem(api.get("/api/users/me/settings", token=alice), 401, "session_revoked")
    assert_problem(patch(api, alice, {"email_notifications": "none"}), 401, "session_revoked")


def register(api, accept_language):
    """A new user registered with this Accept-Language header (None: none)."""
    name = "lang" + uuid.uuid4().hex[:10]
    headers = {"Accept-Language": accept_language} if accept_language is not None else {}
    r = api.post("/api/auth/register", headers=headers,
                 json={"username": name, "email": name + "@example.test", "password": "pw-" + name})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("header,language", [
    (None, "en"),
    ("", "en"),
    ("ru", "ru"),
    ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
    ("uk-UA,uk;q=0.9", "uk"),
    ("UK", "uk"),
    ("de-DE,de;q=0.9,uk;q=0.8,ru;q=0.7", "uk"),
    # English preferred, Russian understood: English.
    ("en-US,en;q=0.9,ru;q=0.8", "en"),
    # The q decides, not the order; q=0 is "not this one".
    ("en;q=0.5, ru;q=0.8", "ru"),
    ("ru;q=0, en", "en"),
    ("uk;q=0,de", "en"),
    ("fr-FR, de", "en"),
    # A malformed q leaves its item out, never fails the registration.
    ("ru;q=2, uk;q=abc, en;q=0.1", "en"),
    ("ru;q=0.5.5", "en"),
    ("*", "en"),
])
def test_language_from_accept_language(api, header, language):
    user = register(api, header)
    assert settings(api, user)["language"] == language
    # The rest are the defaults: the row the registration stored is whole.
    assert settings(api, user) == {**DEFAULTS, "language": language}
    # And a change keeps to what was asked.
    r = patch(api, user, {"email_notifications": "mentions"})
    assert r.json() == {**DEFAULTS, "email_notifications": "mentions", "language": language}
