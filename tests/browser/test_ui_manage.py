"""Managing chats in the info panel, on desktop and a 390 px phone (issue
16): block and unblock the other person (the composer says who blocked
whom), delete a direct chat for oneself (a new message brings it back),
hand a group over, the notice when ownership comes to you by itself, delete
a group; the Media and Files tabs and the lightbox stepping through the
chat's pictures (keys, buttons, swipe)."""

import pytest

from browser import By, Keys
from ui import device, open_chat, png, post_message, sign_in, wait_bubble

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])


def open_info(b):
    b.click(".chat-head .head-main")
    b.wait_for(".info-panel .info-hero")


def confirm(b, label):
    btn = b.wait_for(".modal-actions .btn.primary")
    assert btn.text == label, btn.text
    btn.click()
    b.wait_gone(".modal")


def list_titles(b):
    return b.js("return [...document.querySelectorAll('.chat-list .ci-title')].map(e => e.textContent)")


def say(api, user, chat_id, text=None, files=()):
    ids = []
    for name, data, mime in files:
        r = api.post("/api/files", token=user, files={"file": (name, data, mime)})
        assert r.status_code == 201, r.text
        ids += [f["id"] for f in r.json()["files"]]
    return post_message(api, user, chat_id, text, attachment_ids=ids)


@PHONE
def test_block_and_delete_direct_chat(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Blocker")
    bob = new_user("bob", display_name="Bob Pest")
    chat = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    post_message(api, bob, chat["id"], "buy my course")
    b = device(browser, phone)
    b.allow("403")  # Bob's refusal, below, is a console error of the fetch
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Pest")

    # Block (confirmed): Bob's messages are refused; the composer's place
    # says so, with Unblock.
    open_info(b)
    b.click(".info-panel .block-action")
    confirm(b, "Block")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".info-panel .block-action").text == "Unblock Bob Pest", 10, "Unblock")
    assert api.post(f"/api/chats/{chat['id']}/messages", token=bob, json={"text": "hey"}).status_code == 403
    b.click(".info-close")
    notice = b.wait_for(".blocked-notice")
    assert notice.text.startswith("You blocked Bob Pest.") and not b.find(".composer").is_displayed(), notice.text
    b.screenshot(out_dir / f"blocked-{'phone' if phone else 'desktop'}.png")
    b.click('.blocked-notice button[aria-label="Unblock Bob Pest"]')
    b.wait_for(".composer-input")
    b.wait_gone(".blocked-notice")
    post_message(api, bob, chat["id"], "sorry, no more ads")
    wait_bubble(b, "sorry, no more ads")

    # Now Bob blocks Ann: her message is refused, and the composer's place
    # says that she cannot write (until she tries again).
    assert api.put(f"/api/users/{ann['user']['id']}/block", token=bob).status_code == 204
    box = b.wait_for(".composer-input")
    box.send_keys("why?\n")
    notice = b.wait_for(".blocked-notice")
    assert "Bob Pest has blocked you" in notice.text, notice.text
    b.click('.blocked-notice button[aria-label="Try writing again"]')
    b.wait_for(".composer-input")
    api.delete(f"/api/users/{ann['user']['id']}/block", token=bob)

    # Delete the chat (for Ann only, confirmed): it leaves her list; Bob
    # keeps it; his next message brings it back with only that message.
    open_info(b)
    b.click(".info-panel .delete-chat")
    confirm(b, "Delete")
    b.wait(lambda d: "Bob Pest" not in list_titles(b), 10, "the chat to leave the list")
    assert b.js("return location.hash") in ("", "#/")
    assert chat["id"] in [c["id"] for c in api.get("/api/chats", token=bob).json()["chats"]]
    post_message(api, bob, chat["id"], "starting over")
    open_chat(b, "Bob Pest")
    wait_bubble(b, "starting over")
    texts = b.js("return [...document.querySelectorAll('.msg-list .msg-row:not(.service) .msg-text')].map(e => e.textContent)")
    assert len(texts) == 1 and texts[0].startswith("starting over"), texts


@PHONE
def test_hand_over_and_delete_group(browser, api, new_user, phone):
    ann = new_user("ann", display_name="Ann Founder")
    bob = new_user("bob", display_name="Bob Heir")
    cy = new_user("cy", display_name="Cy Member")
    group = api.post("/api/chats", token=ann, json={
        "type": "group", "title": "Book club", "member_ids": [bob["user"]["id"], cy["user"]["id"]]}).json()
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Book club")
    open_info(b)

    # The owner's member menu: "Make owner" (confirmed) hands the group over.
    b.click('.info-panel button[aria-label="Manage Bob Heir"]')
    items = b.js("return [...document.querySelectorAll('.popover .menu-item')].map(e => e.textContent)")
    assert items == ["Make owner", "Remove from group"], items
    b.finds(".popover .menu-item")[0].click()
    confirm(b, "Make owner")
    owners = "return [...document.querySelectorAll('.info-panel .member')].filter(m => m.querySelector('.role-badge')).map(m => m.querySelector('.member-name').textContent)"
    b.wait(lambda d: b.js(owners) == ["Bob Heir"], 10, "Bob the owner")
    assert not b.finds('.info-panel button[aria-label^="Manage"]') and not b.finds(".info-panel .delete-chat")

    # Bob leaves: the group comes back to Ann by itself, and she is told.
    assert api.delete(f"/api/chats/{group['id']}/members/{bob['user']['id']}", token=bob).status_code == 204
    b.wait(lambda d: any("You are now the owner of “Book club”" in t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast")),
           10, "the notice")
    b.wait(lambda d: b.js(owners) == ["Ann Founder (you)"], 10, "Ann the owner again")

    # Delete the group (owner, confirmed): gone for everyone.
    b.click(".info-panel .delete-chat")
    confirm(b, "Delete group")
    b.wait(lambda d: "Book club" not in list_titles(b), 10, "the group to leave the list")
    assert api.get(f"/api/chats/{group['id']}", token=cy).status_code == 404


@PHONE
def test_media_files_and_lightbox(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Viewer")
    bob = new_user("bob", display_name="Bob Photographer")
    chat = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    pics = []
    for i in range(3):
        m = say(api, bob, chat["id"], f"picture {i}", [(f"pic{i}.png", png(64 + 16 * i, 48, seed=40 * i), "image/png")])
        pics.append(m["attachments"][0]["id"])
    say(api, bob, chat["id"], "the plan", [("plan.pdf", b"%PDF-1.4\n% plan\n" + b"0" * 5000, "application/pdf")])
    # The first pictures far back: not in the page the chat opens with.
    for i in range(55):
        post_message(api, bob, chat["id"], f"chatter {i}")
    last = say(api, bob, chat["id"], None, [("pic3.png", png(96, 64, seed=200), "image/png")])
    pics.append(last["attachments"][0]["id"])
    # Read already: the chat opens at its newest page.
    api.post(f"/api/chats/{chat['id']}/read", token=ann, json={"message_id": last["id"]})

    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Photographer")
    shown = """const i = document.querySelector('.lightbox .lightbox-img');
      const p = document.querySelector('.lightbox-prev'), n = document.querySelector('.lightbox-next');
      return i && [Number(new URL(i.src).pathname.split('/').pop()), p.hidden, n.hidden,
                   document.querySelector('.lightbox-count').textContent];"""

    # From the bubble of the newest picture, ← steps back through the
    # chat's pictures, found further back than what is loaded.
    wait_bubble(b, "chatter 54")
    b.wait_for(".msg-row .media-item")
    b.js("[...document.querySelectorAll('.msg-row .media-item')].pop().click()")
    b.wait(lambda d: b.js(shown) and b.js(shown)[0] == pics[3], 10, "the newest picture")
    assert b.js(shown)[2] is True  # nothing newer
    b.driver.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    b.wait(lambda d: b.js(shown)[0] == pics[2], 15, "the one before, from further back")
    b.driver.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    b.wait(lambda d: b.js(shown)[0] == pics[1], 10, "picture 1")
    assert b.js(shown)[3] == "2 of 4"
    b.click(".lightbox-prev")
    b.wait(lambda d: b.js(shown) == [pics[0], True, False, "1 of 4"], 10, "the first, no Previous")
    b.screenshot(out_dir / f"lightbox-{'phone' if phone else 'desktop'}.png")
    b.click(".lightbox-next")
    b.wait(lambda d: b.js(shown)[0] == pics[1], 10, "Next")
    if phone:
        # A swipe to the left shows the next one.
        touch = lambda kind, x: b.driver.execute_cdp_cmd("Input.dispatchTouchEvent", {
            "type": kind, "touchPoints": [] if kind == "touchEnd" else [{"x": x, "y": 420}]})
        touch("touchStart", 300)
        for x in (260, 200, 140, 90):
            touch("touchMove", x)
        touch("touchEnd", 90)
        b.wait(lambda d: b.js(shown)[0] == pics[2], 10, "the swipe")
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.wait_gone(".lightbox")

    # The Media tab: the pictures, newest first; one opens in the lightbox.
    open_info(b)
    b.click('.info-panel .info-tab[data-tab="media"]')
    cells = "return [...document.querySelectorAll('.info-panel .media-cell')].map(e => Number(e.dataset.fileId))"
    b.wait(lambda d: b.js(cells) == pics[::-1] and not b.finds(".info-panel .spinner"), 15, "four pictures")
    b.screenshot(out_dir / f"media-{'phone' if phone else 'desktop'}.png")
    # (by script: the panel is redrawn on the chat's events)
    b.js("document.querySelectorAll('.info-panel .media-cell')[2].click()")
    b.wait(lambda d: b.js(shown) and b.js(shown)[0] == pics[1], 10, "the picture from the grid")
    b.driver.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    b.wait(lambda d: b.js(shown)[0] == pics[2], 10, "→")
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.wait_gone(".lightbox")

    # The Files tab: the other files with name and size, to download.
    b.click('.info-panel .info-tab[data-tab="files"]')
    b.wait_for(".info-panel .shared-file")
    files = b.js("""return [...document.querySelectorAll('.info-panel .shared-file')].map(a => [
      a.querySelector('.file-name').textContent, a.getAttribute('download'), a.href])""")
    assert len(files) == 1 and files[0][:2] == ["plan.pdf", "plan.pdf"] and "/api/files/" in files[0][2], files

    # A picture that arrives while the tab is shown joins it; a deleted one
    # leaves it.
    b.click('.info-panel .info-tab[data-tab="media"]')
    new = say(api, bob, chat["id"], None, [("pic4.png", png(50, 50, seed=90), "image/png")])
    b.wait(lambda d: b.js(cells)[:1] == [new["attachments"][0]["id"]], 15, "the new picture in the tab")
    assert api.delete(f"/api/messages/{new['id']}", token=bob).status_code == 204
    b.wait(lambda d: b.js(cells) == pics[::-1], 15, "the deleted picture gone")
