"""The account in the browser (issue 17): "Show password", "Forgot
password?" and the reset link's page, the whole reset by the link the
server mailed (read from the stack's SMTP sink), the profile's Devices and
Change password, and a session ended elsewhere signing this device out."""

import re

import pytest

from ui import sign_in, wait_app

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])


def viewer(browser, phone):
    return browser(width=390, height=844, mobile=True) if phone else browser()


def open_profile(b):
    b.click(".sidebar .me")
    b.wait_for(".modal.profile")


LINK = re.compile(r"(\S+/#/reset\?token=[A-Za-z0-9_-]+)")


def sessions(api, user):
    r = api.get("/api/auth/sessions", token=user)
    assert r.status_code == 200, r.text
    return r.json()["sessions"]


@PHONE
def test_show_password_forgot_and_reset_pages(browser, phone):
    b = viewer(browser, phone)
    b.open("/")
    b.wait_for(".auth-card")
    b.type("#f-password", "secret words")
    pw = b.find("#f-password")
    assert pw.get_attribute("type") == "password"
    b.click('.field[data-field="password"] .pw-toggle')
    assert pw.get_attribute("type") == "text"
    assert b.find('.field[data-field="password"] .pw-toggle').get_attribute("aria-pressed") == "true"
    b.click('.field[data-field="password"] .pw-toggle')
    assert pw.get_attribute("type") == "password"

    # "Forgot password?" asks for the e-mail address.
    b.click(".auth-forgot .link")
    b.wait_for('.auth-screen[data-mode="forgot"] #f-email')
    b.click(".auth-switch .link")
    b.wait_for("#f-login")

    # The reset link's page: two new passwords, each with its toggle; two
    # that differ are refused here.
    b.open("/#/reset?token=abc")
    b.wait_for('.auth-screen[data-mode="reset"]')
    assert len(b.finds(".auth-form .pw-toggle")) == 2
    b.type("#f-password", "a new password 1")
    b.type("#f-password2", "a new password 2")
    b.click(".auth-form button[type=submit]")
    b.wait_for('.field[data-field="password2"].invalid')
    assert "differ" in b.text('.field[data-field="password2"] .field-error')
    # "Back to sign in" forgets the link.
    b.click(".auth-switch .link")
    b.wait_for("#f-login")
    assert "reset" not in b.driver.current_url


def submit_reset(b, password):
    b.wait_for('.auth-screen[data-mode="reset"]')
    b.type("#f-password", password)
    b.type("#f-password2", password)
    b.click(".auth-form button[type=submit]")


@PHONE
def test_reset_by_the_mailed_link(browser, stack, api, new_user, phone):
    u = new_user("rsb")
    b = viewer(browser, phone)
    b.open("/")
    b.click(".auth-forgot .link")
    b.type("#f-email", u["email"])
    b.click(".auth-form button[type=submit]")
    assert "a link is on its way" in b.text(".auth-form .auth-notice")

    # The link as mailed, followed in the browser.
    mail = stack.wait_mails(u["email"])[0]
    link = LINK.search(mail.get_body(("plain",)).get_content()).group(1)
    assert link.startswith(stack.base_url + "/#/reset?token=")
    b.driver.get(link)
    submit_reset(b, "the mailed new password")
    b.wait_for('.auth-screen[data-mode="login"]')
    assert "Your password was changed" in b.text(".auth-notice")
    assert "reset" not in b.driver.current_url

    # The old password is refused, the new one signs in.
    b.allow("status of 401")
    b.type("#f-login", u["username"])
    b.type("#f-password", u["password"])
    b.click(".auth-form button[type=submit]")
    b.wait(lambda d: "Wrong username, email or password" in b.text(".auth-form .form-error"), 10, "the old password refused")
    b.type("#f-password", "the mailed new password")
    b.click(".auth-form button[type=submit]")
    wait_app(b)
    assert api.post("/api/auth/login", json={"login": u["username"], "password": u["password"]}).status_code == 401

    # The used link, followed again (the page opens in a signed-in tab too).
    b.allow("status of 400")
    b.driver.get(link)
    submit_reset(b, "yet another password")
    b.wait(lambda d: "This link has expired or was used" in b.text(".auth-form .form-error"), 10, "the used link refused")
    assert api.post("/api/auth/login", json={"login": u["username"], "password": "the mailed new password"}).status_code == 200


@PHONE
def test_devices_end_one_and_revoked_device_is_told(browser, api, new_user, phone):
    u = new_user("dev")  # registering made one session (python-requests)
    b = viewer(browser, phone)
    sign_in(b, u["username"], u["password"])
    open_profile(b)
    b.wait(lambda d: len(b.finds(".device-list .device")) == 2, 10, "two devices")
    here = b.find(".device.current")
    assert "This device" in here.text
    assert "Chrome" in b.text(".device.current .device-name")
    other = b.find(".device:not(.current)")
    other.find_element("css selector", "button").click()
    b.wait(lambda d: len(b.finds(".device-list .device")) == 1, 10, "the other device gone")
    assert api.get("/api/chats", token=u).status_code == 401

    # Ended from elsewhere: this device is signed out and says why.
    other_login = api.post("/api/auth/login", json={"login": u["username"], "password": u["password"]}).json()
    mine = [s for s in sessions(api, other_login["access_token"]) if not s["current"]]
    assert len(mine) == 1
    r = api.delete(f"/api/auth/sessions/{mine[0]['id']}", token=other_login["access_token"])
    assert r.status_code == 204, r.text
    b.allow("status of 401")
    notice = b.wait_for(".auth-notice", 15)
    assert "signed out on this device" in notice.text
    assert b.local_storage("msgr.session") is None


@PHONE
def test_change_password_ends_other_sessions(browser, api, new_user, phone):
    u = new_user("pwc")
    b = viewer(browser, phone)
    sign_in(b, u["username"], u["password"])
    open_profile(b)
    b.click(".password > summary")
    b.type("#pw-current_password", "not my password")
    b.type("#pw-new_password", "brand new password")
    b.type("#pw-new_password2", "brand new password")
    b.allow("status of 403")
    b.click(".password-form button[type=submit]")
    b.wait(lambda d: b.text('.password-form [data-field="current_password"] .field-error') == "Wrong password", 10, "the 403")
    b.type("#pw-current_password", u["password"])
    b.click(".password-form button[type=submit]")
    b.wait(lambda d: not b.find(".password").get_attribute("open"), 10, "the form closed")
    # The registration's session ended; this one lives on.
    assert api.get("/api/chats", token=u).status_code == 401
    b.wait(lambda d: len(b.finds(".device-list .device")) == 1, 10, "only this device left")
    r = api.post("/api/auth/login", json={"login": u["username"], "password": "brand new password"})
    assert r.status_code == 200, r.text
    b.reload()
    wait_app(b)
