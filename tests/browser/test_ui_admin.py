"""Issue 18 in the browser: "Report" in the message menu, and the
administration page (#/admin) behind the role: Users (search, banned filter,
paging; ban, unban, make admin, delete messages), Reports (resolve),
Stats and Audit. Desktop and phone; screenshots of each tab, light and
dark (docs/screenshots with MSGR_SCREENSHOTS=1).

The first administrator is made the way the server side does it on a
stack: its role column set in the database (msgrctl does the same)."""

import time

import pytest

from browser import By
from ui import device, menu_item, open_actions, open_chat, post_message, sign_in, wait_app, wait_bubble

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])


def direct(api, a, b):
    r = api.post("/api/chats", token=a, json={"type": "direct", "user_id": b["user"]["id"]})
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def toasts(b):
    return b.js("return [...document.querySelectorAll('#toasts .toast')].map(t => t.textContent)")


def wait_toast(b, text, timeout=10):
    b.wait(lambda d: any(text in t for t in toasts(b)), timeout, f"toast {text!r}")


@pytest.fixture
def admin_api(stack):
    """The server's administration (API.md "Administration", migration
    022): without it the admin page has nothing to talk to."""
    have = stack.psql("SELECT 1 FROM information_schema.columns "
                      "WHERE table_name = 'users' AND column_name = 'role'")
    if not have:
        pytest.skip("the server has no administration yet (branch i18-admin)")
    return stack


def make_admin(stack, user):
    assert stack.psql("UPDATE users SET role = 'admin' WHERE id = %s", user["user"]["id"]) == 1


# ---- Report ----------------------------------------------------------------------------

@PHONE
def test_report_from_the_message_menu(browser, api, stack, new_user, out_dir, phone):
    rep = new_user("rep", display_name="Rita Reporter")
    spam = new_user("spam", display_name="Sam Spammer")
    chat = direct(api, spam, rep)
    theirs = post_message(api, spam, chat, "Buy cheap watches at example.test")
    mine = post_message(api, rep, chat, "Please stop")
    b = device(browser, phone)
    sign_in(b, rep["username"], rep["password"])
    open_chat(b, "Sam Spammer")

    # One's own message has nobody to report.
    open_actions(b, wait_bubble(b, "Please stop"))
    menu_item(b, "Copy text")
    assert "Report" not in [x.text for x in b.finds(".popover .menu-item")]
    b.js("document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
    b.wait_gone(".popover")

    open_actions(b, wait_bubble(b, "Buy cheap watches"))
    menu_item(b, "Report").click()
    dlg = b.wait_for(".modal.report")
    assert "Buy cheap watches" in dlg.text
    # "Other" needs words of one's own.
    b.click('.report-kinds [data-reason="Other"]')
    b.click(".modal.report .modal-actions .btn.danger")
    b.wait(lambda d: b.text('.modal.report [data-field="reason"] .field-error') == "Say what is wrong with it", 5, "the field error")
    # Too long, counted with the choice: refused here, before the server.
    b.click('.report-kinds [data-reason="Abuse"]')
    b.js("const t = document.querySelector('.modal.report textarea'); t.value = 'x'.repeat(495);"
         "t.dispatchEvent(new Event('input'))")
    assert b.text(".modal.report .counter") == "502 / 500"
    b.click(".modal.report .modal-actions .btn.danger")
    b.wait(lambda d: "500" in b.text('.modal.report [data-field="reason"] .field-error'), 5, "too long")
    assert stack.psql("SELECT count(*) FROM message_reports WHERE message_id = %s", theirs["id"])[0][0] == 0

    b.type(".modal.report textarea", "sells fake watches to everyone")
    shots(b, out_dir, "report", phone)
    b.click(".modal.report .modal-actions .btn.danger")
    b.wait_gone(".modal.report")
    wait_toast(b, "Reported. Thank you")
    rows = stack.psql("SELECT reporter_id, reason, status FROM message_reports WHERE message_id = %s", theirs["id"])
    assert rows == [(rep["user"]["id"], "Abuse: sells fake watches to everyone", "open")], rows
    assert not stack.psql("SELECT 1 FROM message_reports WHERE message_id = %s", mine["id"])


# ---- who sees the page -------------------------------------------------------------------

@PHONE
def test_plain_user_has_no_administration(browser, new_user, phone):
    u = new_user("plain")
    b = device(browser, phone)
    sign_in(b, u["username"], u["password"])
    assert not b.find(".side-actions .admin-btn").is_displayed()
    b.click(".sidebar .me")
    b.wait_for(".modal.profile")
    assert not b.finds(".profile-admin")
    b.js("document.querySelector('.modal.profile .modal-close').click()")
    b.wait_gone(".modal.profile")

    # Typed in by hand: sent home, saying why.
    b.js("location.hash = '#/admin'")
    wait_toast(b, "Only administrators")
    b.wait(lambda d: d.execute_script("return location.hash") in ("#/", ""), 5, "sent home")
    assert not b.find(".admin-pane").is_displayed()
    assert b.find(".sidebar").is_displayed()
    # A reload straight onto #/admin too.
    b.open("/#/admin")
    wait_app(b)
    b.wait(lambda d: d.execute_script("return location.hash") in ("#/", ""), 10, "sent home after a reload")
    assert not b.find(".admin-pane").is_displayed()


# ---- the administration page ----------------------------------------------------------------

def open_admin(b, phone):
    b.click(".side-actions .admin-btn")
    b.wait_for(".admin-pane")
    if phone:
        assert not b.find(".sidebar").is_displayed()


def tab(b, name):
    b.click(f'.adm-tab-btn[data-tab="{name}"]')
    b.wait(lambda d: b.find(f'.adm-tab-btn[data-tab="{name}"]').get_attribute("aria-selected") == "true", 5, name)


def rows(b):
    """The usernames listed, once no load is under way."""
    return b.js("return document.querySelector('.adm-loading') ? null :"
                " [...document.querySelectorAll('.adm-user')].map(r => r.dataset.username)")


def search_for(b, text, username):
    """Types a search and waits until it lists only `username` (a list
    redrawn meanwhile would make a row stale under the test's hands)."""
    b.type(".adm-search", text)
    b.wait(lambda d: rows(b) == [username], 10, f"only {username} listed")


def user_row(b, username, timeout=10):
    return b.wait_for(f'.adm-user[data-username="{username}"]', timeout)


def user_action(b, username, label):
    row = user_row(b, username)
    b.js("arguments[0].scrollIntoView({block: 'center'})", row)
    row.find_element(By.CSS_SELECTOR, ".adm-actions").click()
    menu_item(b, label).click()


def confirm(b):
    b.wait_for(".modal.small")
    b.click(".modal.small .modal-actions .btn.primary")
    b.wait_gone(".modal.small")


@PHONE
def test_admin_manages_users(browser, api, stack, admin_api, new_user, out_dir, phone):
    boss = new_user("boss", display_name="Bea Boss")
    make_admin(stack, boss)
    tag = str(int(time.time() * 1000))[-6:]
    vic = new_user("troll" + tag, display_name="Tom Troll")
    wit = new_user("wit" + tag, display_name="Wendy Witness")
    chat = direct(api, vic, wit)
    old = post_message(api, vic, chat, "an old message from Tom")
    stack.psql("UPDATE messages SET created_at = now() - interval '2 days' WHERE id = %s", old["id"])
    new = post_message(api, vic, chat, "a fresh rude message from Tom")
    post_message(api, wit, chat, "Wendy answers")

    w = browser()
    sign_in(w, wit["username"], wit["password"])
    open_chat(w, "Tom Troll")
    wait_bubble(w, "a fresh rude message")
    v = browser()
    sign_in(v, vic["username"], vic["password"])

    b = device(browser, phone)
    sign_in(b, boss["username"], boss["password"])
    open_admin(b, phone)
    assert b.js("return location.hash") == "#/admin"

    # Search, and the row's numbers.
    search_for(b, "troll" + tag, vic["username"])
    row = user_row(b, vic["username"])
    assert "Tom Troll" in row.text and vic["email"] in row.text
    assert b.text(f'.adm-user[data-username="{vic["username"]}"] .adm-messages .adm-cell-value') == "2"
    assert "Active" in b.text(f'.adm-user[data-username="{vic["username"]}"] .adm-status')

    # Delete the last hour's messages: Wendy sees the fresh one go, the old one stays.
    user_action(b, vic["username"], "Delete messages…")
    b.wait_for(".modal.small .adm-spans")
    confirm(b)
    wait_toast(b, "Deleted 1 message of Tom Troll")
    w.wait(lambda d: not any(t.startswith("a fresh rude") for t in
                             d.execute_script("return [...document.querySelectorAll('.msg-list .msg-text')].map(x => x.textContent)")),
           10, "the deleted message gone in Wendy's tab")
    wait_bubble(w, "an old message from Tom")
    deleted = stack.psql("SELECT id FROM messages WHERE sender_id = %s AND deleted_at IS NOT NULL", vic["user"]["id"])
    assert deleted == [(new["id"],)], deleted

    # Ban: Tom's open tab is signed out at once; his login is refused.
    v.allow("status of 401")
    v.allow("status of 403")
    user_action(b, vic["username"], "Ban")
    confirm(b)
    wait_toast(b, "Tom Troll is banned")
    b.wait(lambda d: "Banned" in b.text(f'.adm-user[data-username="{vic["username"]}"] .adm-status'), 5, "row says Banned")
    v.wait_for(".auth-notice", 15)
    r = api.post("/api/auth/login", json={"login": vic["username"], "password": vic["password"]})
    assert r.status_code == 403 and r.json().get("code") == "account_banned", r.text
    # Signing in again is refused, saying why.
    v.type("#f-login", vic["username"])
    v.type("#f-password", vic["password"])
    v.click(".auth-form button[type=submit]")
    v.wait(lambda d: "banned" in v.text(".auth-form .form-error"), 10, "the banned notice")

    # The Banned filter lists him.
    b.js("document.querySelector('.adm-search').value = ''")  # no input event: one load, the filter's
    b.click('#adm-panel-users [data-status="banned"]')
    b.wait(lambda d: vic["username"] in (rows(b) or []), 10, "in Banned")
    assert b.js("return [...document.querySelectorAll('.adm-user .adm-status')].every(x => x.textContent.includes('Banned'))")
    shots(b, out_dir, "admin-users", phone)

    # Unban: he signs in again.
    user_action(b, vic["username"], "Unban")
    confirm(b)
    wait_toast(b, "Tom Troll is unbanned")
    r = api.post("/api/auth/login", json={"login": vic["username"], "password": vic["password"]})
    assert r.status_code == 200, r.text

    # Make admin, then remove it again.
    b.click('#adm-panel-users [data-status="all"]')
    search_for(b, "wit" + tag, wit["username"])
    user_action(b, wit["username"], "Make admin")
    confirm(b)
    wait_toast(b, "Wendy Witness is now an administrator")
    b.wait(lambda d: "Admin" in b.text(f'.adm-user[data-username="{wit["username"]}"] .adm-role'), 5, "role Admin")
    assert api.get("/api/users/me", token=wit).json()["role"] == "admin"
    # Wendy's open app gains the administration entry without a reload ...
    w.wait(lambda d: w.find(".side-actions .admin-btn").is_displayed(), 10, "Wendy's admin button")
    open_admin(w, False)
    user_action(b, wit["username"], "Remove admin")
    confirm(b)
    wait_toast(b, "Wendy Witness is no longer an administrator")
    assert api.get("/api/users/me", token=wit).json()["role"] == "user"
    # ... and loses it, sent home from the page, told why.
    wait_toast(w, "You are no longer an administrator")
    w.wait(lambda d: w.js("return location.hash") in ("#/", ""), 5, "Wendy sent home")
    assert not w.find(".admin-pane").is_displayed() and not w.find(".side-actions .admin-btn").is_displayed()

    # One's own row offers neither a ban nor a demotion.
    search_for(b, boss["username"], boss["username"])
    row = user_row(b, boss["username"])
    row.find_element(By.CSS_SELECTOR, ".adm-actions").click()
    labels = b.wait(lambda d: d.execute_script(
        "return [...document.querySelectorAll('.popover .menu-item')].map(e => e.textContent)"), 5, "menu")
    assert labels == ["Delete messages…"], labels


@PHONE
def test_admin_reports_stats_audit(browser, api, stack, admin_api, new_user, out_dir, phone):
    boss = new_user("boss", display_name="Bea Boss")
    make_admin(stack, boss)
    rep = new_user("rep", display_name="Rita Reporter")
    spam = new_user("spam", display_name="Sam Spammer")
    chat = direct(api, spam, rep)
    bad = post_message(api, spam, chat, "Buy cheap watches at example.test")

    # Reported through the dialog.
    r = browser()
    sign_in(r, rep["username"], rep["password"])
    open_chat(r, "Sam Spammer")
    open_actions(r, wait_bubble(r, "Buy cheap watches"))
    menu_item(r, "Report").click()
    r.wait_for(".modal.report")
    r.type(".modal.report textarea", "watches again")
    r.click(".modal.report .modal-actions .btn.danger")
    wait_toast(r, "Reported. Thank you")
    report_id = stack.psql("SELECT id FROM message_reports WHERE message_id = %s", bad["id"])[0][0]
    other = post_message(api, spam, chat, "Nothing wrong with this one")
    assert api.post(f"/api/messages/{other['id']}/report", token=rep, json={"reason": "Other: by mistake"}).status_code == 202
    other_id = stack.psql("SELECT id FROM message_reports WHERE message_id = %s", other["id"])[0][0]

    b = device(browser, phone)
    sign_in(b, boss["username"], boss["password"])
    open_admin(b, phone)
    tab(b, "reports")
    card = b.wait_for(f'.adm-report[data-report-id="{report_id}"]')
    b.wait(lambda d: "Rita Reporter" in card.text and "Sam Spammer" in card.text, 10, "the names")
    assert "Buy cheap watches" in card.text and "Spam: watches again" in card.text
    shots(b, out_dir, "admin-reports", phone)
    card.find_element(By.CSS_SELECTOR, ".adm-report-actions .btn.primary").click()
    wait_toast(b, "Report resolved")
    b.wait_gone(f'.adm-report[data-report-id="{report_id}"]')
    assert stack.psql("SELECT status FROM message_reports WHERE id = %s", report_id) == [("resolved",)]
    # Dismissed: it leaves the open queue as well.
    card = b.wait_for(f'.adm-report[data-report-id="{other_id}"]')
    assert "by mistake" in card.text
    card.find_element(By.CSS_SELECTOR, ".adm-report-actions .btn:not(.primary)").click()
    wait_toast(b, "Report dismissed")
    b.wait_gone(f'.adm-report[data-report-id="{other_id}"]')
    assert stack.psql("SELECT status FROM message_reports WHERE id = %s", other_id) == [("dismissed",)]
    b.click('#adm-panel-reports [data-status="all"]')
    card = b.wait_for(f'.adm-report[data-report-id="{report_id}"]')
    assert "Resolved" in card.text and not card.find_elements(By.CSS_SELECTOR, ".adm-report-actions")
    assert "Dismissed" in b.find(f'.adm-report[data-report-id="{other_id}"]').text

    # Stats: the server's numbers, again on Refresh.
    tab(b, "stats")
    b.wait_for('.adm-stat[data-stat="users"]')
    stats = api.get("/api/admin/stats", token=boss).json()
    shown = int(b.text('.adm-stat[data-stat="users"] .adm-stat-value'))
    assert abs(shown - stats["users"]) <= 2, (shown, stats)  # other tests register meanwhile
    assert b.text('.adm-stat[data-stat="websockets"] .adm-stat-value').isdigit()
    new_user("more")
    b.click(".adm-refresh")
    b.wait(lambda d: int(b.text('.adm-stat[data-stat="users"] .adm-stat-value')) > shown, 10, "refreshed")
    shots(b, out_dir, "admin-stats", phone)

    # Audit: the resolve is there, newest first, by Bea.
    tab(b, "audit")
    first = b.wait_for(".adm-audit .adm-entry")
    b.wait(lambda d: "Bea Boss" in first.text, 10, "the admin's name")
    entries = api.get("/api/admin/audit?limit=5", token=boss).json()["entries"]
    assert str(entries[0]["id"]) == first.get_attribute("data-entry-id")
    assert any(e["admin_id"] == boss["user"]["id"] for e in entries)
    shots(b, out_dir, "admin-audit", phone)


def shots(b, out_dir, name, phone):
    """Light and dark, as the page is now."""
    kind = "phone" if phone else "desktop"
    for dark in (False, True):
        b.set_dark(dark)
        b.js("document.documentElement.removeAttribute('data-theme'); localStorage.removeItem('msgr.theme')")
        time.sleep(0.2)
        b.screenshot(out_dir / f"{name}-{kind}-{'dark' if dark else 'light'}.png")
    b.set_dark(False)


def test_admin_users_paging(browser, api, stack, admin_api, new_user):
    """30 a page, newest first; "Show more" asks before the last one shown."""
    boss = new_user("boss", display_name="Bea Boss")
    make_admin(stack, boss)
    tag = "pg" + str(int(time.time() * 1000))[-7:]
    made = [new_user(tag, display_name=f"Pager {i}")["user"]["id"] for i in range(33)]
    b = browser()
    sign_in(b, boss["username"], boss["password"])
    open_admin(b, False)
    # The whole tag in one input event: typed key by key on a slow machine,
    # a prefix's search can show the same 30 rows and the tag's own (a reset)
    # then land after "Show more" was clicked, dropping its answer.
    b.js("const s = document.querySelector('.adm-search'); s.value = arguments[0];"
         " s.dispatchEvent(new Event('input'))", tag)
    ids = lambda: b.js("return document.querySelector('.adm-loading') ? [] :"  # noqa: E731
                       " [...document.querySelectorAll('.adm-user')].map(r => Number(r.dataset.userId))")
    b.wait(lambda d: len(ids()) == 30, 10, "the first page")
    assert ids() == sorted(made, reverse=True)[:30]
    b.click(".adm-more")
    b.wait(lambda d: len(ids()) == 33, 10, "the second page")
    assert ids() == sorted(made, reverse=True)
    assert not b.find(".adm-more").is_displayed()


@PHONE
def test_admin_deletes_many_messages_over_several_requests(browser, api, stack, admin_api, new_user, phone):
    """The server stops a long deletion after MSGR_ADMIN_DELETE_SECS and
    says has_more (0 here: one transaction of 500 a request); the dialog
    asks again until all are gone and says so once."""
    boss = new_user("boss", display_name="Bea Boss")
    make_admin(stack, boss)
    tag = str(int(time.time() * 1000))[-6:]
    spam = new_user("spam" + tag, display_name="Sam Spammer")
    chat = direct(api, spam, boss)
    stack.psql("SELECT message_append(%s, %s, 'text', 'spam ' || g) FROM generate_series(1, 1100) g",
               chat, spam["user"]["id"])
    with stack.restarted("auth", MSGR_ADMIN_DELETE_SECS=0):
        b = device(browser, phone)
        sign_in(b, boss["username"], boss["password"])
        open_admin(b, phone)
        search_for(b, "spam" + tag, spam["username"])
        b.js("""window.__deletes = 0; const real = window.fetch;
                window.fetch = (url, opts) => { if (opts && opts.method === 'DELETE') window.__deletes++;
                  return real(url, opts); };""")
        user_action(b, spam["username"], "Delete messages…")
        b.wait_for(".modal.small .adm-spans")
        b.click('.modal.small input[value="all"]')
        confirm(b)
        b.wait(lambda d: any("Deleted 1100 messages of Sam Spammer" in t.replace(",", "").replace("\u202f", "")
                             .replace("\xa0", "") for t in toasts(b)), 20, "the one toast")
    assert b.js("return window.__deletes") == 4  # 500, 500, 100, then none left
    assert len([t for t in toasts(b) if "Deleted" in t]) == 1
    assert b.text(f'.adm-user[data-username="{spam["username"]}"] .adm-messages .adm-cell-value') == "0"
    assert stack.psql("SELECT count(*) FROM messages WHERE sender_id = %s AND deleted_at IS NULL",
                      spam["user"]["id"]) == [(0,)]
