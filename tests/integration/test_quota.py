"""The storage quota per user (issue 18: one account stored 1 GB in 9 s;
MSGR_USER_QUOTA_MB, 413 quota_exceeded): every live stored file of the user
counts, attached or not, avatars too; a request is refused before its body
is stored; two concurrent uploads cannot both squeeze past the quota.

The files and messages programs run here with a quota of 1 MiB."""

import concurrent.futures
import os
import threading

import pytest

from fcgikit import fcgi_request
from test_files import assert_problem, direct_chat, multipart, png, stored_names, upload

QUOTA = 1024 * 1024
KiB = 1024


@pytest.fixture(scope="module", autouse=True)
def small_quota(stack):
    with stack.restarted("files", MSGR_USER_QUOTA_MB=1), stack.restarted("messages", MSGR_USER_QUOTA_MB=1):
        yield


def used(stack, user):
    return stack.psql("SELECT user_storage_bytes(%s)", user["user"]["id"])[0][0]


def rows(stack, user):
    return stack.psql("SELECT count(*) FROM files WHERE uploader_id = %s", user["user"]["id"])[0][0]


def temp_files(stack):
    return [n for n in stored_names(stack) if n.startswith(".upload-")]


def test_every_live_file_counts_avatars_and_attachments_too(api, stack, new_user):
    alice, bob = new_user("quota"), new_user("quotab")
    chat = direct_chat(api, alice, bob)
    a = upload(api, alice, ("a.bin", os.urandom(400 * KiB))).json()["files"][0]
    avatar = png(pad=300 * KiB)
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("me.png", avatar, "image/png"))])
    assert r.status_code == 200, r.text
    assert used(stack, alice) == 400 * KiB + len(avatar)

    before, n = stored_names(stack), rows(stack, alice)
    body = assert_problem(upload(api, alice, ("b.bin", os.urandom(400 * KiB)), expect=None), 413,
                          "quota_exceeded")
    assert "bytes" in body["detail"]
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice,
                 files=[("text", (None, "with a file")), ("file", ("c.bin", os.urandom(400 * KiB)))])
    assert_problem(r, 413, "quota_exceeded")
    assert stored_names(stack) == before and rows(stack, alice) == n

    # attached to a message it still counts (the 24 h sweep of unattached
    # uploads is no way around the quota) ...
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice, json={"attachment_ids": [a["id"]]})
    assert r.status_code == 201, r.text
    msg = r.json()
    assert_problem(upload(api, alice, ("b.bin", os.urandom(400 * KiB)), expect=None), 413, "quota_exceeded")
    # ... and a forwarded copy shares its bytes, so they count once
    r = api.post(f"/api/messages/{msg['id']}/forward", token=bob, json={"chat_ids": [chat["id"]]})
    assert r.status_code == 201, r.text
    assert used(stack, alice) == 400 * KiB + len(avatar)
    # another user's quota is their own
    upload(api, bob, ("b.bin", os.urandom(400 * KiB)))

    # deleting the message and its copy frees the room
    for m in (msg, r.json()["messages"][0]):
        assert api.delete(f"/api/messages/{m['id']}", token=alice if m is msg else bob).status_code == 204
    assert used(stack, alice) == len(avatar)
    upload(api, alice, ("b.bin", os.urandom(400 * KiB)))
    r = api.delete("/api/users/me/avatar", token=alice)
    assert r.status_code == 200, r.text
    assert used(stack, alice) == 400 * KiB


def test_refused_from_the_content_length_before_the_body_is_read(api, stack, new_user):
    """A body that is not even multipart: without the quota it would be 400
    malformed_multipart; the length alone refuses it first."""
    alice = new_user("quotacl")
    before = stored_names(stack)
    r = api.post("/api/files", token=alice, data=b"x" * (QUOTA + 1),
                 headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert_problem(r, 413, "quota_exceeded")
    assert stored_names(stack) == before
    # just under it is read (and found malformed)
    r = api.post("/api/files", token=alice, data=b"x" * (QUOTA - 1),
                 headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert_problem(r, 400)


# ---- a request without a length, straight to the program's FastCGI socket -------------
# nginx always passes one (it reads the whole body first), so only a
# FastCGI client of our own can leave it out.


def test_without_a_length_it_stops_at_the_quota_and_stores_nothing(api, stack, new_user):
    alice = new_user("quotanl")
    before = stored_names(stack)
    body, ctype = multipart([
        (b'Content-Disposition: form-data; name="file"; filename="small.txt"\r\nContent-Type: text/plain',
         b"fits"),
        (b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
         b"Content-Type: application/octet-stream", os.urandom(QUOTA)),
    ])
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/api/files", "QUERY_STRING": "",
              "CONTENT_TYPE": ctype, "REMOTE_ADDR": "127.0.0.1",
              "HTTP_AUTHORIZATION": "Bearer " + alice["access_token"]}
    answer = fcgi_request(stack.var / "run" / "files.sock", params, body)
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"Status: 413"), answer[:500]
    assert b'"code":"quota_exceeded"' in answer.replace(b" ", b"")
    assert stored_names(stack) == before and rows(stack, alice) == 0
    # the same with the length it is also refused, before reading it
    r = api.post("/api/files", token=alice, data=body, headers={"Content-Type": ctype})
    assert_problem(r, 413, "quota_exceeded")


def test_two_concurrent_uploads_cannot_both_pass(api, stack, new_user):
    """Both read the same room before their bodies; at the commit the
    uploader's row lock has them count one after the other."""
    for round_ in range(3):
        alice = new_user("quotarace")
        data = os.urandom(600 * KiB)
        barrier = threading.Barrier(2)

        def post(i):
            barrier.wait()
            return upload(api, alice, (f"r{i}.bin", data), expect=None)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, range(2)))
        assert sorted(r.status_code for r in answers) == [201, 413], [r.text for r in answers]
        assert_problem(next(r for r in answers if r.status_code == 413), 413, "quota_exceeded")
        assert used(stack, alice) == 600 * KiB and rows(stack, alice) == 1
    assert temp_files(stack) == []
