"""The app at the WebSocket limit (MSGR_WS_MAX_PER_USER, close code 4429):
it says so, does not knock again in a tight loop (the next try waits at
least 15 s), and connects when the user asks after closing other tabs."""

import sys
import time
from pathlib import Path

import pytest

from ui import device, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from ws_client import WsClient  # noqa: E402

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])


def refusals(stack, user):
    return stack.log("wsd").count(f"auth refused: user {user['user']['id']} has ")


@PHONE
def test_too_many_connections_pauses_live_updates_without_a_loop(browser, stack, new_user, out_dir, phone):
    if not stack.local:
        pytest.skip("reads wsd's log")
    zed = new_user("zed", display_name="Zed Tabs")
    others = [WsClient.open(stack.ws_url, origin=stack.origin) for _ in range(20)]
    try:
        for c in others:
            c.auth(zed)
        b = device(browser, phone)
        sign_in(b, zed["username"], zed["password"], online=False)
        b.wait(lambda d: b.js("return window.messenger.connection") == "limited", 20, "the limited state")
        notice = b.wait_for(".conn-state")
        assert "Too many open tabs or devices" in notice.text
        assert not b.finds(".conn-state .spinner")
        b.screenshot(out_dir / f"ws-limit-{'phone' if phone else 'desktop'}.png")
        b.set_dark(True)
        b.screenshot(out_dir / f"ws-limit-{'phone' if phone else 'desktop'}-dark.png")
        b.set_dark(False)
        # No tight loop: one refusal, and no other try for a while (a
        # plain drop would try again after 0.5, 1, 2, 4 s).
        first = refusals(stack, zed)
        assert first == 1
        time.sleep(8)
        assert refusals(stack, zed) == first
        assert b.js("return window.messenger.connection") == "limited"
        # A network change frees no connection: still no try.
        b.js("window.dispatchEvent(new Event('online'))")
        time.sleep(1)
        assert refusals(stack, zed) == first

        # Another tab closes; Retry connects.
        others.pop().close()
        time.sleep(0.5)
        b.click(".conn-state .conn-retry")
        b.wait(lambda d: b.js("return window.messenger.connection") == "online", 20, "online")
        b.wait_gone(".conn-state")
    finally:
        for c in others:
            c.close()
