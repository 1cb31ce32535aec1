"""The realtime link in the browser: a dropped WebSocket (closed from the
page, or wsd restarted) resumes with `since`, and every message sent
meanwhile arrives exactly once; a `since` older than the kept events gets a
reset, and the app reloads over REST."""

import threading
import time
import uuid

import pytest

from ui import bubbles, chat_item, open_chat, post_message, sign_in, wait_app


def post(api, user, chat_id, text):
    return post_message(api, user, chat_id, text, client_id=str(uuid.uuid4()))


def wait_texts(b, texts, timeout=30):
    def all_there(d):
        seen = {t for _, t in bubbles(b)}
        return all(t in seen for t in texts)

    b.wait(all_there, timeout, f"{len(texts)} messages")
    time.sleep(0.5)  # a late duplicate would show now
    rows = bubbles(b)
    ids = [i for i, _ in rows]
    assert None not in ids
    assert len(ids) == len(set(ids)), "a message is shown twice"
    for t in texts:
        assert sum(1 for _, s in rows if s == t) == 1, f"{t!r} is not there exactly once"


def test_dropped_socket_resumes_without_loss(browser, api, new_user, stack):
    hal = new_user("hal", display_name="Hal Jordan")
    ivy = new_user("ivy", display_name="Ivy Pepper")
    chat = api.post("/api/chats", token=ivy, json={"type": "direct", "user_id": hal["user"]["id"]}).json()
    other = api.post("/api/chats", token=ivy, json={"type": "group", "title": "Side room", "member_ids": [hal["user"]["id"]]}).json()
    post(api, ivy, chat["id"], "before the drop")

    b = browser()
    # While wsd restarts the browser's reconnects are refused: expected.
    b.allow("WebSocket connection to")
    sign_in(b, hal["username"], hal["password"])
    b.js("window.__states = []; setInterval(() => { const s = window.messenger && window.messenger.connection;"
         " if (window.__states[window.__states.length - 1] !== s) window.__states.push(s); }, 20);")
    open_chat(b, "Ivy Pepper")
    wait_texts(b, ["before the drop"])

    # 1. The page drops its socket; messages are sent while it is away.
    b.js("window.messenger.dropSocket()")
    sent = [f"while dropped {i}" for i in range(5)]
    for t in sent:
        post(api, ivy, chat["id"], t)
    wait_texts(b, ["before the drop", *sent])
    b.wait(lambda d: b.js("return window.messenger.connection") == "online", 20, "online again")

    # 2. wsd restarts while messages keep coming, in this chat and another.
    done = threading.Event()
    during = []

    def sender():
        i = 0
        while not done.is_set() and i < 40:
            t = f"during restart {i}"
            post(api, ivy, chat["id"], t)
            during.append(t)
            i += 1
            time.sleep(0.05)

    th = threading.Thread(target=sender)
    th.start()
    try:
        stack.restart("wsd")
    finally:
        time.sleep(0.3)
        done.set()
        th.join()
    post(api, ivy, other["id"], "in the side room")
    after = [f"after restart {i}" for i in range(3)]
    for t in after:
        post(api, ivy, chat["id"], t)

    wait_texts(b, ["before the drop", *sent, *during, *after], timeout=45)
    assert "reconnecting" in b.js("return window.__states")
    b.wait(lambda d: b.js("return window.messenger.connection") == "online", 30, "online again")
    # The other chat got its message too: preview and unread badge.
    item = chat_item(b, "Side room")
    b.wait(lambda d: "in the side room" in chat_item(b, "Side room").text, 15, "the side room's preview")
    assert item
    # A reload shows the same history, once each.
    b.reload()
    wait_app(b)
    open_chat(b, "Ivy Pepper")
    wait_texts(b, [*after])


def test_reset_after_the_missed_events_were_pruned(browser, api, new_user, stack):
    """A tab away for longer than events are kept: wsd answers its `since`
    with reset, and the app reloads over REST what it can no longer replay."""
    if not stack.local:
        pytest.skip("needs the local stack")
    jon = new_user("jon", display_name="Jon Snowe")
    kim = new_user("kim", display_name="Kim Possible")
    chat = api.post("/api/chats", token=kim, json={"type": "direct", "user_id": jon["user"]["id"]}).json()
    post(api, kim, chat["id"], "before the break")

    b = browser()
    b.allow("WebSocket connection to")
    sign_in(b, jon["username"], jon["password"])
    open_chat(b, "Kim Possible")
    wait_texts(b, ["before the break"])

    # Offline: the page can open no WebSocket while the messages come and
    # their events outlive the retention.
    b.js("window.__RealWebSocket = window.WebSocket;"
         " window.WebSocket = function () { throw new Error('offline for the test'); };"
         " window.messenger.dropSocket();")
    missed = [f"while away {i}" for i in range(3)]
    for t in missed:
        post(api, kim, chat["id"], t)
    stack.psql("UPDATE events SET created_at = now() - interval '30 days' WHERE chat_id = %s", chat["id"])
    assert stack.psql("SELECT prune_events()")[0][0] >= len(missed)

    # Online again, noting the type of every frame the page receives.
    b.js("window.__frames = [];"
         " window.WebSocket = class extends window.__RealWebSocket {"
         "   constructor(url, protocols) {"
         "     super(url, protocols);"
         "     this.addEventListener('message', (e) => {"
         "       try { window.__frames.push(JSON.parse(e.data).type); } catch (err) {}"
         "     });"
         "   }"
         " };"
         " window.dispatchEvent(new Event('online'));")
    b.wait(lambda d: "reset" in b.js("return window.__frames"), 30, "a reset frame")
    wait_texts(b, ["before the break", *missed])
    b.wait(lambda d: b.js("return window.messenger.connection") == "online", 20, "online again")
    # And live events flow again after the reset.
    post(api, kim, chat["id"], "after the reset")
    wait_texts(b, ["before the break", *missed, "after the reset"])


def test_the_socket_outlives_its_first_token(browser, api, new_user, stack):
    """wsd closes a connection when its access token expires, unless the
    page gives it the renewed one: with 20-second tokens the page stays
    online, without a reconnect, across two renewals."""
    if not stack.local:
        pytest.skip("needs the local stack")
    lea = new_user("lea", display_name="Lea Thompson")
    max_ = new_user("max", display_name="Max Payne")
    chat = api.post("/api/chats", token=max_, json={"type": "direct", "user_id": lea["user"]["id"]}).json()
    post(api, max_, chat["id"], "hello")
    with stack.restarted("auth", MSGR_ACCESS_TTL="20"):
        b = browser()
        sign_in(b, lea["username"], lea["password"])
        open_chat(b, "Max Payne")
        wait_texts(b, ["hello"])
        b.wait(lambda d: b.js("return window.messenger.connection") == "online", 20, "online")
        b.js("window.__states = []; setInterval(() => { const s = window.messenger.connection;"
             " if (window.__states[window.__states.length - 1] !== s) window.__states.push(s); }, 20);")
        time.sleep(45)
        post(api, max_, chat["id"], "still connected")
        wait_texts(b, ["hello", "still connected"])
        assert b.js("return window.__states") == ["online"]
