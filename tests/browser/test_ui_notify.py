"""Notifications in the browser (issue 17): desktop notifications through a
stubbed `Notification` (installed before the app loads, recording calls),
asked for from the chat list's banner, honouring a chat's mute and notify
choice (a mention notifies unless "none"), a click opening the chat, and
the unread count on the title and favicon without muted chats."""

from browser import By
from ui import chat_item, menu_item, open_chat, post_message, sign_in

STUB = """
window.__notes = [];
window.__focused = true;
document.hasFocus = () => window.__focused;
class FakeNotification {
  constructor(title, opts) {
    this.title = title;
    Object.assign(this, opts || {});
    window.__notes.push({ title, body: (opts || {}).body, tag: (opts || {}).tag });
    window.__last = this;
  }
  close() {}
  static requestPermission() {
    FakeNotification.permission = "granted";
    return Promise.resolve("granted");
  }
}
FakeNotification.permission = "default";
window.Notification = FakeNotification;
"""


def notes(b):
    return b.js("return window.__notes")


def test_notifications_mute_and_counts(browser, api, new_user):
    ann = new_user("ann", display_name="Ann Note")
    bob = new_user("bob", display_name="Bob Sender")
    direct = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    post_message(api, bob, direct["id"], "hello Ann")
    group = api.post("/api/chats", token=bob, json={"type": "group", "title": "Quiet room",
                                                    "member_ids": [ann["user"]["id"]]}).json()

    b = browser()
    b.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STUB})
    sign_in(b, ann["username"], ann["password"])
    chat_item(b, "Bob Sender")
    assert notes(b) == []  # nothing asked nor shown on load

    # The banner asks, from its button only.
    b.wait_for(".notify-banner")
    b.click(".notify-banner .btn.primary")
    b.wait(lambda d: b.js("return Notification.permission") == "granted", 5, "permission")
    b.wait_gone(".notify-banner")

    # In view: no notification. Hidden or unfocused: one, per chat.
    post_message(api, bob, direct["id"], "while you look")
    b.wait(lambda d: "while you look" in chat_item(b, "Bob Sender").text, 10, "the message in the list")
    assert notes(b) == []
    b.js("window.__focused = false")
    post_message(api, bob, direct["id"], "first ping")
    b.wait(lambda d: len(notes(b)) == 1, 10, "a notification")
    n = notes(b)[0]
    assert n["title"] == "Bob Sender" and n["body"] == "first ping" and n["tag"] == f"chat-{direct['id']}"
    count = b.find('link[rel="icon"]').get_attribute("data-count")
    assert count and int(count) >= 3  # the group's own service messages may count too
    assert b.driver.title == f"({count}) Messenger"

    # A click on it opens the chat (and focuses the tab: messages in view
    # are read only then).
    b.js("window.__focused = true; window.__last.onclick()")
    b.wait(lambda d: d.current_url.endswith(f"#/c/{direct['id']}"), 10, "the chat opened")
    b.wait(lambda d: not chat_item(b, "Bob Sender").find_elements(By.CSS_SELECTOR, ".badge"), 10, "the chat read")

    # Mute the group from its header: its count is grey and not counted;
    # its messages do not notify, a mention does.
    open_chat(b, "Quiet room")
    b.click(".chat-head .mute-btn")
    menu_item(b, "Mute for 1 hour").click()
    b.wait_for(".chat-head .mute-btn[aria-label='Notifications: muted']")
    settings = [c for c in api.get("/api/chats", token=ann).json()["chats"] if c["id"] == group["id"]][0]
    assert settings["muted_until"]
    b.js("location.hash = '#/'")
    b.wait(lambda d: not d.current_url.endswith(f"#/c/{group['id']}"), 5, "the chat closed")
    # the Welcome chat's message stays unread: the count is that one
    b.wait(lambda d: b.driver.title == "(1) Messenger", 10, "only the welcome unread")
    b.js("window.__focused = false")
    post_message(api, bob, group["id"], "muted chatter")
    item = chat_item(b, "Quiet room")
    b.wait(lambda d: b.finds(".chat-item.muted-chat .badge.muted"), 10, "the grey badge")
    assert b.driver.title == "(1) Messenger"
    assert b.find('link[rel="icon"]').get_attribute("data-count") == "1"
    post_message(api, bob, group["id"], f"@{ann['username']} look here")
    b.wait(lambda d: len(notes(b)) == 2, 10, "the mention's notification")
    assert notes(b)[1]["title"] == "Bob Sender in Quiet room"
    assert item

    # "Mute forever" is notify "none": not even a mention.
    open_chat(b, "Quiet room")
    b.click(".chat-head .mute-btn")
    menu_item(b, "Mute forever").click()
    b.wait(lambda d: [c for c in api.get("/api/chats", token=ann).json()["chats"]
                      if c["id"] == group["id"]][0]["notify"] == "none", 10, "notify none")
    b.js("location.hash = '#/'")
    post_message(api, bob, group["id"], f"@{ann['username']} again")
    chat_item(b, "Quiet room")
    b.wait(lambda d: "again" in b.text(".chat-item.muted-chat .ci-preview"), 10, "the message arrived")
    assert len(notes(b)) == 2

    # Unmute.
    open_chat(b, "Quiet room")
    b.click(".chat-head .mute-btn")
    menu_item(b, "Unmute").click()
    b.wait_for(".chat-head .mute-btn[aria-label='Notifications']")
