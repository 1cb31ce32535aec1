"""Groups in the browser: create with members from a search, the info
panel with roles, rename, remove, leave."""

from browser import By, Keys
from ui import chat_item, menu_item, message_texts, open_actions, open_chat, send_text, sign_in, wait_bubble


def member_names(b):
    return [e.text for e in b.finds(".info-panel .member .member-name")]


def confirm(b):
    b.click(".modal-actions .btn.primary")
    b.wait_gone(".modal")


def test_group_lifecycle(browser, new_user):
    alice = new_user("ann", display_name="Ann Owner")
    bob = new_user("ben", display_name="Ben Member")
    cat = new_user("cat", display_name="Cat Member")
    a = browser()
    b = browser()
    sign_in(a, alice["username"], alice["password"])
    sign_in(b, bob["username"], bob["password"])

    # Create "Weekend trip" with Ben and Cat, picked from a search.
    a.click('.side-actions button[aria-label="New group"]')
    a.type('.modal .field[data-field="title"] input', "Weekend trip")
    for user, name in ((bob, "Ben Member"), (cat, "Cat Member")):
        a.type(".modal .picker input", user["username"])
        a.click(f'.modal .picker-row button[aria-label="Add {name}"]')
        a.wait(lambda d, n=name: any(n in c.text for c in d.find_elements(By.CSS_SELECTOR, ".modal .chip")), 5, "the chip")
    a.click(".modal-actions .btn.primary")
    a.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == "Weekend trip", 10, "the group open")
    assert a.text(".chat-head .head-sub").startswith("3 members")

    # Ben's list gets the group live; a message shows its sender's name.
    send_text(a, "Who brings the tent?")
    open_chat(b, "Weekend trip")
    row = wait_bubble(b, "Who brings the tent?")
    assert row.find_element(By.CSS_SELECTOR, ".msg-sender").text == "Ann Owner"

    # A member may not delete the owner's message; the owner deletes anyone's.
    open_actions(b, row)
    assert "Delete" not in [e.text for e in b.finds(".popover .menu-item")]
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.wait_gone(".popover")
    send_text(b, "I can't come, sorry")
    theirs = wait_bubble(a, "I can't come")
    open_actions(a, theirs)
    menu_item(a, "Delete").click()
    confirm(a)
    b.wait(lambda d: "I can't come, sorry" not in message_texts(b), 10, "the owner's deletion at Ben's")

    # The info panel: members and roles.
    a.click(".chat-head .info-btn")
    a.wait_for(".info-panel .member")
    assert sorted(member_names(a)) == ["Ann Owner (you)", "Ben Member", "Cat Member"]
    owner_row = [m for m in a.finds(".info-panel .member") if "Ann Owner" in m.text][0]
    assert owner_row.find_element(By.CSS_SELECTOR, ".role-badge").text == "owner"

    # Rename (owner): Ben sees the new title live.
    a.click('.info-panel button[aria-label="Rename group"]')
    box = a.wait_for(".info-panel .rename input")
    box.clear()
    box.send_keys("Weekend hike\n")
    a.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == "Weekend hike", 10, "renamed")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == "Weekend hike", 10, "renamed at Ben's")
    chat_item(b, "Weekend hike")

    # Ben, a member, may not rename or remove.
    b.click(".chat-head .info-btn")
    b.wait_for(".info-panel .member")
    assert not b.finds('.info-panel button[aria-label="Rename group"]')
    assert not b.finds('.info-panel button[aria-label^="Manage"]')

    # Remove Cat (owner).
    a.click('.info-panel button[aria-label="Manage Cat Member"]')
    menu_item(a, "Remove from group").click()
    confirm(a)
    a.wait(lambda d: "Cat Member" not in member_names(a), 10, "Cat removed")
    b.wait(lambda d: sorted(member_names(b)) == ["Ann Owner", "Ben Member (you)"], 10, "Cat gone at Ben's")

    # ... and add her back from a search (owner).
    a.click(".info-panel .info-action:not(.danger)")
    a.type(".info-panel .picker input", cat["username"])
    a.click('.info-panel .picker-row button[aria-label="Add Cat Member"]')
    a.wait(lambda d: "Cat Member" in member_names(a), 10, "Cat added")
    b.wait(lambda d: "Cat Member" in member_names(b), 10, "Cat added at Ben's")

    # Ben leaves: the group leaves his list; Ann sees one member left.
    b.click(".info-panel .info-action.danger")
    confirm(b)
    b.wait(lambda d: "Weekend hike" not in [e.text for e in d.find_elements(By.CSS_SELECTOR, ".chat-list .ci-title")],
           10, "the group to leave Ben's list")
    a.wait(lambda d: member_names(a) == ["Ann Owner (you)", "Cat Member"], 10, "Ben gone at Ann's")
    # membership changes are told in the chat as centred service messages
    a.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg-list .msg-row.service")) >= 2, 10, "service messages")
