"""The test SMTP server (tests/smtpsink.py) the stack's mail goes to: what a
client sends arrives in Stack.mails(), decoded, with its envelope."""

import smtplib
import uuid
from email.message import EmailMessage


def test_what_arrives_is_read_back(stack):
    to = f"sink-{uuid.uuid4().hex[:8]}@example.test"
    msg = EmailMessage()
    msg["From"] = "messenger@example.test"
    msg["To"] = "someone-else@example.test"
    msg["Subject"] = "Grüße – a test"
    msg.set_content("plain body\n")
    msg.add_alternative("<p>html body</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=10) as s:
        s.send_message(msg, to_addrs=[to])
    (got,) = stack.wait_mails(to)
    assert got["Subject"] == "Grüße – a test"
    assert b"Subject: =?utf-8?" in got.raw
    assert got["X-Envelope-From"] == "<messenger@example.test>"
    assert got.get_body(("plain",)).get_content() == "plain body\n"
    assert "html body" in got.get_body(("html",)).get_content()
    assert stack.env["MSGR_SMTP_URL"] == f"smtp://127.0.0.1:{stack.smtp_port}"
