"""The profile's "Export my data" (issue 21): asking for the archive, the
state while it is made, the download link appearing live when the server
says export.ready over the WebSocket (no reload, no polling), a second
request refused while one is made, and the same in Russian; desktop and
phone, screenshots light and dark."""

import os
import re

import pytest

from ui import sign_in

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
SHOTS = os.environ.get("MSGR_SCREENSHOT_DIR")


def viewer(browser, phone, **kw):
    return browser(width=390, height=844, mobile=True, **kw) if phone else browser(**kw)


def open_profile(b):
    b.click(".sidebar .me")
    b.wait_for(".modal.profile")


def shot(b, name):
    if SHOTS:
        b.js("document.querySelector('.export-actions').scrollIntoView({block: 'end'})")
        b.screenshot(os.path.join(SHOTS, name))


@PHONE
def test_export_from_the_profile(browser, api, stack, new_user, phone):
    u = new_user("expui", display_name="Export Me")
    b = viewer(browser, phone)
    sign_in(b, u["username"], u["password"])
    open_profile(b)
    b.wait_for(".profile-section.export")
    b.wait(lambda d: "not asked for an export" in b.text(".export-state"), 10, "no export yet")
    assert b.find(".export-download").get_attribute("hidden") is not None

    # Held back: the builder takes the request only once the test lets it,
    # so the "being prepared" state is seen for sure (it holds the files
    # program's periodic lock, as another host's run would).
    lock = stack.hold_lock("SELECT pg_advisory_lock(1919, hashtext('files'))")
    try:
        b.click(".export-request")
        b.wait(lambda d: "Preparing your archive" in b.text(".export-state"), 10, "preparing")
        assert b.find(".export-request").get_attribute("disabled") is not None
        # Another request meanwhile: 409.
        r = api.post("/api/users/me/export", token=u)
        assert r.status_code == 409 and r.json()["code"] == "export_running"
        shot(b, f"export-preparing-{'phone' if phone else 'desktop'}.png")
    finally:
        lock.close()

    # Ready: the link appears by itself (export.ready).
    b.wait(lambda d: b.find(".export-download").get_attribute("hidden") is None, 60, "the download link")
    assert "Your archive is ready" in b.text(".export-state")
    href = b.find(".export-download").get_attribute("href")
    e = api.get("/api/users/me/export", token=u).json()
    assert e["status"] == "ready" and href.endswith(e["url"][1:])
    got = api.get(e["url"])
    assert got.status_code == 200 and got.content[:2] == b"PK"
    assert b.find(".export-request").get_attribute("disabled") is None
    assert b.text(".export-request") == "Export again"
    shot(b, f"export-ready-{'phone' if phone else 'desktop'}.png")
    b.set_dark(True)
    shot(b, f"export-ready-dark-{'phone' if phone else 'desktop'}.png")
    assert api.delete("/api/users/me/export", token=u).status_code == 204


@PHONE
def test_export_in_russian(browser, api, stack, new_user, phone):
    u = new_user("expru", display_name="Экспорт")
    assert api.patch("/api/users/me/settings", token=u, json={"language": "ru"}).status_code == 200
    b = viewer(browser, phone, lang="ru-RU")
    sign_in(b, u["username"], u["password"])
    open_profile(b)
    b.wait_for(".profile-section.export")
    assert b.text(".export .profile-section-title") == "Экспорт моих данных"
    b.click(".export-request")
    b.wait(lambda d: b.find(".export-download").get_attribute("hidden") is None, 60, "the download link")
    assert re.search(r"Архив готов", b.text(".export-state"))
    assert b.text(".export-download") == "Скачать"
    shot(b, f"ru-export-{'phone' if phone else 'desktop'}.png")
    assert api.delete("/api/users/me/export", token=u).status_code == 204
