"""Issue 16's formatting and emoji, on desktop and a 390 px phone: the
Markdown subset drawn as elements (never HTML of what a sender wrote),
mentions highlighted (the reader's own stronger), a few emoji alone shown
large, the bundled emoji picker in the composer and for reactions (search,
groups, recently used first), and who reacted on hover or a long press."""

import pytest

from browser import By, Keys
from ui import device, open_chat, open_actions, post_message, sign_in, wait_bubble

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])

# What a formatted text became, read in one script (the list may redraw).
SHAPE = """const t = arguments[0].querySelector('.msg-text');
  const all = (sel) => [...t.querySelectorAll(sel)].map(e => e.textContent);
  return {strong: all('strong'), em: all('em'), s: all('s'), code: all('code.md-code'),
          pre: all('pre.md-pre'), quote: all('blockquote.md-quote'), links: [...t.querySelectorAll('a')].map(a => a.href),
          mine: all('.mention.own'), mention: all('.mention:not(.own)'),
          elements: [...t.querySelectorAll('*')].map(e => e.tagName.toLowerCase())
            .filter(n => !['strong', 'em', 's', 'code', 'pre', 'blockquote', 'a', 'span', 'time', 'svg', 'path'].includes(n)),
          text: t.textContent};"""


def direct(api, a, b):
    return api.post("/api/chats", token=a, json={"type": "direct", "user_id": b["user"]["id"]}).json()


@PHONE
def test_markdown_mentions_and_large_emoji(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Reader")
    bob = new_user("bob", display_name="Bob Writer")
    chat = direct(api, bob, ann)
    me, him = ann["user"]["username"], bob["user"]["username"]
    post_message(api, bob, chat["id"],
                 f"**bold** and _italic_ or *this*, ~~gone~~, `co*de*` and snake_case_name 2*3*4 "
                 f"https://x.test/a_b_c_ for @{me} from @{him}. \\*kept\\*")
    post_message(api, bob, chat["id"], "> a quote with **bold**\n> second line\nafter it\n```\nif (a*b) { x = `y` }\n```")
    post_message(api, bob, chat["id"], '<b>not bold</b> <img src=x onerror="window.__xss=1"> [a](javascript:alert(1))')
    post_message(api, bob, chat["id"], "👍🎉")
    post_message(api, bob, chat["id"], "ok 👍")
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Writer")

    got = b.js(SHAPE, wait_bubble(b, "bold and"))
    assert got["strong"] == ["bold"] and got["em"] == ["italic", "this"] and got["s"] == ["gone"], got
    assert got["code"] == ["co*de*"], got
    assert "snake_case_name 2*3*4" in got["text"] and "*kept*" in got["text"] and "**" not in got["text"], got
    assert got["links"] == ["https://x.test/a_b_c"], got
    assert got["mine"] == ["@" + me] and got["mention"] == ["@" + him], got
    assert not got["elements"], got

    got = b.js(SHAPE, wait_bubble(b, "a quote"))
    assert got["quote"] == ["a quote with bold\nsecond line"] and got["strong"] == ["bold"], got
    assert got["pre"] == ["if (a*b) { x = `y` }"] and not got["code"], got
    assert "after it" in got["text"], got

    # HTML and Markdown's own links are text: nothing a sender writes
    # becomes an element or a script.
    got = b.js(SHAPE, wait_bubble(b, "<b>not bold</b>"))
    assert not got["elements"] and not got["links"] and not got["strong"], got
    assert '<img src=x onerror="window.__xss=1">' in got["text"], got
    assert b.js("return window.__xss === undefined")

    # One to three emoji alone are large and have no bubble; with a word
    # they are text.
    sizes = b.js("""return [...document.querySelectorAll('.msg-list .msg-row[data-message-id]')].map(r => {
        const t = r.querySelector('.msg-text'), bub = r.querySelector('.bubble');
        return [t ? t.firstChild.textContent : '', bub.classList.contains('emoji-only'),
                parseFloat(getComputedStyle(t || bub).fontSize), getComputedStyle(bub).backgroundColor];
      });""")
    big = next(s for s in sizes if s[0] == "👍🎉")
    small = next(s for s in sizes if s[0].startswith("ok "))
    assert big[1] and big[2] >= 32 and big[3] == "rgba(0, 0, 0, 0)", big
    assert not small[1] and small[2] < 20, small
    b.screenshot(out_dir / f"format-{'phone' if phone else 'desktop'}.png")
    b.set_dark(True)
    b.screenshot(out_dir / f"format-{'phone' if phone else 'desktop'}-dark.png")


def picker_tabs(b):
    return b.js("return [...document.querySelectorAll('.emoji-picker .emoji-tab')].map(t => t.getAttribute('aria-label'))")


def pick_by_search(b, query, emoji):
    search = b.wait_for(".emoji-picker .emoji-search")
    search.click()
    search.send_keys(query)
    b.wait(lambda d: d.execute_script(
        "const c = document.querySelector('.emoji-picker .emoji-cell'); return c && c.textContent") == emoji,
        5, f"{emoji} first for {query!r}")
    search.send_keys(Keys.ENTER)


@PHONE
def test_emoji_picker_in_composer_and_for_reactions(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Picker")
    bob = new_user("bob", display_name="Bob Teller")
    chat = direct(api, bob, ann)
    post_message(api, bob, chat["id"], "react to me")
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Teller")

    # The composer's button: the groups as tabs, a click inserts at the
    # caret and the picker stays for more.
    box = b.wait_for(".composer-input")
    box.click()
    box.send_keys("ab")
    box.send_keys(Keys.ARROW_LEFT)
    b.click(".composer .emoji-btn")
    b.wait_for(".emoji-picker .emoji-cell")
    assert picker_tabs(b) == ["Smileys & People", "Animals & Nature", "Food & Drink", "Travel & Places",
                              "Activities", "Objects", "Symbols", "Flags"]
    b.screenshot(out_dir / f"emoji-picker-{'phone' if phone else 'desktop'}.png")
    b.js("[...document.querySelectorAll('.emoji-picker .emoji-tab')].find(t => t.getAttribute('aria-label') === 'Animals & Nature').click()")
    b.wait(lambda d: d.execute_script("return document.querySelector('.emoji-picker .emoji-title').textContent") == "Animals & Nature",
           5, "the animals tab")
    cells = b.finds(".emoji-picker .emoji-cell")
    assert len(cells) > 100 and cells[0].text == "🐵", cells[0].text
    cells[0].click()
    assert b.finds(".emoji-picker"), "the picker closed after one emoji"
    if not phone:
        # The keyboard: down from the search into the grid, across it.
        search = b.find(".emoji-picker .emoji-search")
        search.click()
        search.send_keys(Keys.ARROW_DOWN)
        assert b.js("return document.activeElement.textContent") == "🐵"
        b.js("return document.activeElement").send_keys(Keys.ARROW_RIGHT, Keys.ARROW_DOWN)
        assert b.js("return document.activeElement.textContent") == b.js(
            "return document.querySelectorAll('.emoji-picker .emoji-cell')[9].textContent")
    pick_by_search(b, "thumbs up", "👍")
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
    b.wait_gone(".emoji-picker")
    assert b.js("return document.querySelector('.composer-input').value") == "a🐵👍b"
    if not phone:  # the writing goes on in the composer
        assert b.js("return document.activeElement.matches('.composer-input')")
    assert not b.find(".send-btn").get_attribute("disabled")
    b.find(".send-btn").click()
    wait_bubble(b, "a🐵👍b")

    # Recently used first, the newest first.
    b.click(".composer .emoji-btn")
    b.wait_for(".emoji-picker .emoji-cell")
    assert picker_tabs(b)[0] == "Recently used"
    assert b.js("return [...document.querySelectorAll('.emoji-picker .emoji-cell')].map(c => c.textContent)") == ["👍", "🐵"]
    b.find(".emoji-picker .emoji-search").send_keys("zzzznothing")
    b.wait(lambda d: d.execute_script("return document.querySelector('.emoji-picker .emoji-title').textContent") == "No emoji found",
           5, "no results")
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
    b.wait_gone(".emoji-picker")

    # Any emoji as a reaction: "+" in the message's menu.
    row = wait_bubble(b, "react to me")
    mid = int(row.get_attribute("data-message-id"))
    open_actions(b, row)
    b.click(".popover .pick-more")
    pick_by_search(b, "rocket", "🚀")
    b.wait_gone(".emoji-picker")
    b.wait(lambda d: d.execute_script(
        "const c = document.querySelector('.msg-row[data-message-id] .reaction[data-emoji=\"🚀\"]'); return c && c.classList.contains('mine')"),
        10, "the rocket reaction")
    b.wait(lambda d: [(r["emoji"], r["user_ids"]) for r in api.get(f"/api/messages/{mid}/reactions", token=bob).json()["reactions"]]
           == [("🚀", [ann["user"]["id"]])], 10, "the reaction stored")


@PHONE
def test_who_reacted(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Owner")
    bob = new_user("bob", display_name="Bob Liker")
    cy = new_user("cy", display_name="Cy Liker")
    group = api.post("/api/chats", token=ann, json={"type": "group", "title": "Likers",
                                                     "member_ids": [bob["user"]["id"], cy["user"]["id"]]}).json()
    m = post_message(api, ann, group["id"], "like this")
    for u in (bob, cy):
        assert api.put(f"/api/messages/{m['id']}/reactions/%F0%9F%91%8D", token=u).status_code in (200, 201, 204)
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Likers")
    chip = b.wait(lambda d: wait_bubble(b, "like this").find_element(By.CSS_SELECTOR, '.reaction[data-emoji="👍"]'), 10, "the chip")
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chip)
    if phone:
        # A long press: a touch held half a second; the tap that ends it
        # does not toggle the reaction.
        b.js("arguments[0].dispatchEvent(new PointerEvent('pointerdown', {pointerType: 'touch', bubbles: true}))", chip)
        names = b.wait(lambda d: d.execute_script(
            "return [...document.querySelectorAll('.popover .reactor-name')].map(e => e.textContent)"), 10, "the reactors")
        b.js("""const c = arguments[0]; c.dispatchEvent(new PointerEvent('pointerup', {pointerType: 'touch', bubbles: true}));
                c.click();""", chip)
    else:
        from selenium.webdriver import ActionChains
        ActionChains(b.driver).move_to_element(chip).perform()
        names = b.wait(lambda d: d.execute_script(
            "return [...document.querySelectorAll('.reactors-tip .reactor-name')].map(e => e.textContent)"), 10, "the reactors")
    assert names == ["Bob Liker", "Cy Liker"], names
    assert "2 reactions" in b.js("return document.querySelector('.reactors-title').textContent")
    b.screenshot(out_dir / f"who-reacted-{'phone' if phone else 'desktop'}.png")
    if not phone:
        ActionChains(b.driver).move_by_offset(0, -200).perform()
        b.wait_gone(".reactors-tip", 5)
    else:
        b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
        b.wait_gone(".popover")
    state = b.js("const c = document.querySelector('.reaction[data-emoji=\"👍\"]'); return [c.classList.contains('mine'), c.textContent]")
    assert state == [False, "👍2"], state
