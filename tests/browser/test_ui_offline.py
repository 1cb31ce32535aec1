"""Writing without a network: messages wait with a clock and go out, in
order and once each, when the network is back (issue 16, bug 3)."""

import time

import pytest

from ui import device, open_chat, set_offline, sign_in, ticks, wait_bubble


def pending_rows(b):
    return b.js("""return [...document.querySelectorAll('.msg-list .msg-row.pending')].map(r => [
        r.querySelector('.msg-text').firstChild.textContent, r.querySelector('.ticks').dataset.state,
        r.textContent.includes('Not sent')])""")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_offline_messages_wait_and_go_when_back(browser, api, new_user, out_dir, phone):
    eve = new_user("eve", display_name="Eve Offline")
    max_ = new_user("max", display_name="Max Online")
    chat = api.post("/api/chats", token=eve, json={"type": "direct", "user_id": max_["user"]["id"]}).json()
    b = device(browser, phone)
    for noise in ("Failed to load resource", "ERR_INTERNET_DISCONNECTED", "WebSocket", "Failed to fetch"):
        b.allow(noise)
    sign_in(b, eve["username"], eve["password"])
    open_chat(b, "Max Online")

    set_offline(b, True)
    box = b.wait_for(".composer-input")
    box.click()
    box.send_keys("written on the train\n")
    box.send_keys("and a second one\n")
    # Queued, with a clock: not "Not sent", and still so after a while.
    b.wait(lambda d: len(pending_rows(b)) == 2, 5, "two pending bubbles")
    time.sleep(2)
    rows = pending_rows(b)
    assert rows == [["written on the train", "queued", False], ["and a second one", "queued", False]], rows
    assert not b.finds(".msg-row.failed")
    b.screenshot(out_dir / f"queued-{'phone' if phone else 'desktop'}.png")

    # The network comes back: both go out by themselves, in order, once.
    set_offline(b, False)
    for text in ("written on the train", "and a second one"):
        wait_bubble(b, text, 20)
        b.wait(lambda d: ticks(wait_bubble(b, text)) in ("sent", "delivered", "read"), 10, "sent ticks")
    b.wait_gone(".msg-row.pending")
    msgs = api.get(f"/api/chats/{chat['id']}/messages", token=eve).json()["messages"]
    assert [m["text"] for m in msgs] == ["written on the train", "and a second one"]
