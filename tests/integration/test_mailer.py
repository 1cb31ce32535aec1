"""The mailer (mailer/main.c) and the mail outbox (schema/functions/mail.sql):
what is queued arrives at the SMTP server (tests/smtpsink.py) once, as a
multipart text + HTML message with an RFC 2047 subject, a Date and the
row's Message-ID; a failed send is tried again later; a mailer killed
between the claim and the send leaves the mail for the next one."""

import os
import signal
import socket
import uuid

import pytest

from helpers import free_port, wait_until


def enqueue(stack, to, subject="Hello", text="text body\n", html="<p>html body</p>"):
    return stack.psql("SELECT mail_enqueue(%s, %s, %s, %s)", to, subject, text, html)[0][0]


def row(stack, mail_id):
    return stack.psql(
        "SELECT sent_at IS NOT NULL, attempts, last_error, next_attempt_at > now() "
        "FROM mail_outbox WHERE id = %s", mail_id)[0]


def address():
    return f"m-{uuid.uuid4().hex[:10]}@example.test"


@pytest.fixture
def normal_mailer(stack):
    """The mailer with the stack's settings again after the test."""
    yield
    stack.restart("mailer")


def test_queued_mail_arrives_once_as_multipart(stack):
    to = address()
    subject = "Сброс пароля – ваш вход в Messenger ✓ " + "long " * 12
    mail_id = enqueue(stack, to, subject, "Line one\nLine two ünïcode\n" + "x" * 200 + "\n",
                      "<p>Hello <b>there</b></p>")
    (got,) = stack.wait_mails(to)
    assert got["Subject"] == subject
    # Encoded words of at most 75 characters, folded, no raw UTF-8.
    head = got.raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    head.decode("ascii")
    assert got["Message-ID"].startswith(f"<outbox.{mail_id}.")
    assert got["Date"].datetime is not None
    assert got["To"].addresses[0].addr_spec == to
    assert got["From"].addresses[0].addr_spec == "noreply@127.0.0.1"
    assert got.get_content_type() == "multipart/alternative"
    assert got.get_body(("plain",)).get_content() == "Line one\nLine two ünïcode\n" + "x" * 200 + "\n"
    assert got.get_body(("html",)).get_content() == "<p>Hello <b>there</b></p>"
    wait_until(lambda: row(stack, mail_id)[0], message="the row marked sent")
    assert row(stack, mail_id)[:3] == (True, 1, None)
    # Sent once: nothing more comes.
    assert len(stack.mails(to)) == 1


def test_plain_ascii_subject_is_not_encoded(stack):
    to = address()
    enqueue(stack, to, "Your password reset link")
    (got,) = stack.wait_mails(to)
    assert b"\r\nSubject: Your password reset link\r\n" in got.raw


def test_failed_send_is_tried_again_later(stack, normal_mailer):
    closed = free_port()  # nothing listens: the connection is refused
    stack.restart("mailer", MSGR_SMTP_URL=f"smtp://127.0.0.1:{closed}")
    to = address()
    mail_id = enqueue(stack, to)
    wait_until(lambda: row(stack, mail_id)[1] == 1, timeout=20, message="a failed attempt")
    sent, attempts, error, later = row(stack, mail_id)
    assert not sent and error and later
    stack.restart("mailer")
    # Due now (as it will be in a minute): the next claim sends it.
    stack.psql("UPDATE mail_outbox SET next_attempt_at = now() WHERE id = %s", mail_id)
    stack.psql("NOTIFY msgr_mail")
    (got,) = stack.wait_mails(to)
    assert got["Message-ID"].startswith(f"<outbox.{mail_id}.")
    wait_until(lambda: row(stack, mail_id)[0], message="the row marked sent")
    assert row(stack, mail_id)[1:3] == (2, None)


def test_mailer_killed_between_claim_and_send_leaves_it_for_the_next(stack, normal_mailer):
    # An SMTP server that accepts the connection and never greets: the
    # mailer has claimed the row and waits for the server.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        stack.restart("mailer", MSGR_SMTP_URL=f"smtp://127.0.0.1:{mute.getsockname()[1]}")
        to = address()
        mail_id = enqueue(stack, to)
        conn, _ = mute.accept()
        with conn:
            # Claimed: the row is locked by the mailer's transaction.
            wait_until(lambda: not stack.psql(
                "SELECT id FROM mail_outbox WHERE id = %s FOR UPDATE SKIP LOCKED", mail_id),
                message="the row locked")
            pid = int((stack.var / "run" / "mailer.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
            # The lock went with the connection; the row is as it was.
            wait_until(lambda: stack.psql(
                "SELECT id FROM mail_outbox WHERE id = %s FOR UPDATE SKIP LOCKED", mail_id),
                message="the lock released")
            assert row(stack, mail_id)[:3] == (False, 0, None)
            conn.close()
        # Supervised like the other programs: started again (it claims the
        # row again and waits on the mute server again).
        pidfile = stack.var / "run" / "mailer.pid"

        def restarted():
            try:
                new = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return None
            return new if new != pid and os.path.exists(f"/proc/{new}") else None

        wait_until(restarted, timeout=20, message="the supervisor starting the mailer again")
        # A stop while it waits on the server: it gives the claim back at
        # once (no failed attempt counted), and starts with the real server.
        stack.restart("mailer")
    (got,) = stack.wait_mails(to)
    assert got["Message-ID"].startswith(f"<outbox.{mail_id}.")
    wait_until(lambda: row(stack, mail_id)[0], message="the row marked sent")
    # One attempt: neither the kill nor the stop counted as a failed one.
    assert row(stack, mail_id)[:3] == (True, 1, None)
    assert len(stack.mails(to)) == 1


def test_two_mailers_send_each_mail_once(stack):
    # A second mailer on the same outbox (another host's, in production).
    import subprocess

    env = {k: v for k, v in stack.env.items() if k.startswith(("MSGR_", "ASAN", "UBSAN", "PATH"))}
    env["MSGR_DATABASE_URL"] = f"host={stack.var / 'run'} dbname=messenger user={stack.db_superuser}"
    env["ASAN_OPTIONS"] = f"log_path={stack.var}/log/asan:detect_leaks=0"
    env["MSGR_SECRET_FILE"] = str(stack.var / "secret")
    other = subprocess.Popen([str(stack.env["BIN"]) + "/mailer"], env=env,
                             stdout=subprocess.DEVNULL, stderr=open(stack.var / "log" / "mailer2.log", "w"))
    try:
        tos = [address() for _ in range(12)]
        for to in tos:
            enqueue(stack, to)
        for to in tos:
            stack.wait_mails(to)
        wait_until(lambda: stack.psql("SELECT count(*) FROM mail_outbox WHERE to_addr = ANY(%s) "
                                      "AND sent_at IS NULL", tos)[0][0] == 0, message="all sent")
        assert all(len(stack.mails(to)) == 1 for to in tos)
    finally:
        other.terminate()
        assert other.wait(15) == 0


def test_mailer_prunes_old_mail_and_expired_resets(stack, normal_mailer):
    def queued(**fields):
        to = address()
        mail_id = enqueue(stack, to)
        sets = ", ".join(f"{k} = {v}" for k, v in fields.items())
        stack.psql(f"UPDATE mail_outbox SET {sets} WHERE id = %s", mail_id)
        return mail_id

    # Not due, so that the running mailer leaves them as they are. It may
    # have sent one between the enqueue and the update (a full run keeps it
    # busy): sent_at NULL makes an unsent row of it again.
    later = "now() + interval '1 day'"
    rows = {
        "sent 3 days ago": queued(sent_at="now() - interval '3 days'", next_attempt_at=later),
        "sent a day ago": queued(sent_at="now() - interval '1 day'", next_attempt_at=later),
        "given up 5 days ago": queued(sent_at="NULL", next_attempt_at="'infinity'", attempts=24,
                                      created_at="now() - interval '5 days'"),
        "given up 3 days ago": queued(sent_at="NULL", next_attempt_at="'infinity'", attempts=24,
                                      created_at="now() - interval '3 days'"),
        "still tried, 9 days old": queued(sent_at="NULL", next_attempt_at=later, attempts=3,
                                          created_at="now() - interval '9 days'"),
    }
    reset_mail = address()
    stack.psql("INSERT INTO password_resets (email, created_at, expires_at) VALUES "
               "(%s, now() - interval '2 hours', now() - interval '1 hour'), "
               "(%s, now() - interval '10 minutes', now() + interval '50 minutes')",
               reset_mail, reset_mail)
    # Pruning runs at the mailer's start (then hourly).
    stack.restart("mailer", MSGR_MAIL_KEEP_DAYS=2, MSGR_MAIL_KEEP_FAILED_DAYS=4)

    def left():
        return {name for name, i in rows.items()
                if stack.psql("SELECT 1 FROM mail_outbox WHERE id = %s", i)}

    wait_until(lambda: "sent 3 days ago" not in left(), timeout=20, message="the pruning")
    assert left() == {"sent a day ago", "given up 3 days ago", "still tried, 9 days old"}
    assert stack.psql("SELECT expires_at > now() FROM password_resets WHERE email = %s",
                      reset_mail) == [(True,)]
