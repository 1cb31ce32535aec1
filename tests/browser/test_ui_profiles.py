"""Other people in the app: a profile change (name, picture) reaches those
who share a chat with them at once (`user.updated`), and a direct chat
someone opened with you joins your list only with its first message."""

import time

import pytest

from browser import By
from ui import chat_item, open_chat, png, post_message, sign_in, wait_app, wait_bubble


def viewer(browser, phone):
    if not phone:
        return browser()
    b = browser(width=390, height=844, mobile=True)
    b.viewport(390, 844, mobile=True)
    return b


def titles(b):
    return [e.text for e in b.driver.find_elements(By.CSS_SELECTOR, ".chat-list .ci-title")]


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_profile_changes_reach_chat_partners_at_once(browser, api, new_user, phone):
    ann = new_user("ann", display_name="Ann Watcher")
    bob = new_user("bob", display_name="Bob Before")
    direct = api.post("/api/chats", token=ann, json={"type": "direct", "user_id": bob["user"]["id"]}).json()
    post_message(api, bob, direct["id"], "hi Ann")
    group = api.post("/api/chats", token=ann, json={"type": "group", "title": "Book club",
                                                    "member_ids": [bob["user"]["id"]]}).json()
    post_message(api, bob, group["id"], "in the group")

    b = viewer(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    chat_item(b, "Bob Before")
    open_chat(b, "Book club")
    wait_bubble(b, "in the group")
    assert b.find(".msg-row.in .msg-sender").text == "Bob Before"

    r = api.patch("/api/users/me", token=bob, json={"display_name": "Robert After"})
    assert r.status_code == 200, r.text
    # The group's bubbles and the direct chat's title, without a reload.
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".msg-row.in .msg-sender").text == "Robert After", 10,
           "the sender's new name in the open chat")
    if phone:
        b.click(".chat-head .back-btn")
    b.wait(lambda d: "Robert After" in titles(b) and "Bob Before" not in titles(b), 10, "the new name in the list")

    r = api.put("/api/users/me/avatar", token=bob, files=[("file", ("bob.png", png(80, 80, seed=5), "image/png"))])
    assert r.status_code in (200, 201), r.text
    b.wait(lambda d: d.execute_script(
        """const t = [...document.querySelectorAll('.chat-list .chat-item')]
             .find((e) => e.querySelector('.ci-title').textContent === 'Robert After');
           const i = t && t.querySelector('img');
           return !!(i && i.complete && i.naturalWidth === 80);"""), 15, "the new picture in the list")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_direct_chat_joins_the_list_with_its_first_message(browser, api, new_user, phone):
    cat = new_user("cat", display_name="Cat Quiet")
    dan = new_user("dan", display_name="Dan Opener")
    b = viewer(browser, phone)
    sign_in(b, cat["username"], cat["password"])
    wait_app(b)

    # Dan opens a chat with Cat (as the app does from search) and writes nothing.
    chat = api.post("/api/chats", token=dan, json={"type": "direct", "user_id": cat["user"]["id"]}).json()
    time.sleep(1.5)  # the chat.created event has had time to arrive
    assert "Dan Opener" not in titles(b)
    assert chat["id"] not in [c["id"] for c in api.get("/api/chats", token=cat).json()["chats"]]
    b.driver.refresh()
    wait_app(b)
    assert "Dan Opener" not in titles(b)

    # His first message brings it.
    post_message(api, dan, chat["id"], "hello Cat")
    item = chat_item(b, "Dan Opener")
    b.wait(lambda d: "hello Cat" in item.text, 10, "the preview")
    open_chat(b, "Dan Opener")
    wait_bubble(b, "hello Cat")
