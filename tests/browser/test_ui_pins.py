"""Issue 16's pins, on desktop and a 390 px phone: Pin and Unpin in the
message menu for whoever may (a group's owner, either member of a direct
chat), the pinned bar under the header (the newest pin first, a click shows
that message and moves on to the next older one, its x unpins), kept
current live for the other member, and a pin far above the loaded history
shown all the same."""

import pytest

from ui import device, menu_item, open_actions, open_chat, post_message, sign_in, wait_bubble

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])

BAR = """const bar = document.querySelector('.pin-bar');
  if (!bar || bar.hidden) return null;
  return [bar.querySelector('.pin-label').textContent, bar.querySelector('.pin-text').textContent,
          !bar.querySelector('.pin-unpin').hidden, bar.querySelectorAll('.pin-line').length];"""


def bar(b):
    return b.js(BAR)


def wait_bar(b, label, text, what="the pinned bar"):
    return b.wait(lambda d: (lambda v: v if v and v[0] == label and v[1] == text else None)(bar(b)), 15,
                  f"{what}: {label} / {text} (it shows {bar(b)})")


def menu_labels(b, row):
    open_actions(b, row)
    labels = b.js("return [...document.querySelectorAll('.popover .menu-item')].map(e => e.textContent)")
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
    b.wait_gone(".popover")
    return labels


@PHONE
def test_pins(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Owner")
    bob = new_user("bob", display_name="Bob Member")
    group = api.post("/api/chats", token=ann, json={"type": "group", "title": "Pinboard",
                                                     "member_ids": [bob["user"]["id"]]}).json()
    gid = group["id"]
    first = post_message(api, ann, gid, "first pinned, **far** up")
    for i in range(55):
        post_message(api, ann, gid, f"filler {i}")
    second = post_message(api, ann, gid, "second pinned")
    post_message(api, ann, gid, "pin me from the menu")
    for m in (first, second):
        assert api.put(f"/api/chats/{gid}/pins/{m['id']}", token=ann).status_code == 204
    # Bob has read it all: his chat opens at the newest page too.
    last = api.get(f"/api/chats/{gid}", token=bob).json()["last_message"]["id"]
    assert api.post(f"/api/chats/{gid}/read", token=bob, json={"message_id": last}).status_code == 204

    a = device(browser, phone)
    sign_in(a, ann["username"], ann["password"])
    open_chat(a, "Pinboard")
    b = device(browser, phone)
    sign_in(b, bob["username"], bob["password"])
    open_chat(b, "Pinboard")

    # The newest pin first; the owner may unpin, a member may not (nor pin).
    assert wait_bar(a, "Pinned message #2", "second pinned")[2:] == [True, 2]
    assert wait_bar(b, "Pinned message #2", "second pinned")[2] is False
    assert "Pin" not in menu_labels(b, wait_bubble(b, "pin me from the menu"))

    # Pinned from the menu: both bars follow at once.
    row = wait_bubble(a, "pin me from the menu")
    open_actions(a, row)
    a.screenshot(out_dir / f"pin-menu-{'phone' if phone else 'desktop'}.png")
    menu_item(a, "Pin").click()
    wait_bar(a, "Pinned message #3", "pin me from the menu")
    wait_bar(b, "Pinned message #3", "pin me from the menu", "Bob's bar, live")
    # The service messages quote what was pinned without its formatting signs.
    pills = a.js("return [...document.querySelectorAll('.service-pill')].map((p) => p.textContent)")
    assert any("“first pinned, far up”" in p for p in pills), pills
    a.screenshot(out_dir / f"pins-{'phone' if phone else 'desktop'}.png")
    a.set_dark(True)
    a.screenshot(out_dir / f"pins-{'phone' if phone else 'desktop'}-dark.png")
    a.set_dark(False)
    assert "Unpin" in menu_labels(a, wait_bubble(a, "pin me from the menu"))

    # A click shows the pin in the chat and the bar moves on to the next
    # older one; the oldest, far above the loaded history, is there too.
    a.click(".pin-bar .pin-main")
    wait_bar(a, "Pinned message #2", "second pinned")
    a.click(".pin-bar .pin-main")
    wait_bar(a, "Pinned message #1", "first pinned, far up")
    a.click(".pin-bar .pin-main")
    a.wait(lambda d: d.execute_script(
        "const r = document.querySelector(`.msg-row[data-message-id='${arguments[0]}']`);"
        "if (!r) return false; const s = document.querySelector('.messages').getBoundingClientRect(),"
        " q = r.getBoundingClientRect(); return q.bottom > s.top && q.top < s.bottom;", first["id"]),
        20, "the first pin shown in the chat")
    wait_bar(a, "Pinned message #3", "pin me from the menu")

    # The x unpins the pin shown, for both.
    a.click(".pin-bar .pin-unpin")
    wait_bar(a, "Pinned message #2", "second pinned")
    wait_bar(b, "Pinned message #2", "second pinned", "Bob's bar after the unpin")
    ids = api.get(f"/api/chats/{gid}", token=bob).json()["pinned_message_ids"]
    assert ids == [second["id"], first["id"]], ids

    # Deleting a pinned message unpins it: the bar goes down to one pin.
    assert api.delete(f"/api/messages/{second['id']}", token=ann).status_code == 204
    v = wait_bar(b, "Pinned message", "first pinned, far up", "Bob's bar after the delete")
    assert v[3] == 1, v

    # In a direct chat either member pins.
    d = api.post("/api/chats", token=ann, json={"type": "direct", "user_id": bob["user"]["id"]}).json()
    post_message(api, ann, d["id"], "direct words")
    if phone:
        b.click(".chat-head .back-btn")
    open_chat(b, "Ann Owner")
    row = wait_bubble(b, "direct words")
    open_actions(b, row)
    menu_item(b, "Pin").click()
    assert wait_bar(b, "Pinned message", "direct words")[2] is True
