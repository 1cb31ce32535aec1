"""The web app mounted under /chat/ of a sysadmin's own nginx (tests/nginx2.py):
it loads, signs up, goes online over /chat/ws, chats in real time, and shows
a picture and a user's avatar whose URLs the API gives from its own root
(/api/files/...), resolved under the prefix."""

import uuid

from nginx2 import PREFIX, second_nginx
from ui import png, register, send_text, start_direct, wait_app, wait_bubble


def test_chat_under_a_prefix(browser, stack):
    with second_nginx(stack) as n:
        tag = uuid.uuid4().hex[:8]
        bob = n.api.new_user("pfxbob", display_name="Bob Prefix")
        r = n.api.put("/api/users/me/avatar", token=bob,
                      files=[("file", ("me.png", png(40, 40, seed=3), "image/png"))])
        assert r.status_code == 200, r.text

        a = browser()
        a.base_url = n.base + PREFIX
        register(a, "alice_" + tag, "alice's secret", display_name="Alice Prefix")
        wait_app(a)  # online: the WebSocket went through /chat/ws
        assert a.driver.current_url.startswith(n.app)

        start_direct(a, bob["username"][:10], "Bob Prefix")
        send_text(a, "Hello from under /chat")
        wait_bubble(a, "Hello from under /chat")
        chat_id = int(a.driver.current_url.rsplit("/", 1)[1])

        # Bob answers with a picture over the API: it arrives live, and its
        # URL (/api/files/..., from the API's root) loads under the prefix.
        r = n.api.post("/api/files", token=bob,
                       files=[("file", ("view.png", png(80, 60, seed=5), "image/png"))])
        assert r.status_code == 201, r.text
        fid = r.json()["files"][0]["id"]
        r = n.api.post(f"/api/chats/{chat_id}/messages", token=bob,
                       json={"text": "the view from here", "attachment_ids": [fid]})
        assert r.status_code == 201, r.text
        wait_bubble(a, "the view from here")
        # Looked up in one script each time: the bubble is drawn again on
        # events (Bob's user.updated among them), leaving an element found
        # by an earlier call stale.
        loaded = a.wait(lambda d: d.execute_script(
            "const row = [...document.querySelectorAll('.msg-row')]"
            "  .find((r) => r.textContent.includes('the view from here'));"
            "const i = row && row.querySelector('.media img');"
            "return i && i.complete && i.naturalWidth === 80 && i.src"), 15, "the image to load")
        assert loaded.startswith(n.app + "api/files/")

        # Bob's avatar in the chat's header, from the same kind of URL.
        # Looked up each time: the header is drawn again when Bob's
        # user.updated (his new picture) arrives.
        avatar = a.wait(lambda d: d.execute_script(
            "const i = document.querySelector('.chat-head .avatar img');"
            "return i && i.complete && i.naturalWidth === 40 && i.src"), 15, "the avatar to load")
        assert avatar.startswith(n.app + "api/files/")

        # Leaving closes the WebSocket before wsd is restarted with its
        # usual origins (second_nginx's end), which the app would retry.
        a.driver.get("about:blank")
