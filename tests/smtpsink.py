"""An SMTP server for the test stack: takes every message and writes it to a
Maildir, so that tests read what the messenger sent (helpers.Mailbox).

    /usr/bin/python3 tests/smtpsink.py PORT MAILDIR PARENT_PID

Debian's python3-aiosmtpd (scripts/deps.sh test). The message is stored as
the bytes that arrived, not parsed and written again: a test checks the
encoding the sender chose (RFC 2047 subjects, line lengths). The envelope
goes first, as X-Envelope-From / X-Envelope-To header lines, because a
mail's own To: need not be where it went. It exits with PARENT_PID (the
test run), so that a run killed with SIGKILL leaves no server behind, the
way the stack's guardian leaves no stack behind.
"""

import mailbox
import os
import sys
import time

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path):
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server, session, envelope):
        head = f"X-Envelope-From: <{envelope.mail_from}>\r\n"
        for rcpt in envelope.rcpt_tos:
            head += f"X-Envelope-To: <{rcpt}>\r\n"
        # Maildir.add writes a temporary file and renames it into new/: a
        # reader never sees half a message.
        self.maildir.add(head.encode() + envelope.original_content)
        return "250 OK"


def main():
    port, path, parent = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    controller = Controller(MaildirHandler(path), hostname="127.0.0.1", port=port)
    controller.start()
    # Ready: the caller waits for this line before starting the stack.
    print("ready", flush=True)
    try:
        while True:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                break
            time.sleep(1)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
