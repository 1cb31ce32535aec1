"""What a person does in the web app, as steps for the browser tests."""

import struct
import time
import zlib

from browser import By, Keys
from selenium.common.exceptions import StaleElementReferenceException


def png(width=64, height=48, seed=0):
    """A small valid PNG (an RGB gradient), made here: no fixtures on disk."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 4 + seed) % 256, (y * 5 + 2 * seed) % 256, (120 + seed * 3) % 256))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def device(browser, phone):
    """A desktop browser, or a 390 x 844 touch phone."""
    b = browser(width=390, height=844, mobile=True) if phone else browser()
    if phone:
        b.viewport(390, 844, mobile=True)
    return b


def lang_device(browser, phone, lang):
    """device() with the browser's language set to lang (Accept-Language,
    navigator.languages)."""
    if phone:
        b = browser(width=390, height=844, mobile=True, lang=lang)
        b.viewport(390, 844, mobile=True)
        return b
    return browser(lang=lang)


def shots(b, out_dir, name, phone):
    """NAME-desktop|phone-light|dark.png, the page as it is in both themes."""
    kind = "phone" if phone else "desktop"
    for dark in (False, True):
        b.set_dark(dark)
        time.sleep(0.2)
        b.screenshot(out_dir / f"{name}-{kind}-{'dark' if dark else 'light'}.png")
    b.set_dark(False)


def set_offline(b, offline):
    """Chromium's own offline mode: fetch fails, navigator.onLine turns
    false and `offline`/`online` fire; an open socket may stay open."""
    b.driver.execute_cdp_cmd("Network.enable", {})
    b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    b.wait(lambda d: d.execute_script("return navigator.onLine") == (not offline), 5, "navigator.onLine")


def sign_in(b, login, password, online=True):
    """Signs in; waits for the app and, unless online is False, its
    realtime connection."""
    b.open("/")
    b.wait_for(".auth-card")
    if b.finds("#f-username"):
        b.click(".auth-switch .link")
    b.type("#f-login", login)
    b.type("#f-password", password)
    b.click(".auth-form button[type=submit]")
    if online:
        wait_app(b)
    else:
        b.wait_for(".sidebar .me-name")


def register(b, username, password, display_name=None, email=None):
    b.open("/")
    b.wait_for(".auth-card")
    if b.finds("#f-login"):
        b.click(".auth-switch .link")
    b.type("#f-username", username)
    if display_name:
        b.type("#f-display_name", display_name)
    b.type("#f-email", email or f"{username}@example.test")
    b.type("#f-password", password)
    b.click(".auth-form button[type=submit]")


def wait_app(b, timeout=20):
    b.wait_for(".sidebar .me-name", timeout)
    # Realtime is up (the app loads its chats after the first "ready").
    b.wait(lambda d: d.execute_script("return window.messenger && window.messenger.connection") == "online",
           timeout, "the realtime connection")


def chat_item(b, title, timeout=15):
    """The chat list entry whose title is `title`."""
    def find(d):
        for el in d.find_elements(By.CSS_SELECTOR, ".chat-list .chat-item"):
            if el.find_element(By.CSS_SELECTOR, ".ci-title").text == title:
                return el
        return None

    return b.wait(find, timeout, f"chat {title!r} in the list")


def open_chat(b, title):
    for attempt in range(5):
        try:
            chat_item(b, title).click()
            break
        except StaleElementReferenceException:  # the list re-rendered it
            if attempt == 4:
                raise
            time.sleep(0.1)
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == title, 10, f"chat {title!r} open")
    b.wait_gone(".list-loading")


def start_direct(b, query, display_name):
    """Search a person and open the direct chat with them."""
    b.type(".search-input", query)
    person = b.wait_for(f'.search-results .chat-item.person[aria-label="Message {display_name}"]')
    person.click()
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == display_name, 10, "direct chat open")


def composer(b):
    return b.wait_for(".composer-input")


def send_text(b, text):
    box = composer(b)
    box.click()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


TEXT_OF = """const textOf = (r) => { const t = r.querySelector('.msg-text'); if (!t) return '';
  return [...t.childNodes].filter(n => !(n.classList && n.classList.contains('msg-meta')))
    .map(n => n.textContent).join(''); };"""


def bubbles(b):
    """[(message id or None, text)] of the open chat, in order (the text
    without the time and ticks)."""
    return b.js(
        TEXT_OF + """return [...document.querySelectorAll('.msg-list .msg-row:not(.service)')].map(r => [
             r.dataset.messageId ? Number(r.dataset.messageId) : null, textOf(r)]);"""
    )


def wait_bubble(b, text, timeout=15):
    """The row of the confirmed message whose text starts with `text`."""
    def find(d):
        for row in d.find_elements(By.CSS_SELECTOR, ".msg-list .msg-row[data-message-id]"):
            t = row.find_elements(By.CSS_SELECTOR, ".msg-text")
            if t and t[0].text.startswith(text):
                return row
        return None

    return b.wait(find, timeout, f"message {text!r}")


def message_texts(b):
    """The texts of the confirmed messages of the open chat."""
    return b.js(
        TEXT_OF + """return [...document.querySelectorAll('.msg-list .msg-row[data-message-id]:not(.service)')]
             .map(textOf);"""
    )


def ticks(row):
    return row.find_element(By.CSS_SELECTOR, ".ticks").get_attribute("data-state")


def open_actions(b, row):
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    b.driver.execute_script("arguments[0].focus()", row)
    row.send_keys(Keys.ENTER)
    return b.wait_for(".popover")


def menu_item(b, label, timeout=5):
    """The item of the open menu labelled `label`, once the menu is drawn
    (a click that opens it returns before it is)."""
    def find(d):
        for item in b.finds(".popover .menu-item"):
            if item.text == label:
                return item
        return None

    return b.wait(find, timeout, f"menu item {label!r}")


def attach(b, *paths):
    inp = b.find(".composer input[type=file]")
    inp.send_keys("\n".join(str(p) for p in paths))


def wait_uploads_done(b, n, timeout=30):
    b.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".upload-tray .upload.done")) == n, timeout, f"{n} uploads done")


def settle(seconds=0.3):
    time.sleep(seconds)


def post_message(api, user, chat_id, text, client_id=None, attachment_ids=()):
    """Sends a message over REST, waiting out the send rate limit (429);
    text may be None when there are attachments."""
    body = {"text": text} if text is not None else {}
    if attachment_ids:
        body["attachment_ids"] = list(attachment_ids)
    if client_id:
        body["client_id"] = client_id
    for _ in range(50):
        r = api.post(f"/api/chats/{chat_id}/messages", token=user, json=body)
        if r.status_code != 429:
            break
        time.sleep(float(r.headers.get("Retry-After") or 1) / 4)
    assert r.status_code == 201, r.text
    return r.json()
