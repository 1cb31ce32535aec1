"""E-mail notification digests (API.md "Notifications"; the job is the
mailer's, schema/functions/mail.sql "the notification digest"): one mail
for an offline user's messages unread past their delay, then none for an
hour; nothing for an online user, for read or delivered messages, muted
chats, notify none; mentions honoured; the RFC 8058 one-click unsubscribe;
an RFC 2047 subject; two mailers send one digest; a mailer killed in the
middle of a run neither resends nor skips.

"Exactly once" here: every message is looked at once, when its delay has
run out, and is then either in exactly one digest or in none for good
(read, delivered, not allowed); the digest is queued in the outbox in the
same transaction that marks its messages (chat_members.mailed_up_to), and
the outbox sends each row once (test_mailer.py; the one duplicate SMTP
cannot rule out is a crash between the relay's acceptance and the commit,
and then the copy has the same Message-ID).

These tests run on a stack of their own whose job runs every second (the
session's stack runs it hourly: tests/helpers.py TEST_ENV); the delay (10
minutes by default) is passed by moving the messages' times back in the
database, not by waiting."""

import os
import re
import signal
import subprocess
import time
import urllib.parse

import requests

import pytest

from chatkit import direct, group, send, uid
from helpers import Api, own_stack, wait_until

JOB_RUNS = 3.5  # seconds in which the job (every second) runs three times over


@pytest.fixture(scope="module")
def stack():
    """Only these users' digests, and the job every second."""
    if os.environ.get("MSGR_TEST_URL"):
        pytest.skip("needs a local stack")
    with own_stack(extra_env={"MSGR_MAIL_DIGEST_SECONDS": "1"}) as s:
        yield s


@pytest.fixture(scope="module")
def api(stack):
    return Api(stack.base_url)


@pytest.fixture(scope="module")
def new_user(api):
    return api.new_user


def age(stack, chat_id, minutes=11):
    """Moves the chat's messages back past the default delay."""
    stack.psql("UPDATE messages SET created_at = created_at - make_interval(mins => %s) "
               "WHERE chat_id = %s", minutes, chat_id)


def mails(stack, user):
    return stack.mails(user["email"])


def one_mail(stack, user):
    (got,) = stack.wait_mails(user["email"])
    return got


def text_of(mail):
    return mail.get_body(("plain",)).get_content()


def html_of(mail):
    return mail.get_body(("html",)).get_content()


def mark(stack, user, chat_id):
    return stack.psql("SELECT mailed_up_to FROM chat_members WHERE user_id = %s AND chat_id = %s",
                      uid(user), chat_id)[0][0]


def next_hour(stack, user):
    """As if the hour after the user's last digest were over."""
    stack.psql("UPDATE mail_digests SET last_sent_at = last_sent_at - interval '61 minutes' "
               "WHERE user_id = %s", uid(user))


def test_one_mail_after_the_delay_then_none_for_an_hour(stack, api, new_user):
    alice, bob = new_user("alice"), new_user("bob", display_name="Bob Builder")
    chat = direct(api, bob, alice)
    first = send(api, bob, chat["id"], "hello alice, are you there?")
    time.sleep(JOB_RUNS)
    assert mails(stack, alice) == [], "mailed before the delay ran out"
    age(stack, chat["id"])
    got = one_mail(stack, alice)
    assert got["Subject"] == "New message from Bob Builder"
    assert got.get_content_type() == "multipart/alternative"
    body = text_of(got)
    assert "Bob Builder:\n  hello alice, are you there?" in body
    link = f"{stack.base_url}/#/c/{chat['id']}"
    assert link in body and f'href="{link}"' in html_of(got)
    assert "hello alice, are you there?" in html_of(got)
    assert mark(stack, alice, chat["id"]) == first["id"]
    # More, past the delay too: nothing within the hour.
    second = send(api, bob, chat["id"], "second one")
    age(stack, chat["id"])
    time.sleep(JOB_RUNS)
    assert len(mails(stack, alice)) == 1
    assert mark(stack, alice, chat["id"]) == first["id"]
    # The hour over: the next digest lists only what the first did not.
    next_hour(stack, alice)
    wait_until(lambda: len(mails(stack, alice)) == 2, timeout=20, message="the second digest")
    later = mails(stack, alice)[1]
    assert "second one" in text_of(later) and "are you there" not in text_of(later)
    assert mark(stack, alice, chat["id"]) == second["id"]


def test_nothing_while_online_mailed_once_offline_and_undelivered(stack, api, new_user, ws):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, bob, alice)
    c = ws()
    c.auth(alice)
    wait_until(lambda: stack.psql("SELECT 1 FROM user_presence WHERE user_id = %s", uid(alice)),
               message="alice online")
    send(api, bob, chat["id"], "while you are here")
    age(stack, chat["id"])
    time.sleep(JOB_RUNS)
    assert mails(stack, alice) == []
    # Gone without acknowledging it (not delivered): now it is mailed.
    c.close()
    wait_until(lambda: not stack.psql("SELECT 1 FROM user_presence WHERE user_id = %s", uid(alice)),
               message="alice offline")
    assert "while you are here" in text_of(one_mail(stack, alice))


def test_read_and_delivered_messages_are_never_mailed(stack, api, new_user):
    alice, bob, carol, dave = (new_user(n) for n in ("alice", "bob", "carol", "dave"))
    read_chat, delivered_chat, unread_chat = (direct(api, u, alice) for u in (bob, carol, dave))
    read = send(api, bob, read_chat["id"], "read in time")
    r = api.post(f"/api/chats/{read_chat['id']}/read", token=alice, json={"message_id": read["id"]})
    assert r.status_code == 204, r.text
    delivered = send(api, carol, delivered_chat["id"], "delivered in time")
    # What wsd does with a client's ack.
    stack.psql("SELECT mark_delivered(%s, %s, %s)", uid(alice), delivered_chat["id"], delivered["id"])
    send(api, dave, unread_chat["id"], "still unread")
    for chat in (read_chat, delivered_chat, unread_chat):
        age(stack, chat["id"])
    body = text_of(one_mail(stack, alice))
    assert "still unread" in body
    assert "read in time" not in body and "delivered in time" not in body
    time.sleep(JOB_RUNS)
    assert len(mails(stack, alice)) == 1


def test_chat_settings_and_mentions(stack, api, new_user):
    alice = new_user("alice")
    bob, carol = new_user("bob"), new_user("carol")
    at = "@" + alice["username"]
    muted = direct(api, bob, alice)
    silent = group(api, bob, [alice], title="Silent")
    mentions_only = group(api, carol, [alice], title="Mentions only")
    normal = direct(api, carol, alice)
    for chat, settings in ((muted, {"muted_until": "2999-01-01T00:00:00Z"}),
                           (silent, {"notify": "none"}), (mentions_only, {"notify": "mentions"})):
        r = api.patch(f"/api/chats/{chat['id']}/settings", token=alice, json=settings)
        assert r.status_code == 200, r.text
    send(api, bob, muted["id"], "muted plain")
    send(api, bob, muted["id"], f"muted but {at} mentioned")
    send(api, bob, silent["id"], f"silent even with {at}")
    send(api, carol, mentions_only["id"], "group chatter")
    send(api, carol, mentions_only["id"], f"{at} look at this")
    send(api, carol, normal["id"], "normal plain")
    for chat in (muted, silent, mentions_only, normal):
        age(stack, chat["id"])
    got = one_mail(stack, alice)
    body = text_of(got)
    for listed in ("muted but", "look at this", "normal plain"):
        assert listed in body, (listed, body)
    for skipped in ("muted plain", "silent even", "group chatter"):
        assert skipped not in body, (skipped, body)
    assert got["Subject"].startswith("3 new messages from ")
    # A group's message names its group.
    assert "in Mentions only:" in body
    # Service messages (the groups' "created") never count: three, not five.
    assert "3 messages are waiting" in body


def test_email_notifications_mentions_and_none(stack, api, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    r = api.patch("/api/users/me/settings", token=alice, json={"email_notifications": "mentions"})
    assert r.status_code == 200, r.text
    r = api.patch("/api/users/me/settings", token=carol, json={"email_notifications": "none"})
    assert r.status_code == 200, r.text
    to_alice, to_carol = direct(api, bob, alice), direct(api, bob, carol)
    send(api, bob, to_alice["id"], "plain to alice")
    send(api, bob, to_alice["id"], f"@{alice['username']} a mention")
    last = send(api, bob, to_carol["id"], f"@{carol['username']} even a mention")
    age(stack, to_alice["id"])
    age(stack, to_carol["id"])
    body = text_of(one_mail(stack, alice))
    assert "a mention" in body and "plain to alice" not in body
    # carol's was looked at (the watermark passed it) and not mailed.
    wait_until(lambda: mark(stack, carol, to_carol["id"]) == last["id"], message="carol's looked at")
    assert mails(stack, carol) == []


def test_a_custom_delay(stack, api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    r = api.patch("/api/users/me/settings", token=alice, json={"email_delay_minutes": 60})
    assert r.status_code == 200, r.text
    chat = direct(api, bob, alice)
    send(api, bob, chat["id"], "an hour")
    age(stack, chat["id"], minutes=30)
    time.sleep(JOB_RUNS)
    assert mails(stack, alice) == []
    age(stack, chat["id"], minutes=31)
    assert "an hour" in text_of(one_mail(stack, alice))


def test_cyrillic_sender_subject_is_rfc2047(stack, api, new_user):
    alice, boris = new_user("alice"), new_user("boris", display_name="Борис Годунов")
    chat = direct(api, boris, alice)
    send(api, boris, chat["id"], "Привет!")
    age(stack, chat["id"])
    got = one_mail(stack, alice)
    assert got["Subject"] == "New message from Борис Годунов"
    head = got.raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # no raw UTF-8 in the header
    assert re.search(rb"\r\nSubject: =\?UTF-8\?B\?", head)
    assert "Привет!" in text_of(got)


def unsubscribe_url(mail):
    header = mail["List-Unsubscribe"]
    m = re.fullmatch(r"<(https?://[^>]+)>", str(header))
    assert m, header
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return m.group(1)


def settings(api, user):
    return api.get("/api/users/me/settings", token=user).json()


def test_one_click_unsubscribe(stack, api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, bob, alice)
    send(api, bob, chat["id"], "unsubscribe me")
    age(stack, chat["id"])
    got = one_mail(stack, alice)
    url = unsubscribe_url(got)
    assert url.startswith(f"{stack.base_url}/api/auth/unsubscribe?token=")
    # The same link in both parts of the mail.
    assert url in text_of(got) and url.replace("&", "&amp;") in html_of(got)
    # A GET (a person, a link scanner) changes nothing: a page with a button.
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert '<form method="post"' in r.text and "<script" not in r.text and "style" not in r.text
    assert settings(api, alice)["email_notifications"] == "all"
    # The button posts the form to the same URL; so does a mail client.
    action = re.search(r'action="([^"]+)"', r.text).group(1)
    assert urllib.parse.urljoin(url, action) == url
    r = requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=30)
    assert r.status_code == 200, r.text
    assert settings(api, alice)["email_notifications"] == "none"
    # Again: the same answer (idempotent).
    assert requests.post(url, data="List-Unsubscribe=One-Click", timeout=30).status_code == 200
    # Nothing more is mailed.
    next_hour(stack, alice)
    send(api, bob, chat["id"], "after unsubscribing")
    age(stack, chat["id"])
    time.sleep(JOB_RUNS)
    assert len(mails(stack, alice)) == 1


def test_forged_and_other_users_tokens_are_refused(stack, api, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    chat = direct(api, bob, alice)
    send(api, bob, chat["id"], "token test")
    age(stack, chat["id"])
    url = unsubscribe_url(one_mail(stack, alice))
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
    user_id, sig = token.split(".")
    assert user_id == str(uid(alice))
    base = f"{stack.base_url}/api/auth/unsubscribe?token="
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    for bad in (f"{uid(carol)}.{sig}",        # alice's signature, carol's id
                f"{user_id}.{flipped}",         # a changed signature
                f"{user_id}.{sig.upper()}", user_id, "", f"0{user_id}.{sig}", "x" * 5000):
        for method in (requests.get, requests.post):
            r = method(base + urllib.parse.quote(bad), data="List-Unsubscribe=One-Click", timeout=30)
            assert r.status_code in (400, 414), (bad, r.status_code, r.text)
            if r.status_code == 400:
                assert r.json()["code"] == "invalid_token"
    r = requests.post(f"{stack.base_url}/api/auth/unsubscribe", timeout=30)
    assert r.status_code == 400
    assert settings(api, carol)["email_notifications"] == "all"
    assert settings(api, alice)["email_notifications"] == "all"


def other_mailer(stack):
    env = {k: v for k, v in stack.env.items() if k.startswith(("MSGR_", "ASAN", "UBSAN", "PATH"))}
    env["MSGR_DATABASE_URL"] = f"host={stack.var / 'run'} dbname=messenger user={stack.db_superuser}"
    env["ASAN_OPTIONS"] = f"log_path={stack.var}/log/asan:detect_leaks=0"
    env["MSGR_SECRET_FILE"] = str(stack.var / "secret")
    env["MSGR_PUBLIC_URL"] = stack.base_url
    return subprocess.Popen([str(stack.env["BIN"]) + "/mailer"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(stack.var / "log" / "mailer-digest2.log", "w"))


def test_two_mailers_send_one_digest(stack, api, new_user):
    other = other_mailer(stack)
    try:
        bob = new_user("bob")
        users = [new_user(f"u{i}") for i in range(8)]
        chats = [direct(api, bob, u) for u in users]
        for chat in chats:
            send(api, bob, chat["id"], "for two mailers")
        # All at once, so that both jobs find them in the same second.
        stack.psql("UPDATE messages SET created_at = created_at - interval '11 minutes' "
                   "WHERE chat_id = ANY(%s)", [c["id"] for c in chats])
        for u in users:
            stack.wait_mails(u["email"])
        time.sleep(JOB_RUNS)
        assert [len(mails(stack, u)) for u in users] == [1] * len(users)
    finally:
        other.terminate()
        assert other.wait(15) == 0


def test_mailer_killed_mid_run_neither_resends_nor_skips(stack, api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, bob, alice)
    send(api, bob, chat["id"], "survives a kill")
    # Hold alice's membership row: the job's transaction for her queues
    # the mail, then waits to move her watermark.
    import psycopg2

    holder = psycopg2.connect(host=str(stack.var / "run"), dbname="messenger", user=stack.db_superuser)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM chat_members WHERE user_id = %s FOR UPDATE", (uid(alice),))
            age(stack, chat["id"])
            wait_until(lambda: stack.psql(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%%mail_digest_user%%'"), timeout=20, message="the job waiting")
            pid = int((stack.var / "run" / "mailer.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
            # Its queued mail is in no committed row.
            assert stack.psql("SELECT count(*) FROM mail_outbox WHERE to_addr = %s",
                              alice["email"])[0][0] == 0
        holder.rollback()
    finally:
        holder.close()
    # The dead mailer's transaction ends with its connection; the
    # supervisor's new mailer does alice's digest once.
    got = one_mail(stack, alice)
    assert "survives a kill" in text_of(got)
    time.sleep(JOB_RUNS)
    assert len(mails(stack, alice)) == 1
    assert stack.psql("SELECT count(*) FROM mail_outbox WHERE to_addr = %s", alice["email"])[0][0] == 1
