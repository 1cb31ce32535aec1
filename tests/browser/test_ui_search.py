"""Message search in the sidebar and the "@" badge of unread mentions, on
desktop and a 390 px phone (issue 16): hits with their chat, sender and the
text around the match, matching words marked, word forms and ё = е as the
server matches them, paging with "Show more messages", a click opening the
message in its chat even when it is far back in the history."""

import pytest

from browser import By, Keys
from ui import chat_item, device, open_chat, post_message, sign_in, wait_bubble

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])

# Everything shown of the hits, read in one script: the list is redrawn as
# answers come in.
HITS = """return [...document.querySelectorAll('.search-results .msg-hit')].map(e => ({
  chat: e.querySelector('.ci-title').textContent,
  sender: (e.querySelector('.hit-sender') || {}).textContent || '',
  text: e.querySelector('.hit-text').textContent,
  marks: [...e.querySelectorAll('mark.hit')].map(m => m.textContent),
  id: Number(e.dataset.messageId)}));"""


def search(b, q):
    box = b.wait_for(".search-input")
    box.clear()
    box.send_keys(q)


def wait_hits(b, n, what):
    return b.wait(lambda d: (lambda h: h if len(h) == n and not b.finds(".search-results .spinner") else None)(b.js(HITS)),
                  15, what)


@PHONE
def test_search_messages_and_open_one_far_back(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Seeker")
    bob = new_user("bob", display_name="Bob Finder")
    cy = new_user("cy", display_name="Cy Camper")
    direct = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    trip = api.post("/api/chats", token=ann, json={
        "type": "group", "title": "Trip", "member_ids": [bob["user"]["id"], cy["user"]["id"]]}).json()
    far = post_message(api, bob, direct["id"], "Remember the old lighthouse keeper who told us about the storm of 1987?")
    post_message(api, bob, direct["id"], "The fog was thick over the harbour this morning, the ferries waited")
    post_message(api, bob, direct["id"], "В тумане ёжик шёл домой")
    for i in range(60):
        post_message(api, bob, direct["id"], f"filler {i}")
    for i in range(25):
        post_message(api, cy if i % 2 else ann, trip["id"], f"tent number {i} is packed")

    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])

    # A word far back in a long message: its hit names the chat, shows the
    # text from a little before the word, the word marked.
    search(b, "lighthouse")
    hits = wait_hits(b, 1, "one hit for lighthouse")
    assert hits[0]["chat"] == "Bob Finder" and hits[0]["marks"] == ["lighthouse"], hits
    assert hits[0]["id"] == far["id"] and "lighthouse keeper" in hits[0]["text"], hits

    # Word forms and ё = е, as the server matches them.
    search(b, "harbours")
    assert wait_hits(b, 1, "harbours -> harbour")[0]["marks"] == ["harbour"]
    search(b, "туман ежик")
    assert wait_hits(b, 1, "туман ежик")[0]["marks"] == ["тумане", "ёжик"]

    # More than a page of hits: 20, then "Show more messages" brings the rest;
    # in a group the sender is named ("You" for one's own).
    search(b, "tent")
    hits = wait_hits(b, 20, "the first page of tent")
    assert {h["chat"] for h in hits} == {"Trip"} and {h["sender"] for h in hits} == {"You: ", "Cy Camper: "}, hits
    assert hits[0]["text"] == "You: tent number 24 is packed", hits[0]
    b.screenshot(out_dir / f"search-{'phone' if phone else 'desktop'}-light.png")
    b.click(".search-results .more-hits")
    hits = wait_hits(b, 25, "all 25 hits of tent")
    assert [h["text"].split(": ")[1] for h in hits] == [f"tent number {i} is packed" for i in range(24, -1, -1)]
    assert not b.finds(".search-results .more-hits")

    search(b, "zebra")
    b.wait(lambda d: "Nothing found for “zebra”" in d.find_element(By.CSS_SELECTOR, ".search-results").text, 15, "nothing found")

    # A click opens the message in its chat: 60 messages came after it, so
    # it is not in the newest page; it is loaded and shown on screen.
    search(b, "lighthouse")
    wait_hits(b, 1, "lighthouse again")
    b.click(".search-results .msg-hit")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == "Bob Finder", 10, "the chat open")
    row = wait_bubble(b, "Remember the old lighthouse")
    b.wait(lambda d: d.execute_script("""const r = arguments[0].getBoundingClientRect();
      const s = document.querySelector('.messages').getBoundingClientRect();
      return r.top >= s.top && r.bottom <= s.bottom;""", row), 10, "the message on screen")

    # The hit stays in the results, marked as the one open (on a phone,
    # after going back).
    if phone:
        b.click(".back-btn")
    b.wait(lambda d: d.execute_script(
        "const a = document.querySelector('.search-results .msg-hit.active'); return a && a.offsetParent !== null"),
        10, "the hit marked open")
    # Escape in the box ends the search: the chat list is back.
    box = b.wait_for(".search-input")
    box.send_keys(Keys.ESCAPE)
    chat_item(b, "Trip")


@PHONE
def test_mention_badge(browser, api, new_user, phone):
    ann = new_user("ann", display_name="Ann Named")
    bob = new_user("bob", display_name="Bob Caller")
    team = api.post("/api/chats", token=bob, json={"type": "group", "title": "Team", "member_ids": [ann["user"]["id"]]}).json()
    club = api.post("/api/chats", token=bob, json={"type": "group", "title": "Club", "member_ids": [ann["user"]["id"]]}).json()
    post_message(api, bob, team["id"], f"@{ann['username']} are you coming tonight?")
    post_message(api, bob, club["id"], "nobody named here")

    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    badges = """return Object.fromEntries([...document.querySelectorAll('.chat-list .chat-item')].map(e =>
      [e.querySelector('.ci-title').textContent, !!e.querySelector('.badge.mention')]));"""

    # From the chat list as loaded: "@" on Team only.
    b.wait(lambda d: b.js(badges).get("Team") is True and b.js(badges).get("Club") is False, 15, "@ on Team only")
    labels = b.js("return [...document.querySelectorAll('.chat-list .chat-item')].map(e => e.getAttribute('aria-label'))")
    assert any(label.startswith("Team") and "you were mentioned" in label for label in labels), labels

    # Read: it goes.
    open_chat(b, "Team")
    wait_bubble(b, "@")
    b.wait(lambda d: [c["unread_count"] for c in api.get("/api/chats", token=ann).json()["chats"]
                      if c["id"] == team["id"]] == [0], 15, "Team read")
    if phone:
        b.click(".back-btn")
    b.wait(lambda d: b.js(badges).get("Team") is False, 15, "@ gone once read")

    # Live: a mention in a chat not open brings it; a plain message does not.
    post_message(api, bob, club["id"], "still nobody")
    post_message(api, bob, club["id"], f"now you, @{ann['username']}")
    b.wait(lambda d: b.js(badges).get("Club") is True, 15, "@ on Club, live")
    assert b.js(badges).get("Team") is False
