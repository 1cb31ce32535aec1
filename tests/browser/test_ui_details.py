"""The small things of issue 16's bug 5, on desktop and a 390 px phone:
www. links, waits said in minutes, the tab title counting messages, a file
over the server's limit refused before it travels, the add-member picker after an
add, presence dots while reconnecting, the contrast of muted text, the message list as one Tab
stop, drafts over a reload and in the list."""

import pytest

from browser import By, Keys
from ui import chat_item, device, open_chat, post_message, set_offline, sign_in, wait_bubble, wait_app


PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])

# The next POSTs whose URL matches are answered 429 with Retry-After: 893.
THROTTLE = """window.__realFetch = window.__realFetch || window.fetch;
  const re = new RegExp(arguments[0]);
  window.fetch = (url, opts) => (opts && opts.method === 'POST' && re.test(url))
    ? Promise.resolve(new Response(
        '{"type":"about:blank","title":"Too Many Requests","status":429,"code":"too_many_attempts",'
        + '"detail":"try again in 893 seconds"}',
        {status: 429, headers: {'Content-Type': 'application/problem+json', 'Retry-After': '893'}}))
    : window.__realFetch(url, opts);"""


@PHONE
def test_links_waits_and_title(browser, api, new_user, phone):
    ann = new_user("ann", display_name="Ann Reader")
    bob = new_user("bob", display_name="Bob Linker")
    cy = new_user("cy", display_name="Cy Chatty")
    one = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    two = api.post("/api/chats", token=cy, json={"type": "direct", "user_id": ann["user"]["id"]}).json()
    post_message(api, bob, one["id"], "hi")
    post_message(api, bob, one["id"], "see www.example.com/a?b=1, or https://x.test/p. not me@www.mail.test")
    for i in range(5):
        post_message(api, cy, two["id"], f"cy {i}")
    b = device(browser, phone)

    # A throttled sign-in says the wait in minutes, not "893 s".
    b.open("/")
    b.wait_for(".auth-card")
    b.js(THROTTLE, "auth/login$")
    b.type("#f-login", ann["username"])
    b.type("#f-password", ann["password"])
    b.click(".auth-form button[type=submit]")
    err = b.wait_for(".form-error").text
    assert "15 min" in err and "893" not in err, err
    b.js("window.fetch = window.__realFetch")
    b.click(".auth-form button[type=submit]")
    wait_app(b)

    # Eight unread messages in three chats (the welcome group has one):
    # the tab title counts messages.
    unread = [c["unread_count"] for c in api.get("/api/chats", token=ann).json()["chats"]]
    assert sorted(unread) == [1, 2, 5]
    b.wait(lambda d: d.title == "(8) Messenger", 15, "the title (8)")

    # www. addresses are links to https://, next to the http(s) ones; an
    # email address is left alone.
    open_chat(b, "Bob Linker")
    row = wait_bubble(b, "see www.")
    links = [(a.text, a.get_attribute("href"), a.get_attribute("target"))
             for a in row.find_elements(By.CSS_SELECTOR, ".msg-text a")]
    assert links == [("www.example.com/a?b=1", "https://www.example.com/a?b=1", "_blank"),
                     ("https://x.test/p", "https://x.test/p", "_blank")], links
    b.wait(lambda d: d.title == "(6) Messenger", 15, "the title after reading Bob's two")

    # A throttled send says minutes too.
    b.js(THROTTLE, "/messages$")
    box = b.wait_for(".composer-input")
    box.send_keys("too fast\n")
    failed = b.wait_for(".msg-row.pending.failed")
    assert "15 min" in failed.text and "893" not in failed.text, failed.text


# Counts the uploads that start.
COUNT_UPLOADS = """window.__uploads = 0; const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (m, u) { if (/files$/.test(u)) window.__uploads++;
    return open.apply(this, arguments); };"""


@PHONE
def test_file_over_the_limit_is_refused_before_upload(browser, api, stack, new_user, tmp_path, phone):
    ann = new_user("ann", display_name="Ann Sender")
    bob = new_user("bob", display_name="Bob Receiver")
    api.post("/api/chats", token=ann, json={"type": "direct", "user_id": bob["user"]["id"]})
    big = tmp_path / "holiday.mov"
    with open(big, "wb") as f:
        f.truncate(25 * 1024 * 1024 + 1)
    small = tmp_path / "notes.txt"
    small.write_text("fine\n")
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Bob Receiver")
    b.js(COUNT_UPLOADS)
    b.find(".composer input[type=file]").send_keys(f"{big}\n{small}")
    b.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".upload-tray .upload.done")) == 1, 15, "the small file")
    bad = b.wait_for(".upload-tray .upload.error")
    assert "25 MB" in bad.text and "holiday.mov" in bad.text, bad.text
    assert b.js("return window.__uploads") == 1

    # The limit is the server's own (GET /api/files/limits): configured to
    # 4 KiB, a 5 KB scan is refused before it travels, a 4 KB one goes.
    scan, exact = tmp_path / "scan.pdf", tmp_path / "exact.pdf"
    scan.write_bytes(b"%PDF" + b"x" * 5000)
    exact.write_bytes(b"%PDF" + b"x" * 4092)
    with stack.restarted("files", MSGR_MAX_FILE_SIZE=4096):
        b.open("/")
        wait_app(b)
        open_chat(b, "Bob Receiver")
        b.js(COUNT_UPLOADS)
        b.find(".composer input[type=file]").send_keys(f"{scan}\n{exact}")
        b.wait(lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".upload-tray .upload.done")] != [],
               15, "the 4 KB file")
        bad = b.wait_for(".upload-tray .upload.error")
        assert "4 KB" in bad.text and "scan.pdf" in bad.text, bad.text
        assert b.js("return window.__uploads") == 1


@PHONE
def test_added_member_stays_in_the_picker(browser, api, new_user, phone):
    ann = new_user("ann", display_name="Ann Owner")
    dee = new_user("dee", display_name="Dee Newcomer")
    group = api.post("/api/chats", token=ann, json={"type": "group", "title": "Book club", "member_ids": []}).json()
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Book club")
    b.click(".chat-head .head-main")
    b.click(".info-panel .info-action")
    b.type(".info-panel .picker input", dee["username"])
    b.click('.info-panel .picker-row button[aria-label="Add Dee Newcomer"]')
    b.wait(lambda d: api.get(f"/api/chats/{group['id']}", token=ann).json()["members"].__len__() == 2, 10, "Dee added")
    done = b.wait(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".info-panel .picker-row button")
                             if e.text == "Added"], 10, "the row marked Added")
    assert not done[0].is_enabled()
    assert "Nobody found" not in b.find(".info-panel .picker").text


DOTS = """return [...document.querySelectorAll('.chat-list .chat-item .online-dot')]
  .filter(e => e.getClientRects().length && getComputedStyle(e).display !== 'none').length"""


@PHONE
def test_presence_dots_not_green_while_reconnecting(browser, api, new_user, phone):
    ann = new_user("ann", display_name="Ann Watcher")
    gil = new_user("gil", display_name="Gil Present")
    api.post("/api/chats", token=ann, json={"type": "direct", "user_id": gil["user"]["id"]})
    g = browser()
    sign_in(g, gil["username"], gil["password"])
    b = device(browser, phone)
    for noise in ("Failed to load resource", "ERR_INTERNET_DISCONNECTED", "WebSocket"):
        b.allow(noise)
    sign_in(b, ann["username"], ann["password"])
    b.wait(lambda d: d.execute_script(DOTS) == 1, 15, "Gil's green dot")

    # The link goes and cannot come back: Gil's presence is unknown.
    set_offline(b, True)
    b.js("window.messenger.dropSocket()")
    b.wait(lambda d: d.execute_script("return window.messenger.connection") != "online", 10, "reconnecting")
    b.wait(lambda d: d.execute_script(DOTS) == 0, 5, "no green dot")

    # Back: the dot returns with the fresh presence.
    set_offline(b, False)
    b.wait(lambda d: d.execute_script("return window.messenger.connection") == "online", 30, "online again")
    b.wait(lambda d: d.execute_script(DOTS) == 1, 10, "Gil's green dot again")


# The WCAG contrast ratio of each element's text with what is behind it, as
# rendered: its colour (alpha and the opacity of it and its ancestors
# applied) over the first opaque background up the tree, translucent layers
# on the way composited.
CONTRAST = """
const parse = (c) => { const m = c.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
const lum = (c) => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
return arguments[0].map(sel => {
  const el = [...document.querySelectorAll(sel)].find(e => e.getClientRects().length);
  if (!el) return [sel, null];
  const layers = []; let alpha = 1;
  for (let n = el; n; n = n.parentElement) {
    const s = getComputedStyle(n);
    alpha *= Number(s.opacity);
    const bg = parse(s.backgroundColor);
    if (n !== el || bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
  }
  let back = [255, 255, 255, 1];
  for (const l of layers.reverse()) back = l[3] >= 1 ? l : over(l, back);
  const fg = parse(getComputedStyle(el).color); fg[3] *= alpha;
  const text = over(fg, back);
  const [a, b] = [lum(text), lum(back)].sort((x, y) => y - x);
  return [sel, Math.round((a + 0.05) / (b + 0.05) * 100) / 100];
});
"""

MUTED = [".msg-row.in .msg-time", ".msg-row.out .msg-time", ".chat-head .head-sub", ".chat-item .ci-time",
         ".chat-item .ci-preview"]


@PHONE
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_times_and_last_seen_contrast(browser, api, new_user, out_dir, phone, dark):
    ann = new_user("ann", display_name="Ann Contrast")
    hal = new_user("hal", display_name="Hal Absent")
    chat = api.post("/api/chats", token=ann, json={"type": "direct", "user_id": hal["user"]["id"]}).json()
    post_message(api, hal, chat["id"], "a message from Hal")
    post_message(api, ann, chat["id"], "and my answer")
    b = device(browser, phone)
    b.set_dark(dark)
    sign_in(b, ann["username"], ann["password"])
    if phone:
        chat_item(b, "Hal Absent")  # the list comes after the first "ready"
        ratios = dict(b.js(CONTRAST, MUTED[3:]))
        open_chat(b, "Hal Absent")
        ratios.update(b.js(CONTRAST, MUTED[:3]))
    else:
        open_chat(b, "Hal Absent")
        ratios = dict(b.js(CONTRAST, MUTED))
    wait_bubble(b, "and my answer")
    assert "last seen" in b.text(".chat-head .head-sub")
    b.screenshot(out_dir / f"contrast-{'phone' if phone else 'desktop'}-{'dark' if dark else 'light'}.png")
    low = {k: v for k, v in ratios.items() if v is None or v < 4.5}
    assert not low, f"below 4.5:1: {low} (all: {ratios})"


ACTIVE = """const a = document.activeElement;
  return a.matches('.composer-input') ? 'composer' : a.dataset.messageId ? 'm' + a.dataset.messageId : a.className"""


LAST_IN_HEADER = """[...document.querySelectorAll('.chat-head button')].filter(e => e.getClientRects().length).pop().focus()"""


@PHONE
def test_message_list_is_one_tab_stop(browser, api, new_user, phone):
    ann = new_user("ann", display_name="Ann Keys")
    ivy = new_user("ivy", display_name="Ivy Chatter")
    chat = api.post("/api/chats", token=ann, json={"type": "direct", "user_id": ivy["user"]["id"]}).json()
    ids = [post_message(api, ivy if i % 2 else ann, chat["id"],
                        f"line {i:02d}" + (" see https://x.test/" if i == 28 else ""))["id"] for i in range(30)]
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Ivy Chatter")
    wait_bubble(b, "line 29")

    # From the header's last visible button to the composer: the list is one stop
    # (the newest message), then the paperclip, then the composer.
    b.js(LAST_IN_HEADER)
    stops = []
    for _ in range(60):
        b.driver.switch_to.active_element.send_keys(Keys.TAB)
        stops.append(b.js(ACTIVE))
        if stops[-1] == "composer":
            break
    assert stops[0] == f"m{ids[-1]}" and len(stops) <= 3, stops

    # The arrow keys move between messages, Home and End to the ends; the
    # link of a message is a stop only while that message is.
    b.js("document.querySelector(`.msg-row[data-message-id='${arguments[0]}']`).focus()", ids[-1])
    for want in (ids[-2], ids[-3]):
        b.driver.switch_to.active_element.send_keys(Keys.ARROW_UP)
        assert b.js(ACTIVE) == f"m{want}"
    assert b.js("return document.querySelector('.msg-text a').tabIndex") == -1
    b.driver.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    assert b.js(ACTIVE) == f"m{ids[-2]}"
    assert b.js("return document.querySelector('.msg-text a').tabIndex") == 0
    b.driver.switch_to.active_element.send_keys(Keys.END)
    assert b.js(ACTIVE) == f"m{ids[-1]}"
    assert b.js("return [...document.querySelectorAll('.msg-list [tabindex=\"0\"]')].length") == 1

    # Enter still opens the focused message's actions.
    b.driver.switch_to.active_element.send_keys(Keys.ARROW_UP, Keys.ENTER)
    b.wait_for(".popover .menu-item")
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.wait_gone(".popover")
    # Tab from the header lands on the message last visited.
    b.js(LAST_IN_HEADER)
    b.driver.switch_to.active_element.send_keys(Keys.TAB)
    assert b.js(ACTIVE) == f"m{ids[-2]}"


STORED_DRAFTS = """return Object.keys(localStorage).filter(k => k.startsWith('msgr.drafts.'))
  .map(k => localStorage.getItem(k)).join()"""


# Read in one script: the list is redrawn on every event, so an element
# found by one WebDriver call may be gone by the next.
PREVIEW = """for (const item of document.querySelectorAll('.chat-list .chat-item'))
  if (item.querySelector('.ci-title').textContent === arguments[0])
    return item.querySelector('.ci-preview').innerText.replace(/\\s+/g, ' ').trim();
return null;"""


def preview(b, title):
    return b.js(PREVIEW, title)


@PHONE
def test_drafts_survive_a_reload_and_show_in_the_list(browser, api, new_user, out_dir, phone):
    ann = new_user("ann", display_name="Ann Drafter")
    jo = new_user("jo", display_name="Jo First")
    kim = new_user("kim", display_name="Kim Second")
    for u in (jo, kim):
        chat = api.post("/api/chats", token=ann, json={"type": "direct", "user_id": u["user"]["id"]}).json()
        post_message(api, u, chat["id"], "hello from " + u["user"]["display_name"])
    b = device(browser, phone)
    sign_in(b, ann["username"], ann["password"])
    open_chat(b, "Jo First")
    box = b.wait_for(".composer-input")
    box.send_keys("half a thought", Keys.SHIFT, Keys.ENTER, Keys.NULL, "and more")

    # Elsewhere, the list shows it as a draft (in the danger colour).
    if phone:
        b.click(".chat-head .back-btn")
    open_chat(b, "Kim Second")
    if phone:
        b.click(".chat-head .back-btn")
    b.wait(lambda d: preview(b, "Jo First") == "Draft: half a thought and more", 10, "the draft preview")
    b.wait(lambda d: preview(b, "Kim Second") == "hello from Kim Second", 10, "Kim's preview")
    b.screenshot(out_dir / f"draft-{'phone' if phone else 'desktop'}.png")

    # A reload keeps it, in the list and in the composer.
    b.reload()
    wait_app(b)
    b.wait(lambda d: preview(b, "Jo First") == "Draft: half a thought and more", 10, "the draft after a reload")
    open_chat(b, "Jo First")
    assert b.wait_for(".composer-input").get_attribute("value") == "half a thought\nand more"

    # Sent, it is no draft any more.
    b.wait_for(".composer-input").send_keys(Keys.ENTER)
    wait_bubble(b, "half a thought")
    if phone:
        b.click(".chat-head .back-btn")
    else:
        open_chat(b, "Kim Second")
    b.wait(lambda d: preview(b, "Jo First") == "You: half a thought and more", 10, "the sent preview")
    b.reload()
    wait_app(b)
    open_chat(b, "Jo First")
    assert b.wait_for(".composer-input").get_attribute("value") == ""

    # Logging out takes the drafts along.
    b.wait_for(".composer-input").send_keys("not for the next person")
    b.wait(lambda d: "next person" in b.js(STORED_DRAFTS), 5, "the stored draft")
    if phone:
        b.click(".chat-head .back-btn")
    b.click('.side-actions button[aria-label="Log out"]')
    b.wait_for(".auth-card")
    assert b.js(STORED_DRAFTS) == ""
