"""Two people chat in two browsers: find each other, messages in real time,
ticks, typing, edit, delete, reactions, pictures and files."""

import uuid

import requests

from browser import By, Keys
from ui import (
    attach,
    chat_item,
    composer,
    message_texts,
    menu_item,
    open_actions,
    open_chat,
    png,
    register,
    send_text,
    sign_in,
    start_direct,
    ticks,
    wait_bubble,
    wait_app,
    wait_uploads_done,
)


def badge(b, title):
    items = chat_item(b, title).find_elements(By.CSS_SELECTOR, ".badge")
    return items[0].text if items else ""


def test_two_people_chat(browser, tmp_path):
    # Both sign up in their browsers.
    tag = uuid.uuid4().hex[:8]
    alice = {"username": "alice_" + tag, "password": "alice's secret"}
    bob = {"username": "bob_" + tag, "password": "bob's secret!"}
    a = browser()
    b = browser()
    register(a, alice["username"], alice["password"], display_name="Alice Liddell")
    register(b, bob["username"], bob["password"], display_name="Bob Builder")
    wait_app(a)
    wait_app(b)

    # Alice finds Bob by his username and writes to him.
    start_direct(a, bob["username"][:10], "Bob Builder")
    send_text(a, "Hello Bob!")
    row = wait_bubble(a, "Hello Bob!")
    assert "out" in row.get_attribute("class")

    # Bob's list gets the chat live, with an unread badge; Alice's message
    # shows as delivered once Bob's app has acked it.
    b.wait(lambda d: badge(b, "Alice Liddell") == "1", 15, "an unread badge")
    b.wait(lambda d: "Hello Bob!" in chat_item(b, "Alice Liddell").find_element(By.CSS_SELECTOR, ".ci-preview").text,
           10, "the preview")
    a.wait(lambda d: ticks(wait_bubble(a, "Hello Bob!")) in ("delivered", "read"), 15, "delivered ticks")

    # Bob opens it: read, and Alice's ticks turn to read.
    open_chat(b, "Alice Liddell")
    wait_bubble(b, "Hello Bob!")
    a.wait(lambda d: ticks(wait_bubble(a, "Hello Bob!")) == "read", 15, "read ticks")
    b.wait(lambda d: badge(b, "Alice Liddell") == "", 10, "the badge to go")

    # Bob types: Alice sees "typing…"; then his reply arrives live.
    box = composer(b)
    box.click()
    box.send_keys("On my")
    a.wait(lambda d: "typing" in d.find_element(By.CSS_SELECTOR, ".chat-head .head-sub").text, 10, "typing…")
    box.send_keys(" way, see you soon", Keys.ENTER)
    wait_bubble(a, "On my way, see you soon")
    a.wait(lambda d: "typing" not in d.find_element(By.CSS_SELECTOR, ".chat-head .head-sub").text, 10, "typing to end")
    assert a.text(".chat-head .head-sub") == "online"

    # Shift+Enter is a new line, not a send.
    box = composer(a)
    box.send_keys("line one", Keys.SHIFT, Keys.ENTER, Keys.NULL, "line two", Keys.ENTER)
    two = wait_bubble(b, "line one")
    assert "line one\nline two" in two.find_element(By.CSS_SELECTOR, ".msg-text").text

    # Alice edits her first message: Bob sees the new text, marked edited.
    open_actions(a, wait_bubble(a, "Hello Bob!"))
    menu_item(a, "Edit").click()
    a.wait_for(".edit-banner")
    box = composer(a)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("Hello Bob, how are you?", Keys.ENTER)
    edited = wait_bubble(b, "Hello Bob, how are you?")
    assert edited.find_element(By.CSS_SELECTOR, ".edited").text == "edited"
    assert "Hello Bob!" not in message_texts(b)

    # Bob reacts with a thumbs up; Alice adds hers: 2, hers highlighted.
    open_actions(b, edited)
    b.click('.popover .pick[aria-label="React with 👍"]')
    a.wait(lambda d: wait_bubble(a, "Hello Bob, how").find_element(By.CSS_SELECTOR, '.reaction[data-emoji="👍"]').text.endswith("1"),
           10, "Bob's reaction at Alice's")
    wait_bubble(a, "Hello Bob, how").find_element(By.CSS_SELECTOR, '.reaction[data-emoji="👍"]').click()
    b.wait(lambda d: wait_bubble(b, "Hello Bob, how").find_element(By.CSS_SELECTOR, '.reaction[data-emoji="👍"] .reaction-count').text == "2",
           10, "two reactions at Bob's")
    mine = wait_bubble(a, "Hello Bob, how").find_element(By.CSS_SELECTOR, '.reaction[data-emoji="👍"]')
    assert mine.get_attribute("aria-pressed") == "true"

    # Bob deletes his reply: gone for both, a "deleted" placeholder stays.
    open_actions(b, wait_bubble(b, "On my way"))
    menu_item(b, "Delete").click()
    b.click(".modal-actions .btn.primary")
    a.wait(lambda d: "On my way, see you soon" not in message_texts(a), 10, "the deletion")
    a.wait_for(".msg-row.is-deleted")

    # Alice sends a picture and a file in one message.
    pic = tmp_path / "sunset.png"
    pic.write_bytes(png(80, 60, seed=7))
    doc = tmp_path / "notes – week 1.txt"
    doc.write_text("Packing list:\n- tent\n- stove\n")
    attach(a, pic, doc)
    wait_uploads_done(a, 2)
    box = composer(a)
    box.send_keys("Photos from yesterday", Keys.ENTER)
    a.wait_gone(".upload-tray .upload")
    row = wait_bubble(b, "Photos from yesterday")
    img = b.wait(lambda d: row.find_element(By.CSS_SELECTOR, ".media img"), 10, "the image")
    b.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 80, 15, "the image to load")
    chip = row.find_element(By.CSS_SELECTOR, ".file-chip")
    assert "notes – week 1.txt" in chip.text
    href = chip.get_attribute("href")
    r = requests.get(href, timeout=30)
    assert r.status_code == 200 and r.content == doc.read_bytes()
    assert "attachment" in r.headers.get("Content-Disposition", "")

    # The picture opens large in a lightbox; Escape closes it.
    row.find_element(By.CSS_SELECTOR, ".media-item").click()
    big = b.wait_for(".lightbox .lightbox-img")
    b.wait(lambda d: d.execute_script("return arguments[0].naturalWidth", big) == 80, 10, "the large image")
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.wait_gone(".lightbox")

    # Every message is there once on both sides.
    for br in (a, b):
        ids = br.js("return [...document.querySelectorAll('.msg-list [data-message-id]')].map(r => r.dataset.messageId)")
        assert len(ids) == len(set(ids))
        assert not br.finds(".msg-row.pending")


def test_send_answered_503_goes_again_by_itself(browser, new_user, api):
    """A 502 or 503 (a program restarting or not running, or unsure whether
    it stored a send) is retried with the same client_id after Retry-After
    (a second without one), a few times, before the message is marked as
    not sent."""
    alice = new_user("ida", display_name="Ida Noddack")
    bob = new_user("jon", display_name="Jon Postel")
    chat = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": bob["user"]["id"]}).json()
    a = browser()
    a.allow("Failed to load resource")
    sign_in(a, alice["username"], alice["password"])
    open_chat(a, "Jon Postel")
    # The next N message POSTs are answered 502 and 503 in turn, as nginx
    # answers while the program restarts; the client_id of each is recorded.
    a.js(
        """window.__realFetch = window.fetch;
           window.__refuse = 2; window.__ids = [];
           window.fetch = (url, opts) => {
             if (opts && opts.method === 'POST' && /\\/messages$/.test(url)) {
               window.__ids.push(JSON.parse(opts.body).client_id);
               if (window.__refuse-- > 0)
                 return Promise.resolve(window.__ids.length % 2
                   ? new Response(
                       '{"type":"about:blank","title":"Bad Gateway","status":502,"code":"service_not_running"}',
                       {status: 502, headers: {'Content-Type': 'application/problem+json'}})
                   : new Response(
                       '{"type":"about:blank","title":"Service Unavailable","status":503,"code":"service_unavailable"}',
                       {status: 503, headers: {'Content-Type': 'application/problem+json', 'Retry-After': '1'}}));
             }
             return window.__realFetch(url, opts);
           };"""
    )
    send_text(a, "Still there?")
    wait_bubble(a, "Still there?")
    a.wait_gone(".msg-row.pending")
    ids = a.js("return window.__ids")
    assert len(ids) == 3 and len(set(ids)) == 1, ids
    msgs = api.get(f"/api/chats/{chat['id']}/messages", token=alice).json()["messages"]
    assert [m["text"] for m in msgs].count("Still there?") == 1

    # Refused every time: after the automatic tries, the user decides.
    a.js("window.__refuse = 100; window.__ids = []")
    send_text(a, "Hello?")
    failed = a.wait_for(".msg-row.pending.failed", timeout=15)
    assert "Not sent" in failed.text
    assert len(a.js("return window.__ids")) == 4


def test_failed_send_is_shown_with_retry(browser, new_user, api):
    """A send that cannot reach the server stays in the chat, marked, and a
    retry with the same client_id stores it exactly once."""
    alice = new_user("fay", display_name="Fay Wray")
    bob = new_user("gus", display_name="Gus Grissom")
    chat = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": bob["user"]["id"]}).json()
    a = browser()
    a.allow("Failed to load resource")
    a.allow("Failed to fetch")
    sign_in(a, alice["username"], alice["password"])
    open_chat(a, "Gus Grissom")
    # Make the next message POSTs fail as if the network were down.
    a.js(
        """window.__realFetch = window.fetch;
           window.fetch = (url, opts) => (opts && opts.method === 'POST' && /\\/messages$/.test(url))
             ? Promise.reject(new TypeError('Failed to fetch')) : window.__realFetch(url, opts);"""
    )
    send_text(a, "Are you there?")
    failed = a.wait_for(".msg-row.pending.failed")
    assert "Not sent" in failed.text
    a.js("window.fetch = window.__realFetch")
    failed.find_element(By.XPATH, ".//button[text()='Retry']").click()
    wait_bubble(a, "Are you there?")
    a.wait_gone(".msg-row.pending")
    msgs = api.get(f"/api/chats/{chat['id']}/messages", token=alice).json()["messages"]
    assert [m["text"] for m in msgs].count("Are you there?") == 1
