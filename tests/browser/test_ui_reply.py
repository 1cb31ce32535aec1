"""Replies, forwards and @mentions in the web app (issue 16), on desktop and
a 390 px phone: reply from the menu, by R on a focused message and by a
swipe on a phone; the reply bar and Escape; the quote in the bubble that
shows the original (loading history around it) and follows its deletion;
a reply written offline keeps its reply_to_id; forwarding to chats picked
in a dialog, at most 10, with the API's problem shown; "Forwarded from";
the @mention autocomplete of a group's members."""

import time

import pytest

from browser import By, Keys
from ui import device, menu_item, open_actions, open_chat, set_offline, sign_in, wait_bubble

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])

REPLY_BAR = """const bar = document.querySelector('.composer .reply-bar');
  return bar && !bar.hidden
    ? [bar.querySelector('.edit-title').textContent, bar.querySelector('.edit-text').textContent] : null;"""

# [message id, quoted name, quoted line] of the bubbles with a quote.
QUOTES = """return [...document.querySelectorAll('.msg-list .msg-row')].filter(r => r.querySelector('.reply-quote'))
  .map(r => [r.dataset.messageId ? Number(r.dataset.messageId) : null,
             r.querySelector('.quote-name').textContent, r.querySelector('.quote-text').textContent]);"""

# Whether the row of a message is on screen inside the message list.
IN_VIEW = """const row = document.querySelector(`.msg-list .msg-row[data-message-id="${arguments[0]}"]`);
  if (!row) return false;
  const r = row.getBoundingClientRect(), s = document.querySelector('.messages').getBoundingClientRect();
  return r.top >= s.top - 1 && r.bottom <= s.bottom + 1;"""


def post(api, user, chat_id, text, **fields):
    """A message over REST (waiting out the send rate limit)."""
    for _ in range(60):
        r = api.post(f"/api/chats/{chat_id}/messages", token=user, json={"text": text, **fields})
        if r.status_code != 429:
            break
        time.sleep(float(r.headers.get("Retry-After") or 1) / 4)
    assert r.status_code == 201, r.text
    return r.json()


def latest(api, user, chat_id, limit=5):
    return api.get(f"/api/chats/{chat_id}/messages?limit={limit}", token=user).json()["messages"]


def row(b, message_id):
    return b.wait_for(f'.msg-list .msg-row[data-message-id="{message_id}"]')


def press_on_row(b, message_id, key):
    """Focuses a message (the list's roving Tab stop) and presses a key."""
    r = row(b, message_id)
    b.js("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus()", r)
    r.send_keys(key)


def switch_chat(b, title, phone):
    """Opens another chat (on a phone, back to the list first)."""
    if phone:
        b.click(".chat-head .back-btn")
    open_chat(b, title)


def type_in_composer(b, text):
    box = b.wait_for(".composer-input")
    box.send_keys(text)
    return box


def sent_reply(api, user, chat_id, text, timeout=20):
    """The stored message `text`, once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in latest(api, user, chat_id):
            if m["text"] == text:
                return m
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never stored")


@PHONE
def test_reply_menu_key_quote_and_jump(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Answer")
    bob = new_user("bob", display_name="Bob Asker")
    chat = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    cid = chat["id"]
    original = post(api, bob, cid, "the original question\nwith a second line")
    for i in range(55):
        post(api, bob, cid, f"filler {i}")
    answer = post(api, bob, cid, "my own follow-up", reply_to_id=original["id"])
    assert answer["reply_to"]["id"] == original["id"]
    api.post(f"/api/chats/{cid}/read", token=ann, json={"message_id": answer["id"]})

    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Asker")
    wait_bubble(b, "my own follow-up")
    # The quote: the sender and the first line; the original is not loaded.
    assert [answer["id"], "Bob Asker", "the original question"] in b.js(QUOTES)
    assert not b.finds(f'.msg-row[data-message-id="{original["id"]}"]')

    # A click on the quote shows the original, loading history around it.
    b.js(f"""document.querySelector('.msg-row[data-message-id="{answer["id"]}"] .reply-quote').click()""")
    b.wait(lambda d: d.execute_script(IN_VIEW, original["id"]), 15, "the original in view")

    # "Reply" in the menu: the bar names the sender and the first line;
    # Escape cancels it.
    open_actions(b, row(b, original["id"]))
    menu_item(b, "Reply").click()
    b.wait(lambda d: d.execute_script(REPLY_BAR) == ["Reply to Bob Asker", "the original question"], 5, "the reply bar")
    assert b.js("return document.activeElement.classList.contains('composer-input')")
    b.find(".composer-input").send_keys(Keys.ESCAPE)
    b.wait(lambda d: d.execute_script(REPLY_BAR) is None, 5, "the bar gone")
    b.find(".composer-input").send_keys("not a reply\n")
    plain = sent_reply(api, ann, cid, "not a reply")
    assert plain["reply_to"] is None

    # R on a focused message replies too; the message goes with reply_to_id.
    filler = latest(api, bob, cid, 10)[0]
    assert filler["text"].startswith("filler")
    press_on_row(b, filler["id"], "r")
    b.wait(lambda d: d.execute_script(REPLY_BAR) == ["Reply to Bob Asker", filler["text"]], 5, "the bar for R")
    b.screenshot(out_dir / f"reply-bar-{'phone' if phone else 'desktop'}.png")
    # A click on the bar shows that message (scrolled away meanwhile).
    b.js("document.querySelector('.messages').scrollTop = 0")
    b.wait(lambda d: not d.execute_script(IN_VIEW, filler["id"]), 5, "the filler out of view")
    b.click(".composer .reply-bar .reply-show")
    b.wait(lambda d: d.execute_script(IN_VIEW, filler["id"]), 10, "the filler shown")
    b.find(".composer-input").click()
    type_in_composer(b, "answering the filler\n")
    mine = sent_reply(api, ann, cid, "answering the filler")
    assert mine["reply_to"]["id"] == filler["id"] and mine["reply_to"]["text"] == filler["text"]
    b.wait(lambda d: d.execute_script(REPLY_BAR) is None, 5, "the bar gone after sending")
    b.wait(lambda d: [mine["id"], "Bob Asker", filler["text"]] in d.execute_script(QUOTES), 10, "the quote in my bubble")

    # The original is deleted: the quotes say so, live.
    assert api.delete(f"/api/messages/{filler['id']}", token=bob).status_code == 204
    b.wait(lambda d: [mine["id"], "Bob Asker", "Deleted message"] in d.execute_script(QUOTES), 10, "Deleted message")
    b.set_dark(True)
    b.screenshot(out_dir / f"reply-quote-dark-{'phone' if phone else 'desktop'}.png")


def swipe(b, el, dx, dy=0, steps=8, shot=None):
    """A one-finger touch drag over an element (Chromium's touch input)."""
    r = b.js("const r = arguments[0].getBoundingClientRect(); return [r.left + r.width * 0.7, r.top + r.height / 2]", el)
    x, y = r
    touch = lambda kind, pts: b.driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": pts})
    touch("touchStart", [{"x": x, "y": y}])
    for i in range(1, steps + 1):
        touch("touchMove", [{"x": x + dx * i / steps, "y": y + dy * i / steps}])
        time.sleep(0.02)
    if shot:
        b.screenshot(shot)
    touch("touchEnd", [])


def answering(browser, api, new_user, phone, me_name, peer_name, text):
    """Someone signed in with the direct chat in which `peer_name` wrote
    `text` open: (browser, that user, the chat, the message)."""
    me = new_user("me", display_name=me_name)
    peer = new_user("peer", display_name=peer_name)
    chat = api.post("/api/chats", token=peer, json={"type": "direct", "user_id": me["user"]["id"]}).json()
    m = post(api, peer, chat["id"], text)
    b = device(browser, phone)
    sign_in(b, me["username"], me["password"])
    open_chat(b, peer_name)
    wait_bubble(b, text)
    return b, me, chat, m


def test_swipe_left_replies_on_a_phone(browser, api, new_user, out_dir):
    b, ann, chat, m = answering(browser, api, new_user, True, "Ann Thumb", "Bob Swiped", "swipe me to answer")
    bubble = wait_bubble(b, "swipe me").find_element(By.CSS_SELECTOR, ".bubble")

    # A short or a vertical drag is no reply (nor a menu).
    swipe(b, bubble, -30)
    swipe(b, bubble, -20, 120)
    time.sleep(0.3)
    assert b.js(REPLY_BAR) is None and not b.finds(".popover")

    swipe(b, bubble, -110, shot=out_dir / "swipe-phone.png")
    b.wait(lambda d: d.execute_script(REPLY_BAR) == ["Reply to Bob Swiped", "swipe me to answer"], 5, "the reply bar")
    assert not b.finds(".popover")
    assert b.js("return getComputedStyle(arguments[0]).transform", bubble) in ("none", "matrix(1, 0, 0, 1, 0, 0)")
    type_in_composer(b, "swiped and answered\n")
    assert sent_reply(api, ann, chat["id"], "swiped and answered")["reply_to"]["id"] == m["id"]


@PHONE
def test_reply_written_offline_keeps_its_quote(browser, api, new_user, phone):
    b, eve, chat, m = answering(browser, api, new_user, phone, "Eve Train", "Max Station", "are you on the train?")
    for noise in ("Failed to load resource", "ERR_INTERNET_DISCONNECTED", "WebSocket", "Failed to fetch"):
        b.allow(noise)

    set_offline(b, True)
    press_on_row(b, m["id"], "r")
    b.wait(lambda d: d.execute_script(REPLY_BAR) is not None, 5, "the reply bar")
    type_in_composer(b, "yes, in a tunnel\n")
    # Queued with its quote shown.
    b.wait(lambda d: d.execute_script(QUOTES) == [[None, "Max Station", "are you on the train?"]], 5, "the queued quote")
    assert b.js("return document.querySelector('.msg-row.pending .ticks').dataset.state") == "queued"
    set_offline(b, False)
    stored = sent_reply(api, eve, chat["id"], "yes, in a tunnel")
    assert stored["reply_to"]["id"] == m["id"]
    b.wait(lambda d: d.execute_script(QUOTES) == [[stored["id"], "Max Station", "are you on the train?"]], 10, "the quote")


CHIPS = "return [...document.querySelectorAll('.modal .chips .chip > span:not(.avatar)')].map(c => c.textContent)"
FWD_ROWS = """return [...document.querySelectorAll('.modal .fwd-row')].map(r => [
  r.querySelector('.picker-name').textContent, r.querySelector('input').checked, r.querySelector('input').disabled]);"""


@PHONE
def test_forward_to_chats(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Forwarder")
    bob = new_user("bob", display_name="Bob Source")
    cy = new_user("cy", display_name="Cy Target")
    src = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    to_cy = api.post("/api/chats", token=ann, json={"type": "direct", "user_id": cy["user"]["id"]}).json()
    post(api, ann, to_cy["id"], "hello Cy")
    groups = [api.post("/api/chats", token=ann, json={"type": "group", "title": f"Room {i:02d}", "member_ids": []}).json()
              for i in range(11)]
    m = post(api, bob, src["id"], "worth passing on")
    gone = post(api, bob, src["id"], "about to vanish")

    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Source")
    open_actions(b, wait_bubble(b, "worth passing on"))
    menu_item(b, "Forward").click()
    b.wait_for(".modal .fwd-row")
    assert b.find(".modal .fwd-preview").text.replace("\n", " ") == "Bob Source worth passing on"
    # Search, and Enter picks the first match.
    b.type(".modal input[type=search]", "cy")
    b.wait(lambda d: [r[0] for r in d.execute_script(FWD_ROWS)] == ["Cy Target"], 5, "Cy alone")
    b.find(".modal input[type=search]").send_keys(Keys.ENTER)
    b.type(".modal input[type=search]", "room 03")
    b.wait(lambda d: len(d.execute_script(FWD_ROWS)) == 1, 5, "Room 03")
    b.click(".modal .fwd-row")
    b.find(".modal input[type=search]").send_keys(Keys.CONTROL + "a", Keys.BACKSPACE)
    n = len(api.get("/api/chats", token=ann).json()["chats"])
    b.wait(lambda d: len(d.execute_script(FWD_ROWS)) == n, 5, "all chats again")
    rows = b.js(FWD_ROWS)
    assert sorted(r[0] for r in rows if r[1]) == ["Cy Target", "Room 03"], rows
    # The picked ones stay in sight, in the order picked.
    assert b.js(CHIPS) == ["Cy Target", "Room 03"]
    button = b.find(".modal .modal-actions .btn.primary")
    assert button.text == "Forward to 2 chats"
    b.screenshot(out_dir / f"forward-{'phone' if phone else 'desktop'}.png")
    button.click()
    b.wait(lambda d: "Forwarded to 2 chats" in d.find_element(By.ID, "toasts").text, 10, "the toast")
    b.wait_gone(".modal")
    for chat_id in (to_cy["id"], groups[3]["id"]):
        copy = latest(api, ann, chat_id, 1)[0]
        assert copy["text"] == "worth passing on" and copy["forwarded_from"]["sender_name"] == "Bob Source"

    # The copy in Cy's chat says where it came from.
    switch_chat(b, "Cy Target", phone)
    fwd = wait_bubble(b, "worth passing on").find_element(By.CSS_SELECTOR, ".fwd-from")
    assert fwd.text == "Forwarded from Bob Source"
    b.set_dark(not phone)
    b.screenshot(out_dir / f"forwarded-{'phone' if phone else 'desktop'}.png")
    b.set_dark(False)

    # At most 10 chats: the rest cannot be ticked.
    switch_chat(b, "Bob Source", phone)
    open_actions(b, wait_bubble(b, "worth passing on"))
    menu_item(b, "Forward").click()
    b.wait_for(".modal .fwd-row")
    b.js("[...document.querySelectorAll('.modal .fwd-row input')].slice(0, 10).forEach(i => i.click())")
    rows = b.js(FWD_ROWS)
    assert sum(r[1] for r in rows) == 10 and all(r[2] for r in rows if not r[1]), rows
    assert "At most 10 chats" in b.find(".modal .fwd-note").text
    assert b.find(".modal .modal-actions .btn.primary").text == "Forward to 10 chats"
    # A chip's x unpicks it, and the others can be ticked again.
    first = b.js(CHIPS)[0]
    b.find(f'.modal .chip-x[aria-label="Remove {first}"]').click()
    rows = b.js(FWD_ROWS)
    assert sum(r[1] for r in rows) == 9 and not any(r[2] for r in rows) and first not in b.js(CHIPS), rows
    assert b.find(".modal .modal-actions .btn.primary").text == "Forward to 9 chats"
    b.find(".modal .modal-close").click()
    b.wait_gone(".modal")

    # Forwarding what was deleted meanwhile: the API's problem is shown.
    b.allow("status of 409")
    open_actions(b, wait_bubble(b, "about to vanish"))
    menu_item(b, "Forward").click()
    b.wait_for(".modal .fwd-row")
    b.type(".modal input[type=search]", "Cy\n")
    assert api.delete(f"/api/messages/{gone['id']}", token=bob).status_code == 204
    b.find(".modal .modal-actions .btn.primary").click()
    err = b.wait(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#toasts .toast.error')].map(t => t.textContent)"), 10, "an error toast")
    assert any("delete" in t.lower() for t in err), err
    assert b.finds(".modal")  # still open, to pick again or cancel


MENTION = """const l = document.querySelector('.mention-list');
  return l && !l.hidden ? [...l.querySelectorAll('.mention-item')].map(i => [
    i.querySelector('.mention-user').textContent, i.classList.contains('active')]) : null;"""


@PHONE
def test_mention_autocomplete(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Typer")
    bob = new_user("bobby", display_name="Bob Builder")
    bea = new_user("bea", display_name="Bea Baker")
    cy = new_user("cy", display_name="Cy Quiet")
    group = api.post("/api/chats", token=ann, json={"type": "group", "title": "Crew",
                                                       "member_ids": [u["user"]["id"] for u in (bob, bea, cy)]}).json()
    direct = api.post("/api/chats", token=ann, json={"type": "direct", "user_id": bob["user"]["id"]}).json()
    post(api, ann, direct["id"], "hi")
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Crew")
    box = b.wait_for(".composer-input")
    box.click()

    # "@b": Bea and Bob (usernames first, then by name); arrows move,
    # Enter inserts "@username ".
    box.send_keys("thanks @b")
    b.wait(lambda d: d.execute_script(MENTION) == [["@" + bea["username"], True], ["@" + bob["username"], False]], 5, "two")
    b.set_dark(phone)
    b.screenshot(out_dir / f"mention-{'phone' if phone else 'desktop'}.png")
    box.send_keys(Keys.ARROW_DOWN)
    assert b.js(MENTION) == [["@" + bea["username"], False], ["@" + bob["username"], True]]
    assert b.js("return document.activeElement.getAttribute('aria-activedescendant')") == f"mention-opt-{bob['user']['id']}"
    box.send_keys(Keys.ENTER)
    assert b.js("return document.querySelector('.composer-input').value") == f"thanks @{bob['username']} "
    assert b.js(MENTION) is None and not b.finds(".msg-list .msg-row.pending")

    # A word of the display name finds too; Tab inserts.
    box.send_keys("and @quiet")
    b.wait(lambda d: d.execute_script(MENTION) == [["@" + cy["username"], True]], 5, "Cy by name")
    box.send_keys(Keys.TAB)
    # Escape closes the list, which stays closed while that name is typed.
    box.send_keys("@ba")
    b.wait(lambda d: d.execute_script(MENTION) is not None, 5, "the list")
    box.send_keys(Keys.ESCAPE)
    assert b.js(MENTION) is None
    box.send_keys("k")
    time.sleep(0.2)
    assert b.js(MENTION) is None
    # A click inserts, in place of what was typed.
    for _ in range(4):
        box.send_keys(Keys.BACKSPACE)
    box.send_keys("@bea")
    b.wait(lambda d: d.execute_script(MENTION) == [["@" + bea["username"], True]], 5, "Bea")
    b.click(".mention-list .mention-item")
    text = f"thanks @{bob['username']} and @{cy['username']} @{bea['username']} "
    assert b.js("return document.querySelector('.composer-input').value") == text
    # Not an e-mail address.
    box.send_keys("mail me@b")
    time.sleep(0.2)
    assert b.js(MENTION) is None
    box.send_keys(Keys.ENTER)
    stored = sent_reply(api, ann, group["id"], text.strip() + " mail me@b")
    assert sorted(stored["mentions"]) == sorted([bob["user"]["id"], cy["user"]["id"], bea["user"]["id"]])

    # Direct chats have no list.
    switch_chat(b, "Bob Builder", phone)
    box = b.wait_for(".composer-input")
    box.click()
    box.send_keys("@b")
    time.sleep(0.3)
    assert b.js(MENTION) is None
