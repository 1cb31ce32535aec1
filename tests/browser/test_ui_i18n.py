"""The app in Russian and Ukrainian (www/i18n, js/i18n.js), on desktop and
phone: a browser set to the language registers, and the account starts in
it (the registration's Accept-Language); sign-in, the chat list, a chat,
the message menu and the profile show no English text of the catalogue;
the profile's switch changes the language, on the server too. Screenshots
in Russian go to docs/screenshots with MSGR_SCREENSHOTS=1."""

import json
import re
import uuid

import pytest

from browser import By
from helpers import REPO
from ui import lang_device, open_actions, send_text, shots, wait_app, wait_bubble

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])

CATALOGUES = {lang: json.loads((REPO / "www" / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "ru", "uk")}

# Every text node and every label, title and placeholder of the page
# but what is hidden (the administration page waits there, hidden, for
# administrators).
PAGE_TEXTS = """
const out = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walk.nextNode(); n; n = walk.nextNode()) {
  const el = n.parentElement;
  if (el && el.closest("[hidden], script, style")) continue;
  out.push(n.data);
}
for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt]"))
  if (!el.closest("[hidden]")) for (const a of ["aria-label", "title", "placeholder", "alt"]) if (el.hasAttribute(a)) out.push(el.getAttribute(a));
return out;
"""


def english_patterns(lang):
    """A regular expression per English text of the catalogue that its
    translation into lang does not share ("{n} members" matches "3
    members"); plural forms each."""
    pats = []
    for key, en in CATALOGUES["en"].items():
        other = CATALOGUES[lang][key]
        forms = en.values() if isinstance(en, dict) else [en]
        theirs = set(other.values()) if isinstance(other, dict) else {other}
        for f in forms:
            if f in theirs or not re.search(r"[A-Za-z]{3}", f):
                continue  # the same in both ("OK", "{n} KB" are not English words)
            parts = re.split(r"\{\w+\}", f)
            pats.append((key, re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$")))
    return pats


def assert_no_english(b, lang, where):
    pats = english_patterns(lang)
    found = []
    for text in b.js(PAGE_TEXTS):
        s = text.strip().rstrip(":").strip()
        if not s:
            continue
        for key, rx in pats:
            if rx.match(s):
                found.append(f"{s!r} ({key})")
    assert not found, f"English on {where} in {lang}: {found}"


@PHONE
@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_app_in_language(browser, api, new_user, out_dir, lang, phone):
    other = "uk" if lang == "ru" else "ru"
    cat = CATALOGUES[lang]
    peer = new_user("peer", display_name="Олена Коваль")
    b = lang_device(browser, phone, lang)

    # The sign-in card, in the browser's language before any account.
    b.open("/")
    b.wait_for(".auth-card")
    assert b.js("return document.documentElement.lang") == lang
    assert b.text(".auth-title") == cat["auth.login.title"]
    assert_no_english(b, lang, "the sign-in card")
    if lang == "ru":
        shots(b, out_dir, "ru-login", phone)

    # Registering: the form, a field error, then the account.
    b.click(".auth-switch .link")
    b.wait_for("#f-username")
    assert b.text(".auth-title") == cat["auth.register.title"]
    b.click(".auth-form button[type=submit]")
    b.wait_for('.field[data-field="username"].invalid')
    assert b.text('.field[data-field="username"] .field-error') == cat["auth.required"]
    assert_no_english(b, lang, "the sign-up card")
    name = "i18n" + uuid.uuid4().hex[:10]
    password = "pw-" + uuid.uuid4().hex[:12]
    b.type("#f-username", name)
    b.type("#f-display_name", "Иван Петренко")
    b.type("#f-email", name + "@example.test")
    b.type("#f-password", password)
    b.click(".auth-form button[type=submit]")
    wait_app(b)
    # The account took the browser's language (Accept-Language).
    login = api.post("/api/auth/login", json={"login": name, "password": password})
    assert login.status_code == 200, login.text
    me = login.json()
    assert api.get("/api/users/me/settings", token=me).json()["language"] == lang
    assert_no_english(b, lang, "the chat list")

    # A direct chat: the person found by the search, a message each way.
    b.type(".search-input", peer["username"])
    person = b.wait_for(".search-results .chat-item.person")
    assert person.get_attribute("aria-label") == cat["sidebar.messageTo"].replace("{name}", "Олена Коваль")
    assert_no_english(b, lang, "the search results")
    person.click()
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == "Олена Коваль", 10, "the chat")
    send_text(b, "Привет! Как дела?")
    wait_bubble(b, "Привет! Как дела?")
    chat = next(c for c in api.get("/api/chats", token=peer).json()["chats"] if c["type"] == "direct")
    r = api.post(f"/api/chats/{chat['id']}/messages", token=peer, json={"text": "Все хорошо, спасибо 🙂"})
    assert r.status_code in (200, 201), r.text
    row = wait_bubble(b, "Все хорошо, спасибо 🙂")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-sub").text in
           (cat["lastSeen.online"], cat["lastSeen.justNow"], cat["lastSeen.longAgo"]), 10, "last seen")
    assert_no_english(b, lang, "a chat")
    if lang == "ru":
        shots(b, out_dir, "ru-chat", phone)

    # The message menu.
    open_actions(b, row)
    labels = [e.text for e in b.finds(".popover .menu-item")]
    assert cat["menu.reply"] in labels and cat["menu.copy"] in labels, labels
    assert_no_english(b, lang, "the message menu")
    if lang == "ru":
        shots(b, out_dir, "ru-menu", phone)
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
    b.wait_gone(".popover")

    # The profile, and its switch to the other language: saved on the
    # server, the app drawn again in it.
    if phone:
        b.click(".back-btn")
    b.click(".sidebar .me")
    b.wait_for(".modal.profile")
    assert b.text(".modal.profile .modal-title") == cat["profile.title"]
    assert_no_english(b, lang, "the profile")
    if lang == "ru":
        shots(b, out_dir, "ru-profile", phone)
    b.click(f'#p-language [data-value="{other}"]')
    b.wait(lambda d: d.execute_script("return document.documentElement.lang") == other, 15, "the other language")
    wait_app(b)
    assert api.get("/api/users/me/settings", token=me).json()["language"] == other
    assert b.find(".search-input").get_attribute("placeholder") == CATALOGUES[other]["sidebar.searchPlaceholder"]
    assert_no_english(b, other, "the chat list after the switch")
