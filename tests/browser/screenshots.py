"""Screenshots of the main screens, light and dark, desktop and phone.

    /usr/bin/python3 tests/browser/screenshots.py [OUT_DIR]

starts a private stack (tests/helpers.py, build-asan/bin or MSGR_TEST_BIN;
or uses MSGR_TEST_URL), fills it with a few people, chats and messages
through the API, and writes PNGs to OUT_DIR (default docs/screenshots).
tests/browser/test_ui_screenshots.py runs the same capture in the test
suite (into a temporary directory unless MSGR_SCREENSHOTS=1).
"""

import math
import os
import struct
import sys
import time
import uuid
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from browser import Browser, By  # noqa: E402
from ui import open_chat, sign_in  # noqa: E402


def _png(width, height, pixel):
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes(pixel(x, y))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b""))


def landscape(width=480, height=300):
    """A small sunset over hills, drawn pixel by pixel."""
    sun = (width * 0.68, height * 0.52, height * 0.13)

    def px(x, y):
        t = y / height
        r, g, b = 255 - 40 * t, 150 + 40 * t - 90 * t * t, 110 + 100 * t
        d = math.hypot(x - sun[0], y - sun[1])
        if d < sun[2]:
            r, g, b = 255, 226, 150
        elif d < sun[2] * 2.2:
            k = 1 - (d - sun[2]) / (sun[2] * 1.2)
            r, g, b = r + (255 - r) * k * 0.5, g + (220 - g) * k * 0.5, b + (160 - b) * k * 0.5
        far = height * (0.62 + 0.05 * math.sin(x / 37.0) + 0.03 * math.sin(x / 13.0))
        near = height * (0.75 + 0.06 * math.sin(x / 61.0 + 1.3) + 0.02 * math.sin(x / 17.0))
        if y > near:
            r, g, b = 46, 52, 84
        elif y > far:
            r, g, b = 92, 84, 128
        return int(max(0, min(255, r))), int(max(0, min(255, g))), int(max(0, min(255, b)))

    return _png(width, height, px)


def portrait(hue, size=96):
    """An abstract avatar: a soft head-and-shoulders on a tinted ground."""
    base = [(255, 196, 160), (160, 200, 255), (190, 235, 190), (240, 190, 235)][hue % 4]

    def px(x, y):
        cx, cy = size / 2, size * 0.42
        head = math.hypot(x - cx, y - cy) < size * 0.2
        body = y > size * 0.68 and abs(x - cx) < size * 0.34 - (size - y) * 0.2
        if head or body:
            return (250, 250, 252)
        k = y / size
        return tuple(int(c * (0.75 + 0.25 * k)) for c in base)

    return _png(size, size, px)


class Scene:
    """People, chats and messages made through the API."""

    def __init__(self, api):
        self.api = api
        tag = uuid.uuid4().hex[:5]
        mk = lambda p, d: api.new_user(p + tag, display_name=d)  # noqa: E731
        self.alice = mk("alice", "Alice Martin")
        self.bob = mk("bob", "Bob Chen")
        self.chloe = mk("chloe", "Chloé Dubois")
        self.dan = mk("dan", "Dan Okafor")
        self.eva = mk("eva", "Eva Novak")
        for i, u in enumerate((self.bob, self.chloe)):
            files = {"file": ("me.png", portrait(i), "image/png")}
            r = api.put("/api/users/me/avatar", token=u, files=files)
            assert r.status_code == 200, r.text
        api.patch("/api/users/me", token=self.bob, json={"about": "Backend, coffee, climbing."})

    def chat(self, owner, **body):
        r = self.api.post("/api/chats", token=owner, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def say(self, user, chat, text=None, files=(), reply_to=None):
        ids = []
        for name, data, mime in files:
            r = self.api.post("/api/files", token=user, files={"file": (name, data, mime)})
            assert r.status_code == 201, r.text
            ids += [f["id"] for f in r.json()["files"]]
        body = {"client_id": str(uuid.uuid4())}
        if text:
            body["text"] = text
        if ids:
            body["attachment_ids"] = ids
        if reply_to:
            body["reply_to_id"] = reply_to["id"]
        r = self.api.post(f"/api/chats/{chat['id']}/messages", token=user, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def react(self, user, msg, emoji):
        from urllib.parse import quote

        self.api.put(f"/api/messages/{msg['id']}/reactions/{quote(emoji)}", token=user)

    def read(self, user, chat, msg):
        self.api.post(f"/api/chats/{chat['id']}/read", token=user, json={"message_id": msg["id"]})

    def build(self):
        a, b, c, d, e = self.alice, self.bob, self.chloe, self.dan, self.eva
        uid = lambda u: u["user"]["id"]  # noqa: E731
        self.team = self.chat(a, type="group", title="Design team", member_ids=[uid(b), uid(c), uid(d)])
        self.say(a, self.team, "Morning all! The new onboarding screens are up for review ☀️")
        m = self.say(c, self.team, "Looks great. I'd make the primary button a bit calmer, maybe our blue 500?")
        self.react(a, m, "👍")
        self.react(d, m, "👍")
        self.say(d, self.team, "Agreed. Also the empty state could use an illustration.")
        sketch = self.say(c, self.team, "I'll sketch one this afternoon 🎨")
        self.read(b, self.team, m)
        review = self.say(a, self.team, "**Review on Friday**, 14:00 in the _big room_. Notes go in `design/onboarding.md`")
        r = self.api.put(f"/api/chats/{self.team['id']}/pins/{review['id']}", token=a)
        assert r.status_code == 204, r.text

        self.direct = self.chat(a, type="direct", user_id=uid(b))
        self.say(b, self.direct, "Hey Alice! Are we still on for the hike on Saturday?")
        m1 = self.say(a, self.direct, "Yes! Leaving at 8 from the station 🚆")
        self.say(b, self.direct, "Perfect. Here's the view from the top last time:",
                 files=[("ridge.png", landscape(), "image/png")])
        m2 = self.say(a, self.direct, "Wow 😍 I'm bringing the good camera this time")
        self.react(b, m2, "❤️")
        m3 = self.say(b, self.direct, "I made a packing list, have a look",
                      files=[("packing-list.pdf", b"%PDF-1.4\n% packing list\n" + b"0" * 18000, "application/pdf")])
        self.api.patch(f"/api/messages/{m1['id']}", token=a, json={"text": "Yes! Leaving at 8:15 from the station 🚆"})
        m4 = self.say(a, self.direct, "Thanks! Snacks are on me 🍫")
        self.read(b, self.direct, m4)
        self.read(a, self.direct, m3)

        self.eva_chat = self.chat(e, type="direct", user_id=uid(a))
        self.say(e, self.eva_chat, "Can you send me the invoice from March?")
        self.say(e, self.eva_chat, "No rush, next week is fine")
        self.dan_chat = self.chat(d, type="direct", user_id=uid(a))
        lunch = self.say(d, self.dan_chat, "Lunch at 1?")
        self.read(a, self.dan_chat, lunch)
        self.say(a, self.dan_chat, "Sure, the usual place")
        self.say(d, self.team, "Thanks Chloé, can't wait to see it")
        self.say(b, self.team, f"Late to the party, but +1 on the calmer blue. @{c['username']} can I see the sketch?",
                 reply_to=sketch)
        r = self.api.post(f"/api/messages/{review['id']}/forward", token=a, json={"chat_ids": [self.direct["id"]]})
        assert r.status_code == 201, r.text
        self.say(b, self.direct, "👍🎉")


def capture(base_url, api, out_dir, log=print, make=None):
    """Writes the screenshots; make(width=, height=, dark=, mobile=) gives a
    Browser (default: a new one on base_url)."""
    make = make or (lambda **kw: Browser(base_url, **kw))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scene = Scene(api)
    scene.build()
    written = []

    def shot(br, name):
        br.screenshot(out / name)
        written.append(name)
        log(f"screenshot {out / name}")

    # Others online while Alice looks: Bob's and Chloé's presence.
    others = []
    for u in (scene.bob, scene.chloe):
        o = make(width=800, height=600)
        sign_in(o, u["username"], u["password"])
        others.append(o)
    try:
        for dark in (False, True):
            theme = "dark" if dark else "light"
            br = make(width=1280, height=800, dark=dark)
            try:
                br.viewport(1280, 800)
                br.open("/")
                br.wait_for(".auth-card")
                shot(br, f"login-{theme}.png")
                sign_in(br, scene.alice["username"], scene.alice["password"])
                open_chat(br, "Bob Chen")
                br.wait(lambda d: d.execute_script(
                    "return [...document.querySelectorAll('.media img')].every(i => i.complete && i.naturalWidth)"), 15, "images")
                br.js("document.activeElement.blur()")
                shot(br, f"chat-{theme}.png")
                open_chat(br, "Design team")
                br.click(".chat-head .info-btn")
                br.wait_for(".info-panel .member")
                br.js("document.activeElement.blur()")
                shot(br, f"group-info-{theme}.png")
                if not dark:
                    br.click(".info-close")
                    br.click(".sidebar .me")
                    br.wait_for(".modal.profile")
                    br.js("document.activeElement.blur()")
                    shot(br, "profile-light.png")
                    br.driver.find_element(By.CSS_SELECTOR, ".modal-close").click()
                    # People and messages: Chloé by name, and what was said to her.
                    br.type(".search-input", "Chloé")
                    br.wait_for(".search-results .person")
                    br.wait_for(".search-results .msg-hit")
                    time.sleep(0.5)
                    shot(br, "search-light.png")
            finally:
                br.quit()

            ph = make(width=360, height=740, dark=dark, mobile=True)
            try:
                ph.viewport(360, 740, mobile=True, scale=2)
                sign_in(ph, scene.alice["username"], scene.alice["password"])
                time.sleep(0.5)
                shot(ph, f"phone-list-{theme}.png")
                open_chat(ph, "Bob Chen")
                ph.wait(lambda d: d.execute_script(
                    "return [...document.querySelectorAll('.media img')].every(i => i.complete && i.naturalWidth)"), 15, "images")
                ph.js("document.activeElement.blur()")
                shot(ph, f"phone-chat-{theme}.png")
            finally:
                ph.quit()
    finally:
        for o in others:
            o.quit()
    return written


def main():
    from helpers import REPO, Api, Stack

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    url = os.environ.get("MSGR_TEST_URL")
    stack = None
    if url:
        base = url
    else:
        bin_dir = os.environ.get("MSGR_TEST_BIN", str(REPO / "build-asan" / "bin"))
        stack = Stack.start_local(bin_dir)
        base = stack.base_url
    try:
        capture(base, Api(base), out)
    finally:
        if stack:
            for p in stack.shutdown():
                print(p, file=sys.stderr)


if __name__ == "__main__":
    main()
