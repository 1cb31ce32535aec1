"""Temporary upload files (issue 18: a worker killed mid-upload left a
25 MB temporary file for an hour). An upload is written as an unnamed file
of the storage directory (O_TMPFILE, shared/storage.h) until it is
published, so a worker killed mid-upload leaves nothing on disk: by the
time the supervisor has started its replacement, the bytes are gone.

The body goes straight to the files program's FastCGI socket, slowly, so
that the worker is caught in the middle of it (through nginx it would get
the whole body at once)."""

import os
import signal
import time

from fcgikit import fcgi_open, read_answer, send_stdin
from helpers import wait_until
from test_files import multipart, storage, stored_names, upload, worker_pids

MiB = 1024 * 1024


def open_uploads(stack, pid):
    """The inodes of the files of the storage directory that process pid
    has open (named or not)."""
    out = {}
    root = str(storage(stack).resolve())
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(root + "/"):
                out[target] = os.stat(f"/proc/{pid}/fd/{fd}").st_ino
        except FileNotFoundError:
            pass
    return out


def test_a_worker_killed_mid_upload_leaves_nothing(api, stack, new_user):
    alice = new_user("crash")
    before = stored_names(stack)
    data = os.urandom(8 * MiB)
    body, ctype = multipart([(b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
                              b"Content-Type: application/octet-stream", data)])
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/api/files", "QUERY_STRING": "",
              "CONTENT_TYPE": ctype, "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
              "HTTP_AUTHORIZATION": "Bearer " + alice["access_token"]}
    workers = worker_pids(stack)
    s = fcgi_open(stack.var / "run" / "files.sock", params)
    try:
        send_stdin(s, body[:3 * MiB])
        # the worker that took it has the file open, 3 MiB written so far
        found = {}

        def writing():
            for pid in workers:
                uploads = open_uploads(stack, pid)
                if uploads:
                    found[pid] = uploads
                    return True
            return False

        wait_until(writing, timeout=30, message="a worker writing the upload")
        [(pid, uploads)] = found.items()
        inodes = set(uploads.values())
        os.kill(pid, signal.SIGKILL)
        assert read_answer(s) == b""  # no answer from a dead worker
    finally:
        s.close()

    # the supervisor starts another worker: by then nothing is left
    wait_until(lambda: len(worker_pids(stack)) == len(workers) and pid not in worker_pids(stack),
               timeout=30, message="the replacement worker")
    time.sleep(0.5)
    left = stored_names(stack)
    assert [n for n in left if n.startswith(".upload-")] == []
    assert left == before, set(left) ^ set(before)
    # (none of the directory's files is the killed worker's, even on an
    # object store, where the directory keeps only uploads being received)
    assert not {os.stat(storage(stack) / n).st_ino for n in os.listdir(storage(stack))} & inodes
    assert stack.psql("SELECT count(*) FROM files WHERE uploader_id = %s", alice["user"]["id"])[0][0] == 0
    # and uploads go on
    f = upload(api, alice, ("after.bin", data[:MiB])).json()["files"][0]
    assert api.get(f["url"]).content == data[:MiB]
