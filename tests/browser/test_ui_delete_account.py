"""Deleting an account in the browser (issue 21), desktop and phone:
Profile > "Delete account" (what happens said, the password asked, a wrong
one refused with the app's text, then the account gone: the sign-in card
says so, the login is refused, the other member's group is handed over);
the admin page's "Delete account…" of another user; the emoji picker's
group names and index.html's static "Loading…" in the reader's language.
Russian screenshots in docs/screenshots with MSGR_SCREENSHOTS=1."""

import json
import time

import pytest

from helpers import REPO, wait_until
from ui import lang_device, menu_item, shots, sign_in, wait_app

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
CATALOGUES = {lang: json.loads((REPO / "www" / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "ru", "uk")}


def login(api, user):
    return api.post("/api/auth/login", json={"login": user["username"], "password": user["password"]})


def confirm(b):
    b.wait_for(".modal.small")
    b.click(".modal.small .modal-actions .btn.primary")
    b.wait_gone(".modal.small")


@PHONE
def test_delete_my_account_from_the_profile(browser, api, new_user, out_dir, phone):
    cat = CATALOGUES["ru"]
    me = new_user("leaver", display_name="Лев Уходящий")
    assert api.patch("/api/users/me/settings", token=me, json={"language": "ru"}).status_code == 200
    bob = new_user("stayer", display_name="Борис")
    g = api.post("/api/chats", token=me, json={"type": "group", "title": "Клуб",
                                              "member_ids": [bob["user"]["id"]]}).json()
    b = lang_device(browser, phone, "ru")
    b.allow("status of 403")  # the wrong password, on purpose
    sign_in(b, me["username"], me["password"])
    b.click(".sidebar .me")
    b.wait_for(".modal.profile")
    summary = b.wait_for(".modal.profile .delete-account > summary")
    b.js("arguments[0].scrollIntoView({block: 'center'})", summary)
    assert summary.text == cat["deleteAccount.title"]
    summary.click()
    assert b.text(".delete-account-text") == cat["deleteAccount.explain"]
    # empty, then a wrong password: nothing happens but the field's error
    b.click(".delete-account-form button[type=submit]")
    b.wait(lambda d: b.text('[data-field="delete_password"] .field-error') == cat["auth.required"], 5, "required")
    b.type("#pw-delete_password", "not the password")
    b.click(".delete-account-form button[type=submit]")
    assert b.text(".modal.small .modal-title") == cat["deleteAccount.confirmTitle"]
    confirm(b)
    b.wait(lambda d: b.text('[data-field="delete_password"] .field-error') == cat["password.wrong"], 10, "wrong password")
    assert login(api, me).status_code == 200
    b.type("#pw-delete_password", me["password"])
    if phone:
        b.js("document.querySelector('.delete-account').scrollIntoView({block: 'center'})")
    else:
        b.js("document.querySelector('.delete-account').scrollIntoView({block: 'end'})")
    # the longest (Russian) words still fit: nothing of the dialog is past
    # the screen's right edge, and nothing in it scrolls sideways
    overflow = b.js("""
        const m = document.querySelector('.modal.profile');
        const out = [...m.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5);
        return {right: m.getBoundingClientRect().right, width: innerWidth,
                sideways: m.querySelector('.modal-body').scrollWidth > m.querySelector('.modal-body').clientWidth,
                out: out.slice(0, 5).map(e => e.className || e.tagName)};""")
    assert overflow["right"] <= overflow["width"] and not overflow["out"] and not overflow["sideways"], overflow
    shots(b, out_dir, "ru-delete-account", phone)
    b.click(".delete-account-form button[type=submit]")
    confirm(b)
    # signed out to the sign-in card, which says why
    b.wait(lambda d: b.finds(".auth-card") and b.text(".auth-notice") == cat["session.deleted"], 15, "the sign-in card")
    assert b.js("return localStorage.getItem('msgr.session')") is None
    r = login(api, me)
    assert r.status_code == 401, r.text
    chat = api.get(f"/api/chats/{g['id']}", token=bob).json()
    assert [(m["user"]["id"], m["role"]) for m in chat["members"]] == [(bob["user"]["id"], "owner")]


@PHONE
def test_an_administrator_deletes_an_account(browser, api, stack, new_user, phone):
    boss = new_user("boss", display_name="Bea Boss")
    assert stack.psql("UPDATE users SET role = 'admin' WHERE id = %s", boss["user"]["id"]) == 1
    tag = str(int(time.time() * 1000))[-6:]
    vic = new_user("gone" + tag, display_name="Gus Gone")
    b = lang_device(browser, phone, "en-US")
    sign_in(b, boss["username"], boss["password"])
    b.click(".side-actions .admin-btn")
    b.wait_for(".admin-pane")
    b.type(".adm-search", "gone" + tag)
    row = b.wait_for(f'.adm-user[data-username="{vic["username"]}"]')
    # not offered for oneself
    b.type(".adm-search", boss["username"])
    own = b.wait_for(f'.adm-user[data-username="{boss["username"]}"]')
    b.js("arguments[0].scrollIntoView({block: 'center'})", own)
    own.find_element("css selector", ".adm-actions").click()
    labels = b.js("return [...document.querySelectorAll('.popover .menu-item')].map(e => e.textContent)")
    assert "Delete account…" not in labels and "Delete messages…" in labels, labels
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
    b.wait_gone(".popover")
    b.type(".adm-search", "gone" + tag)
    row = b.wait_for(f'.adm-user[data-username="{vic["username"]}"]')
    b.js("arguments[0].scrollIntoView({block: 'center'})", row)
    row.find_element("css selector", ".adm-actions").click()
    menu_item(b, "Delete account…").click()
    assert b.text(".modal.small .modal-title") == "Delete the account of Gus Gone?"
    confirm(b)
    b.wait(lambda d: any("The account of Gus Gone was deleted" in t for t in
                         d.execute_script("return [...document.querySelectorAll('#toasts .toast')].map(t => t.textContent)")),
           10, "the toast")
    wait_until(lambda: login(api, vic).status_code == 401, timeout=5, message="the login refused")
    assert stack.psql("SELECT status FROM users WHERE id = %s", vic["user"]["id"])[0][0] == "deleted"


@PHONE
@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_emoji_groups_and_the_static_loading_in_the_language(browser, api, new_user, lang, phone):
    cat = CATALOGUES[lang]
    me = new_user("emo", display_name="Эмо")
    assert api.patch("/api/users/me/settings", token=me, json={"language": lang}).status_code == 200
    peer = new_user("peer", display_name="Пир")
    api.post("/api/chats", token=me, json={"type": "direct", "user_id": peer["user"]["id"]})
    b = lang_device(browser, phone, lang)
    # index.html before any script of the app: its words in the language
    b.driver.execute_cdp_cmd("Network.enable", {})
    b.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*js/main.js*"]})
    b.open("/")
    shown = b.js("return [...document.querySelectorAll('.boot-text')]"
                 ".filter(e => getComputedStyle(e).display !== 'none').map(e => e.textContent)")
    assert shown == [cat["app.loading"]], shown
    b.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    sign_in(b, me["username"], me["password"])
    wait_app(b)
    b.js("location.hash = '#/'")
    item = b.wait_for(".chat-list .chat-item")
    for el in b.finds(".chat-list .chat-item"):
        if "Пир" in el.text:
            item = el
    item.click()
    b.click(".composer .emoji-btn")
    b.wait_for(".emoji-picker .emoji-cell")
    tabs = b.js("return [...document.querySelectorAll('.emoji-picker .emoji-tab')].map(t => t.getAttribute('aria-label'))")
    want = [cat[k] for k in ("emoji.groupSmileys", "emoji.groupAnimals", "emoji.groupFood", "emoji.groupTravel",
                             "emoji.groupActivities", "emoji.groupObjects", "emoji.groupSymbols", "emoji.groupFlags")]
    assert tabs[-8:] == want, tabs
    assert b.text(".emoji-picker .emoji-title") in [cat["emoji.recent"]] + want
