"""The phone layout (360 x 740), the profile, the theme, and the basics of
accessibility: every control has a name."""

from browser import By, Keys
from ui import open_chat, png, send_text, sign_in, wait_app, wait_bubble

UNNAMED_CONTROLS = """
return [...document.querySelectorAll('button, a[href], input, textarea, [role=menuitem]')]
  .filter(el => el.offsetParent !== null && el.type !== 'file')
  .filter(el => {
    const name = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title') ||
                  (el.labels && el.labels[0] && el.labels[0].textContent) || '').trim();
    return !name;
  }).map(el => el.outerHTML.slice(0, 120));
"""


def no_horizontal_scroll(b):
    return b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_phone_layout(browser, api, new_user):
    jo = new_user("jo", display_name="Jo March")
    kit = new_user("kit", display_name="Kit Harington")
    chat = api.post("/api/chats", token=kit, json={"type": "direct", "user_id": jo["user"]["id"]}).json()
    api.post(f"/api/chats/{chat['id']}/messages", token=kit, json={"text": "Hi Jo! " + "long words " * 20})

    b = browser(width=360, height=740, mobile=True)
    b.viewport(360, 740, mobile=True)
    sign_in(b, jo["username"], jo["password"])
    # One column: the list, no chat pane.
    assert b.find(".sidebar").is_displayed()
    assert not b.find(".chat-pane").is_displayed()
    assert b.find(".sidebar").size["width"] == 360
    assert no_horizontal_scroll(b)

    open_chat(b, "Kit Harington")
    assert not b.find(".sidebar").is_displayed()
    assert b.find(".back-btn").is_displayed()
    row = wait_bubble(b, "Hi Jo!")
    assert row.size["width"] <= 360
    send_text(b, "Hello from my phone")
    mine = wait_bubble(b, "Hello from my phone")
    # No hover on a phone: a tap on a bubble opens its menu.
    mine.find_element(By.CSS_SELECTOR, ".msg-text").click()
    b.wait_for(".popover .pick")
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.wait_gone(".popover")
    assert no_horizontal_scroll(b)
    assert b.js(UNNAMED_CONTROLS) == []

    # Back to the list (and the browser's back button works too).
    b.click(".back-btn")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".sidebar").is_displayed(), 5, "the list")
    assert not b.find(".chat-pane").is_displayed()
    open_chat(b, "Kit Harington")
    b.driver.back()
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".sidebar").is_displayed(), 5, "the list after Back")

    # The info panel covers the screen and closes again.
    open_chat(b, "Kit Harington")
    b.click(".head-main")
    panel = b.wait_for(".info-panel")
    assert panel.size["width"] == 360
    b.click(".info-close")
    b.wait_gone(".info-panel")


def test_profile_avatar_and_theme(browser, api, new_user, tmp_path):
    lu = new_user("lu", display_name="Lu Xun")
    b = browser()
    sign_in(b, lu["username"], lu["password"])
    assert b.js(UNNAMED_CONTROLS) == []

    b.click(".sidebar .me")
    b.wait_for(".modal.profile")
    name = b.find('.modal [data-field="display_name"] input')
    name.clear()
    name.send_keys("Lu Xun (writer)")
    about = b.find('.modal [data-field="about"] textarea')
    about.send_keys("Short stories, essays.")
    pic = tmp_path / "me.png"
    pic.write_bytes(png(96, 96, seed=3))
    b.find('.modal input[type="file"]').send_keys(str(pic))
    # the preview and then the stored picture
    b.wait(lambda d: d.execute_script(
        "const i = document.querySelector('.modal .profile-pic img'); return i && i.complete && i.naturalWidth === 96"), 15,
        "the avatar preview")
    b.wait(lambda d: api.get("/api/users/me", token=lu).json().get("avatar_url"), 15, "the stored avatar")
    # Save, in the dialog's footer (the Change password form has a submit too)
    b.click('.modal-actions button[type="submit"]')
    b.wait_gone(".modal")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".sidebar .me-name").text == "Lu Xun (writer)", 10, "the new name")
    b.wait(lambda d: d.execute_script(
        "const i = document.querySelector('.sidebar .me img'); return i && i.complete && i.naturalWidth === 96"), 15,
        "the avatar in the sidebar")
    me = api.get("/api/users/me", token=lu).json()
    assert me["display_name"] == "Lu Xun (writer)"
    assert me["about"] == "Short stories, essays."

    # The theme follows the system until picked; the pick survives a reload.
    assert b.js("return document.documentElement.getAttribute('data-theme')") is None
    b.set_dark(True)
    assert b.js("return getComputedStyle(document.body).backgroundColor") == "rgb(23, 33, 43)"
    b.set_dark(False)
    b.click('.side-actions button[aria-label="Toggle dark theme"]')
    assert b.js("return document.documentElement.getAttribute('data-theme')") == "dark"
    b.reload()
    wait_app(b)
    assert b.js("return document.documentElement.getAttribute('data-theme')") == "dark"
    assert b.js("return getComputedStyle(document.body).backgroundColor") == "rgb(23, 33, 43)"


def test_keyboard_only(browser, api, new_user):
    """Search, open a chat and send without a mouse."""
    mo = new_user("mo", display_name="Mo Salah")
    ned = new_user("ned", display_name="Ned Stark")
    b = browser()
    sign_in(b, mo["username"], mo["password"])
    b.find("body").send_keys(Keys.CONTROL, "k")  # Ctrl+K: the search
    b.wait(lambda d: d.switch_to.active_element.get_attribute("aria-label") == "Search chats, people and messages", 5, "the search")
    search = b.driver.switch_to.active_element
    search.send_keys(ned["username"])
    b.wait_for(f'.search-results .chat-item.person[aria-label="Message Ned Stark"]')
    search.send_keys("\n")  # Enter opens the first result
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".chat-head .head-title").text == "Ned Stark", 10, "the chat")
    # the composer takes the focus
    b.wait(lambda d: d.switch_to.active_element.get_attribute("aria-label") == "Message", 10, "the composer's focus")
    b.driver.switch_to.active_element.send_keys("Winter is coming\n")
    wait_bubble(b, "Winter is coming")
