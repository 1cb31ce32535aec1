"""The user's own settings (API.md "Notifications"): GET and PATCH
/api/users/me/settings, defaults, partial changes, validation, and that one
user's settings are theirs alone. Through nginx."""

import pytest

from chatkit import assert_problem

DEFAULTS = {"email_notifications": "all", "email_delay_minutes": 10}


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
    assert r.json() == {"email_notifications": "mentions", "email_delay_minutes": 10}
    r = patch(api, alice, {"email_delay_minutes": 1440})
    assert r.json() == {"email_notifications": "mentions", "email_delay_minutes": 1440}
    r = patch(api, alice, {"email_notifications": "none", "email_delay_minutes": 1})
    assert r.json() == {"email_notifications": "none", "email_delay_minutes": 1}
    assert settings(api, alice) == {"email_notifications": "none", "email_delay_minutes": 1}
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
])
def test_bad_values_422_and_nothing_changes(new_user, api, body, field):
    alice = new_user("alice")
    # With a good value of the other setting: that is not written either.
    good = {"email_notifications": "none", "email_delay_minutes": 30}
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
