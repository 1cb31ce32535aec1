"""History and the composer's ways in: scrolling back through a long chat,
jump to latest, files by drag and drop and by paste, progress and cancel."""

import time
import uuid

import pytest

from browser import By
from ui import bubbles, open_chat, post_message, send_text, sign_in, wait_bubble, wait_uploads_done


def test_history_scroll_and_jump(browser, api, new_user):
    oz = new_user("oz", display_name="Oz Wizard")
    pat = new_user("pat", display_name="Pat Sharp")
    chat = api.post("/api/chats", token=pat, json={"type": "direct", "user_id": oz["user"]["id"]}).json()
    for i in range(130):
        post_message(api, pat, chat["id"], f"history {i:03d}")
    # Read up to the newest: the chat opens at its latest page.
    last = api.get(f"/api/chats/{chat['id']}", token=oz).json()["last_message"]["id"]
    assert api.post(f"/api/chats/{chat['id']}/read", token=oz, json={"message_id": last}).status_code == 204

    b = browser()
    sign_in(b, oz["username"], oz["password"])
    open_chat(b, "Pat Sharp")
    b.wait(lambda d: any(t == "history 129" for _, t in bubbles(b)), 20, "the newest page")
    first_page = len(bubbles(b))
    assert first_page < 130
    assert not b.finds(".unread-sep")

    # Scroll up until the first message is there: older pages load on the way.
    for _ in range(40):
        b.js("document.querySelector('.messages').scrollTop = 0")
        time.sleep(0.3)
        if any(t == "history 000" for _, t in bubbles(b)):
            break
    rows = bubbles(b)
    texts = [t for _, t in rows]
    assert texts == [f"history {i:03d}" for i in range(130)]
    ids = [i for i, _ in rows]
    assert ids == sorted(ids) and len(set(ids)) == 130

    # Far from the bottom, a new message shows the jump button with a count.
    b.js("document.querySelector('.messages').scrollTop = 0")
    post_message(api, pat, chat["id"], "and one more")
    jump = b.wait_for(".jump")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".jump-badge").text == "1", 20, "the unread count on the button")
    jump.click()
    b.wait(lambda d: d.execute_script(
        "const s = document.querySelector('.messages'); return s.scrollHeight - s.scrollTop - s.clientHeight < 80"), 10,
        "the bottom")
    wait_bubble(b, "and one more")
    b.wait_gone(".jump")
    # now seen: the read marker reached the newest message
    b.wait(lambda d: api.get(f"/api/chats/{chat['id']}", token=oz).json()["unread_count"] == 0, 20, "all read")


VISIBLE_IDS = """
const s = document.querySelector('.messages').getBoundingClientRect();
return [...document.querySelectorAll('.msg-list .msg-row[data-message-id]')].filter((r) => {
  const b = r.getBoundingClientRect();
  return b.bottom > s.top && b.top < s.bottom;
}).map((r) => Number(r.dataset.messageId));
"""


def read_marker(api, user, chat_id):
    c = api.get(f"/api/chats/{chat_id}", token=user).json()
    return next(m["last_read_message_id"] for m in c["members"] if m["user"]["id"] == user["user"]["id"])


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_opens_at_the_first_unread_and_reads_only_what_was_seen(browser, api, new_user, phone):
    # 120 unread after a read marker: the newest page (50) does not reach
    # back to it. The chat opens at the first unread message, and the marker
    # moves over what comes into view, not over the page.
    ann = new_user("ann", display_name="Ann Reader")
    bob = new_user("bob", display_name="Bob Talker")
    chat = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    old = [post_message(api, bob, chat["id"], f"old {i}") for i in range(5)]
    assert api.post(f"/api/chats/{chat['id']}/read", token=ann, json={"message_id": old[-1]["id"]}).status_code == 204
    new = [post_message(api, bob, chat["id"], f"unread {i:03d}")["id"] for i in range(120)]

    b = browser(width=390, height=844, mobile=True) if phone else browser()
    if phone:
        b.viewport(390, 844, mobile=True)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Talker")
    sep = b.wait_for(".unread-sep")
    after = b.js("const n = arguments[0].nextElementSibling; return n && Number(n.dataset.messageId)", sep)
    assert after == new[0], "the separator is above the first unread message"
    shown = b.js(VISIBLE_IDS)
    assert new[0] in shown, shown

    # What the screen shows is read, and nothing below it.
    b.wait(lambda d: read_marker(api, ann, chat["id"]) >= new[0], 10, "the first unread read")
    time.sleep(1)
    marker = read_marker(api, ann, chat["id"])
    assert new[0] <= marker <= max(b.js(VISIBLE_IDS)), (marker, new.index(marker))
    assert api.get(f"/api/chats/{chat['id']}", token=ann).json()["unread_count"] == 120 - 1 - new.index(marker)

    # Scrolling down a screen at a time loads the rest, and reads it all.
    for _ in range(200):
        if read_marker(api, ann, chat["id"]) == new[-1]:
            break
        b.js("const s = document.querySelector('.messages'); s.scrollTop += s.clientHeight * 0.8")
        time.sleep(0.25)
    assert read_marker(api, ann, chat["id"]) == new[-1]
    texts = [t for _, t in bubbles(b)]
    assert texts[-120:] == [f"unread {i:03d}" for i in range(120)]
    b.wait(lambda d: api.get(f"/api/chats/{chat['id']}", token=ann).json()["unread_count"] == 0, 10, "all read")
    # ... and new messages join at the bottom again.
    post_message(api, bob, chat["id"], "live again")
    wait_bubble(b, "live again")


DROP = """
const [name, text, how] = arguments;
const file = new File([text], name, {type: 'text/plain'});
const dt = new DataTransfer();
dt.items.add(file);
if (how === 'drop') {
  const target = document.querySelector('.chat-body');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
  }
} else {
  const box = document.querySelector('.composer-input');
  box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
}
"""


def test_drop_paste_progress_and_cancel(browser, api, new_user, tmp_path):
    quin = new_user("quin", display_name="Quin Fabray")
    rae = new_user("rae", display_name="Rae Sremmurd")
    chat = api.post("/api/chats", token=quin, json={"type": "direct", "user_id": rae["user"]["id"]}).json()
    b = browser()
    sign_in(b, quin["username"], quin["password"])
    open_chat(b, "Rae Sremmurd")

    b.js(DROP, "dropped.txt", "dropped file", "drop")
    b.js(DROP, "pasted.txt", "pasted file", "paste")
    wait_uploads_done(b, 2)
    names = [e.text for e in b.finds(".upload-tray .upload-name")]
    assert names == ["dropped.txt", "pasted.txt"]
    send_text(b, "two files")
    row = wait_bubble(b, "two files")
    chips = [c.text for c in row.find_elements(By.CSS_SELECTOR, ".file-chip .file-name")]
    assert chips == ["dropped.txt", "pasted.txt"]

    # A slow upload shows its progress and can be cancelled: nothing is sent.
    big = tmp_path / "big.bin"
    big.write_bytes(uuid.uuid4().bytes * (3 * 1024 * 1024 // 16))
    b.driver.execute_cdp_cmd("Network.enable", {})
    b.driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                             {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 256 * 1024})
    try:
        b.find(".composer input[type=file]").send_keys(str(big))
        bar = b.wait_for(".upload-tray .upload.uploading progress")
        b.wait(lambda d: 0 < float(bar.get_attribute("value")) < 1, 15, "some progress")
        b.click('.upload-tray button[aria-label="Cancel upload"]')
        b.wait_gone(".upload-tray .upload")
    finally:
        b.driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                                 {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    assert b.find(".send-btn").get_attribute("disabled") is not None
    msgs = api.get(f"/api/chats/{chat['id']}/messages", token=quin).json()["messages"]
    assert [m["text"] for m in msgs if m["kind"] == "text"] == ["two files"]
