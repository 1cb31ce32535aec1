"""Files: uploads, downloads, avatars and attachments (API.md "Files") through nginx.

Checks the contract from the outside, and from the inside where the contract
promises something about storage: what is in $VAR/files and in the files
table after a refused upload, after a deleted message, after the sweep.
"""

import hashlib
import hmac
import os
import re
import struct
import time
import urllib.parse
import uuid
import zlib

import pytest

from helpers import wait_until

MiB = 1024 * 1024
SIGNED_URL = re.compile(r"^/api/files/(\d+)\?exp=(\d+)&sig=([0-9a-f]{64})$")


# ---- content ----------------------------------------------------------------


def png(width=1, height=1, pad=0):
    """A valid PNG, optionally padded with a tEXt chunk to grow it."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\0" + b"\xff\x00\x00\xff" * width for _ in range(height))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
    if pad:
        out += chunk(b"tEXt", b"pad\0" + b"x" * pad)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script></svg>\n'
HTML = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"
TEXT = "Just some plain words and nothing more.\n".encode() * 20


# ---- helpers --------------------------------------------------------------------


def upload(api, user, *files, expect=201):
    """POST /api/files with parts "file": (name, bytes[, client type])."""
    parts = [("file", f if len(f) == 3 else (f[0], f[1], "application/octet-stream")) for f in files]
    r = api.post("/api/files", token=user, files=parts)
    if expect is not None:
        assert r.status_code == expect, r.text
    return r


def upload_one(api, user, name, data, ctype="application/octet-stream"):
    return upload(api, user, (name, data, ctype)).json()["files"][0]


def assert_problem(r, status, code=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    if code:
        assert body["code"] == code, body
    return body


def storage(stack):
    return stack.files_dir


def stored_names(stack):
    """What is stored (Stack.stored_keys: the directory's files, or the
    bucket's objects on an object store), and the temporary files of the
    directory (uploads being received stay there either way)."""
    temp = [n for n in os.listdir(storage(stack)) if n.startswith(".")]
    return sorted(stack.stored_keys() + temp)


def file_rows(stack, user):
    return stack.psql("SELECT id, storage_key, deleted_at FROM files WHERE uploader_id = %s",
                      user["user"]["id"])


def secret(stack):
    with open(stack.var / "secret", "rb") as f:
        return f.read().rstrip(b"\r\n")


def sign(stack, file_id, exp):
    return hmac.new(secret(stack), f"{file_id}:{exp}".encode(), hashlib.sha256).hexdigest()


def multipart(parts, boundary="----msgrtest" + uuid.uuid4().hex):
    """A multipart body written by hand: parts are (headers, body) with
    headers as raw bytes, so a test controls every byte."""
    out = b""
    for headers, body in parts:
        out += b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + body + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, "multipart/form-data; boundary=" + boundary


def direct_chat(api, a, b):
    r = api.post("/api/chats", token=a, json={"type": "direct", "user_id": b["user"]["id"]})
    assert r.status_code in (200, 201), r.text
    return r.json()


# ---- uploading ------------------------------------------------------------------


def test_upload_several_files(api, stack, new_user):
    alice = new_user("up")
    before = set(stored_names(stack))
    r = upload(api, alice, ("one.png", png(), "image/png"), ("two.txt", TEXT, "text/plain"),
               ("three.gif", GIF, "image/gif"))
    assert r.headers["Content-Type"] == "application/json"
    files = r.json()["files"]
    assert [f["name"] for f in files] == ["one.png", "two.txt", "three.gif"]
    assert [f["size"] for f in files] == [len(png()), len(TEXT), len(GIF)]
    assert [f["mime"] for f in files] == ["image/png", "text/plain", "image/gif"]
    for f in files:
        assert set(f) == {"id", "name", "size", "mime", "url", "created_at"}
        m = SIGNED_URL.match(f["url"])
        assert m and int(m.group(1)) == f["id"], f["url"]
        # exp is on the hour, one to two hours ahead
        exp = int(m.group(2))
        assert exp % 3600 == 0 and time.time() + 3500 < exp <= time.time() + 7200
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", f["created_at"])
    assert files[0]["id"] < files[1]["id"] < files[2]["id"]
    # three new files on disk, named by the server, not by the client
    new = set(stored_names(stack)) - before
    assert len(new) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", n) for n in new)
    keys = {row[1] for row in file_rows(stack, alice)}
    assert keys == new
    # the bytes come back as they went
    assert api.get(files[1]["url"]).content == TEXT
    assert api.get(files[0]["url"]).content == png()


def test_upload_needs_a_token(api):
    r = api.post("/api/files", files=[("file", ("a.txt", b"x", "text/plain"))])
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_upload_without_a_file_is_422(api, new_user):
    alice = new_user("nofile")
    r = api.post("/api/files", token=alice, files=[("other", (None, b"just a field"))])
    body = assert_problem(r, 422, "validation_failed")
    assert "file" in body["errors"]
    # a browser's empty file input (filename="" and no bytes) is no file
    body, ctype = multipart([(b'Content-Disposition: form-data; name="file"; filename=""\r\n'
                              b"Content-Type: application/octet-stream", b"")])
    r = api.post("/api/files", token=alice, data=body, headers={"Content-Type": ctype})
    assert_problem(r, 422, "validation_failed")


def test_type_comes_from_content_not_from_client(api, new_user):
    alice = new_user("mime")
    files = upload(api, alice, ("picture.txt", png(), "text/plain"),
                   ("notes.png", TEXT, "image/png"), ("page.jpg", HTML, "image/jpeg")).json()["files"]
    assert [f["mime"] for f in files] == ["image/png", "text/plain", "text/html"]
    r = api.get(files[1]["url"])
    assert r.headers["Content-Type"].split(";")[0] == "text/plain"
    assert r.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("name,data,mime", [("drawing.svg", SVG, "image/svg+xml"),
                                            ("page.html", HTML, "text/html")])
def test_active_content_is_an_attachment_with_nosniff_and_csp(api, new_user, name, data, mime):
    alice = new_user("svg")
    f = upload_one(api, alice, name, data, "image/png")
    assert f["mime"] == mime
    r = api.get(f["url"])
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Content-Type"] == mime
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert "script-src" not in csp


def test_png_is_inline(api, new_user):
    alice = new_user("png")
    f = upload_one(api, alice, "photo.png", png(4, 4), "application/octet-stream")
    r = api.get(f["url"])
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Content-Disposition"] == "inline; filename=\"photo.png\"; filename*=UTF-8''photo.png"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    # the signed URL may be kept by the browser, never by a shared cache
    assert r.headers["Cache-Control"].startswith("private, max-age=")
    assert r.content == png(4, 4)


def test_range_request(api, new_user):
    alice = new_user("range")
    data = bytes(range(256)) * 64
    f = upload_one(api, alice, "bytes.bin", data)
    r = api.get(f["url"], headers={"Range": "bytes=100-199"})
    assert r.status_code == 206, r.text
    assert r.content == data[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    r = api.get(f["url"], headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    # and a conditional request is answered by nginx too
    full = api.get(f["url"])
    assert full.headers.get("Accept-Ranges") == "bytes"
    etag = full.headers["ETag"]
    assert api.get(f["url"], headers={"If-None-Match": etag}).status_code == 304


def test_head_request(api, new_user):
    alice = new_user("head")
    f = upload_one(api, alice, "a.txt", TEXT)
    r = api.session.head(api.url(f["url"]), timeout=30)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(TEXT)


# ---- who may read -----------------------------------------------------------------


def test_stranger_gets_404(api, new_user):
    alice, mallory = new_user("owner"), new_user("stranger")
    f = upload_one(api, alice, "secret.txt", TEXT)
    plain = f"/api/files/{f['id']}"
    # no signature and no token
    assert_problem(api.get(plain), 404, "file_not_found")
    # a token of someone who is neither the uploader nor in a chat with it
    assert_problem(api.get(plain, token=mallory), 404, "file_not_found")
    # the same answer as for a file that does not exist
    assert_problem(api.get("/api/files/999999999", token=mallory), 404, "file_not_found")
    # the uploader's token works without a signature
    r = api.get(plain, token=alice)
    assert r.status_code == 200 and r.content == TEXT
    assert r.headers["Cache-Control"] == "private, no-cache"
    # a bad token is a 401, not a silent 404
    r = api.get(plain, token="not-a-token")
    assert_problem(r, 401)


def test_forged_and_expired_signatures_are_refused(api, stack, new_user):
    alice, other = new_user("sig"), new_user("sig2")
    f = upload_one(api, alice, "a.txt", TEXT)
    g = upload_one(api, other, "b.txt", b"other's bytes")
    fid, exp, sig = SIGNED_URL.match(f["url"]).groups()
    base = f"/api/files/{fid}"
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    for query in (f"exp={exp}&sig={flipped}",           # forged signature
                  f"exp={int(exp) + 3600}&sig={sig}",   # a later expiry, same signature
                  f"exp={exp}&sig={sig.upper()}",       # not the canonical form
                  f"exp=0{exp}&sig={sig}",
                  f"exp={exp}",
                  f"sig={sig}",
                  f"exp={exp}&sig={sig[:32]}"):
        assert_problem(api.get(f"{base}?{query}"), 404, "file_not_found")
    # one file's signature does not open another
    gid = g["id"]
    assert_problem(api.get(f"/api/files/{gid}?exp={exp}&sig={sig}"), 404)
    # a genuine signature (the scheme is HMAC-SHA256 of "id:exp") that has expired
    past = int(time.time()) - 10
    r = api.get(f"{base}?exp={past}&sig={sign(stack, fid, past)}")
    assert_problem(r, 403, "url_expired")
    # and one that has not
    future = int(time.time()) + 600
    assert api.get(f"{base}?exp={future}&sig={sign(stack, fid, future)}").content == TEXT


# ---- limits: nothing stored ---------------------------------------------------------


def assert_nothing_stored(stack, user, before):
    assert stored_names(stack) == before
    assert file_rows(stack, user) == []


def test_file_over_25_mib_is_413_and_nothing_stored(api, stack, new_user):
    alice = new_user("big")
    before = stored_names(stack)
    big = os.urandom(1024) * (26 * 1024)
    r = upload(api, alice, ("small.txt", TEXT, "text/plain"), ("big.bin", big, "application/zip"),
               expect=None)
    assert_problem(r, 413, "file_too_large")
    assert_nothing_stored(stack, alice, before)
    # exactly 25 MiB is fine
    f = upload_one(api, alice, "exact.bin", big[: 25 * MiB])
    assert f["size"] == 25 * MiB


def test_eleven_files_is_413_and_nothing_stored(api, stack, new_user):
    alice = new_user("many")
    before = stored_names(stack)
    r = upload(api, alice, *[(f"f{i}.txt", TEXT, "text/plain") for i in range(11)], expect=None)
    assert_problem(r, 413, "too_many_files")
    assert_nothing_stored(stack, alice, before)
    files = upload(api, alice, *[(f"f{i}.txt", TEXT, "text/plain") for i in range(10)]).json()["files"]
    assert len(files) == 10


def test_limits_say_what_the_server_accepts(api, stack, new_user):
    alice = new_user("limits")
    r = api.get("/api/files/limits", token=alice)
    assert r.status_code == 200, r.text
    limits = r.json()
    assert limits == {"max_file_size": 25 * MiB, "max_files": 10, "quota_bytes": 2048 * MiB,
                      "used_bytes": 0}
    f = upload_one(api, alice, "a.bin", os.urandom(1000))
    assert api.get("/api/files/limits", token=alice).json()["used_bytes"] == f["size"] == 1000

    # Another configuration: what the limits say is what the uploads do.
    with stack.restarted("files", MSGR_MAX_FILE_SIZE=4096, MSGR_MAX_FILES=2, MSGR_USER_QUOTA_MB=0):
        limits = api.get("/api/files/limits", token=alice).json()
        assert limits == {"max_file_size": 4096, "max_files": 2, "quota_bytes": None, "used_bytes": 1000}
        upload_one(api, alice, "edge.bin", os.urandom(4096))
        assert_problem(upload(api, alice, ("over.bin", os.urandom(4097)), expect=None), 413, "file_too_large")
        assert_problem(upload(api, alice, *[(f"{i}.txt", TEXT) for i in range(3)], expect=None), 413,
                       "too_many_files")

    assert_problem(api.get("/api/files/limits"), 401)
    assert_problem(api.get("/api/files/limits", token="not-a-token"), 401)
    assert api.post("/api/auth/logout", json={"refresh_token": alice["refresh_token"]}).status_code == 204
    assert_problem(api.get("/api/files/limits", token=alice), 401)
    r = api.post("/api/files/limits", token=new_user("limits2"))
    assert_problem(r, 405)
    assert r.headers["Allow"] == "GET"


@pytest.mark.parametrize("case", ["truncated", "bare_lf", "no_disposition", "bad_boundary"])
def test_broken_multipart_is_400_and_nothing_stored(api, stack, new_user, case):
    alice = new_user("broken")
    before = stored_names(stack)
    good_part = (b'Content-Disposition: form-data; name="file"; filename="a.txt"', TEXT)
    body, ctype = multipart([good_part, good_part])
    if case == "truncated":
        body = body[: len(body) - 20]
    elif case == "bare_lf":
        body = body.replace(b'filename="a.txt"\r\n', b'filename="a.txt"\n', 1)
    elif case == "no_disposition":
        body, ctype = multipart([good_part, (b"Content-Type: text/plain", TEXT)])
    elif case == "bad_boundary":
        ctype = 'multipart/form-data; boundary="'
    r = api.post("/api/files", token=alice, data=body, headers={"Content-Type": ctype})
    assert_problem(r, 400)
    assert_nothing_stored(stack, alice, before)


def test_not_multipart_is_415(api, stack, new_user):
    alice = new_user("json")
    before = stored_names(stack)
    assert_problem(api.post("/api/files", token=alice, json={"file": "x"}), 415,
                   "unsupported_media_type")
    assert_problem(api.post("/api/files", token=alice, data=TEXT,
                            headers={"Content-Type": "text/plain"}), 415)
    assert_nothing_stored(stack, alice, before)


def test_file_in_a_part_with_another_name_is_422(api, stack, new_user):
    alice = new_user("other")
    before = stored_names(stack)
    r = api.post("/api/files", token=alice, files=[("file", ("a.txt", TEXT)), ("attachment", ("b.txt", TEXT))])
    body = assert_problem(r, 422)
    assert "attachment" in body["errors"]
    assert_nothing_stored(stack, alice, before)


def worker_pids(stack):
    master = int(open(stack.var / "run" / "files.pid").read().split()[0])
    with open(f"/proc/{master}/task/{master}/children") as f:
        return [int(p) for p in f.read().split()]


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_memory_does_not_grow_with_the_file(api, stack, new_user):
    """The body is streamed: a worker's peak RSS grows by far less than the
    25 MiB it stores (one worker, so it is the one that did the work)."""
    alice = new_user("rss")
    data = os.urandom(1024 * 1024) * 25
    with stack.restarted("files", MSGR_WORKERS=1):
        # (the restart returns once the master is up; its worker may come
        # a moment later: an S3 run under load found none yet)
        [worker] = wait_until(lambda: (lambda w: w if len(w) == 1 else None)(worker_pids(stack)),
                              timeout=30, message="the files worker")
        # the first upload loads what every upload needs once (libmagic's
        # tables, the buffers): not what this test is about
        upload_one(api, alice, "warm.bin", data[:MiB])
        before = peak_rss_kib(worker)
        f = upload_one(api, alice, "big.bin", data)
        after = peak_rss_kib(worker)
        assert worker_pids(stack) == [worker]
    assert f["size"] == 25 * MiB
    print(f"peak RSS of the worker: {before} KiB before, {after} KiB after the 25 MiB upload")
    assert after - before < 2 * 1024, f"peak RSS grew by {after - before} KiB"
    got = api.get(f["url"])
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()


# ---- names ---------------------------------------------------------------------------


def test_filename_is_sanitised_and_escaped(api, new_user):
    alice = new_user("names")
    raw = ('../..\\secret\\dir/my %22report%22 \u00fc\u202e\U0001F600.txt').encode()
    body, ctype = multipart([
        (b'Content-Disposition: form-data; name="file"; filename="' + raw + b'"', TEXT),
        (b'Content-Disposition: form-data; name="file"; filename="bad\xff\xfebytes.txt"', TEXT),
        (b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%2F..%2Fx.pdf", TEXT),
        (b'Content-Disposition: form-data; name="file"; filename=".."', TEXT),
        (b'Content-Disposition: form-data; name="file"; filename="' + b"n" * 300 + b'.tar.gz"', TEXT),
        (b'Content-Disposition: form-data; name="file"; filename="back\\\\slash\\\\..\\\\name \\"q\\".txt"', TEXT),
    ])
    r = api.post("/api/files", token=alice, data=body, headers={"Content-Type": ctype})
    assert r.status_code == 201, r.text
    names = [f["name"] for f in r.json()["files"]]
    assert names[0] == 'my "report" \u00fc\U0001F600.txt'
    assert names[1] == "bad\ufffd\ufffdbytes.txt"
    assert names[2] == "x.pdf"
    assert names[3] == "file"
    assert names[4].endswith(".gz") and len(names[4].encode()) == 255
    assert names[5] == 'name "q".txt'
    files = r.json()["files"]
    cd = api.get(files[0]["url"]).headers["Content-Disposition"]
    assert cd == ("attachment; filename=\"my _report_ __.txt\"; "
                  "filename*=UTF-8''my%20%22report%22%20%C3%BC%F0%9F%98%80.txt")
    # what a client decodes from filename* is the stored name
    star = cd.split("filename*=UTF-8''")[1]
    assert urllib.parse.unquote(star) == names[0]
    cd = api.get(files[5]["url"]).headers["Content-Disposition"]
    assert cd == "attachment; filename=\"name _q_.txt\"; filename*=UTF-8''name%20%22q%22.txt"


# ---- avatars ---------------------------------------------------------------------------


def test_avatar_png_is_accepted_and_loadable(api, stack, new_user):
    alice, bob = new_user("ava"), new_user("avb")
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("me.txt", png(2, 2), "text/plain"))])
    assert r.status_code == 200, r.text
    user = r.json()
    assert user["id"] == alice["user"]["id"] and user["email"] == alice["email"]
    url = user["avatar_url"]
    assert SIGNED_URL.match(url), url
    img = api.get(url)
    assert img.status_code == 200 and img.content == png(2, 2)
    assert img.headers["Content-Type"] == "image/png"
    assert img.headers["Content-Disposition"].startswith("inline;")
    # others see it in the profile, and it loads for them
    seen = api.get(f"/api/users/{alice['user']['id']}", token=bob).json()["avatar_url"]
    assert SIGNED_URL.match(seen) and api.get(seen).content == png(2, 2)
    # a new one replaces the old, whose bytes go
    old_key = stack.psql("SELECT f.storage_key FROM users u JOIN files f ON f.id = u.avatar_file_id "
                         "WHERE u.id = %s", alice["user"]["id"])[0][0]
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("a.gif", GIF, "image/gif"))])
    assert r.status_code == 200, r.text
    assert api.get(r.json()["avatar_url"]).content == GIF
    assert old_key not in stored_names(stack)
    # an avatar is not an attachable upload and is never swept as one
    assert stack.psql("SELECT kind FROM files WHERE uploader_id = %s AND deleted_at IS NULL",
                      alice["user"]["id"]) == [("avatar",)]


@pytest.mark.parametrize("name,data", [("a.txt", TEXT), ("a.svg", SVG), ("a.html", HTML),
                                       ("fake.png", b"\x89PNG not really")])
def test_avatar_of_another_type_is_415(api, stack, new_user, name, data):
    alice = new_user("avx")
    before = stored_names(stack)
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", (name, data, "image/png"))])
    assert_problem(r, 415, "unsupported_file_type")
    assert_nothing_stored(stack, alice, before)
    assert api.get("/api/users/me", token=alice).json()["avatar_url"] is None


def test_avatar_over_5_mib_is_413(api, stack, new_user):
    alice = new_user("avbig")
    before = stored_names(stack)
    big = png(pad=5 * MiB)
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("big.png", big, "image/png"))])
    assert_problem(r, 413)
    assert_nothing_stored(stack, alice, before)
    ok = png(pad=5 * MiB - len(png()) - 16)
    assert len(ok) == 5 * MiB
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("ok.png", ok, "image/png"))])
    assert r.status_code == 200, r.text


def test_avatar_body_far_over_the_limit_is_a_413_problem_from_nginx(api, stack, new_user):
    alice = new_user("avhuge")
    before = stored_names(stack)
    r = api.put("/api/users/me/avatar", token=alice,
                files=[("file", ("huge.png", png(pad=8 * MiB), "image/png"))])
    assert_problem(r, 413)
    assert_nothing_stored(stack, alice, before)


def test_avatar_delete(api, stack, new_user):
    alice = new_user("avdel")
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("me.png", png(), "image/png"))])
    url = r.json()["avatar_url"]
    key = stack.psql("SELECT storage_key FROM files WHERE uploader_id = %s", alice["user"]["id"])[0][0]
    assert key in stored_names(stack)
    r = api.delete("/api/users/me/avatar", token=alice)
    assert r.status_code == 200, r.text
    assert r.json()["avatar_url"] is None
    assert api.get("/api/users/me", token=alice).json()["avatar_url"] is None
    assert key not in stored_names(stack)
    assert file_rows(stack, alice) == []
    assert api.get(url).status_code == 404
    # deleting again is fine
    assert api.delete("/api/users/me/avatar", token=alice).status_code == 200


def test_avatar_needs_a_token(api):
    r = api.put("/api/users/me/avatar", files=[("file", ("me.png", png(), "image/png"))])
    assert_problem(r, 401)
    assert_problem(api.delete("/api/users/me/avatar"), 401)


# ---- cleanup -----------------------------------------------------------------------


def test_unattached_uploads_are_swept_after_24_hours(api, stack, new_user):
    alice = new_user("sweep")
    old, young = upload(api, alice, ("old.txt", TEXT, "text/plain"),
                        ("young.txt", TEXT, "text/plain")).json()["files"]
    stack.psql("UPDATE files SET created_at = now() - interval '25 hours' WHERE id = %s", old["id"])
    old_key = stack.psql("SELECT storage_key FROM files WHERE id = %s", old["id"])[0][0]
    # a temporary file that a crash left behind, two hours old
    leftover = storage(stack) / (".upload-" + "0" * 32)
    leftover.write_bytes(b"half an upload")
    os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    # the files master runs the sweep a few seconds after it starts, then
    # every MSGR_SWEEP_INTERVAL seconds
    with stack.restarted("files", MSGR_SWEEP_INTERVAL=2):
        wait_until(lambda: old_key not in stored_names(stack), timeout=30, message="the sweep")
        wait_until(lambda: not leftover.exists(), timeout=10, message="the temp sweep")
    assert stack.psql("SELECT id FROM files WHERE id = %s", old["id"]) == []
    assert_problem(api.get(old["url"]), 404)
    assert api.get(young["url"]).content == TEXT


# ---- attachments -----------------------------------------------------------------------


def send(api, user, chat_id, **body):
    return api.post(f"/api/chats/{chat_id}/messages", token=user, json=body)


def test_attach_uploads_by_id(api, stack, new_user):
    alice, bob, mallory = new_user("att"), new_user("attb"), new_user("attm")
    chat = direct_chat(api, alice, bob)
    f1, f2 = upload(api, alice, ("one.png", png(), "image/png"), ("two.txt", TEXT, "text/plain")).json()["files"]
    r = send(api, alice, chat["id"], text="see these", attachment_ids=[f1["id"], f2["id"]])
    assert r.status_code == 201, r.text
    msg = r.json()
    # in order, as File objects with fresh signed URLs
    assert [a["id"] for a in msg["attachments"]] == [f1["id"], f2["id"]]
    assert [a["name"] for a in msg["attachments"]] == ["one.png", "two.txt"]
    assert all(SIGNED_URL.match(a["url"]) for a in msg["attachments"])
    # the history shows them to the other member
    hist = api.get(f"/api/chats/{chat['id']}/messages", token=bob).json()["messages"]
    shown = next(m for m in hist if m["id"] == msg["id"])
    assert [a["id"] for a in shown["attachments"]] == [f1["id"], f2["id"]]
    # a member reads them with a token or the signed URL; a stranger cannot
    r = api.get(f"/api/files/{f1['id']}", token=bob)
    assert r.status_code == 200 and r.content == png()
    assert api.get(shown["attachments"][1]["url"]).content == TEXT
    assert_problem(api.get(f"/api/files/{f1['id']}", token=mallory), 404)
    # an attachment only without text is a message too
    (f3,) = upload(api, alice, ("three.gif", GIF, "image/gif")).json()["files"]
    r = send(api, alice, chat["id"], attachment_ids=[f3["id"]])
    assert r.status_code == 201, r.text
    assert r.json()["text"] == "" and len(r.json()["attachments"]) == 1


def test_attach_refuses_what_is_not_an_unattached_upload_of_the_sender(api, stack, new_user):
    alice, bob = new_user("attx"), new_user("atty")
    chat = direct_chat(api, alice, bob)
    (mine,) = upload(api, alice, ("a.txt", TEXT, "text/plain")).json()["files"]
    (theirs,) = upload(api, bob, ("b.txt", TEXT, "text/plain")).json()["files"]
    avatar = api.put("/api/users/me/avatar", token=alice, files=[("file", ("me.png", png(), "image/png"))])
    avatar_id = stack.psql("SELECT avatar_file_id FROM users WHERE id = %s", alice["user"]["id"])[0][0]
    assert avatar.status_code == 200
    count = stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s", chat["id"])[0][0]
    for ids in ([theirs["id"]], [999999999], [mine["id"], theirs["id"]], [avatar_id]):
        body = assert_problem(send(api, alice, chat["id"], text="x", attachment_ids=ids), 422)
        assert "attachment_ids" in body["errors"], body
    # eleven is over the limit
    many = upload(api, alice, *[(f"{i}.txt", TEXT, "text/plain") for i in range(10)]).json()["files"]
    body = assert_problem(send(api, alice, chat["id"], text="x",
                               attachment_ids=[f["id"] for f in many] + [mine["id"]]), 422)
    assert "attachment_ids" in body["errors"]
    # nothing was sent, nothing attached
    assert stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s", chat["id"])[0][0] == count
    assert stack.psql("SELECT count(*) FROM files WHERE uploader_id = %s AND message_id IS NOT NULL",
                      alice["user"]["id"])[0][0] == 0
    # attached once, never twice
    assert send(api, alice, chat["id"], text="first", attachment_ids=[mine["id"]]).status_code == 201
    body = assert_problem(send(api, alice, chat["id"], text="again", attachment_ids=[mine["id"]]), 422)
    assert "attachment_ids" in body["errors"]


def test_multipart_send_with_files(api, stack, new_user):
    alice, bob = new_user("mp"), new_user("mpb")
    chat = direct_chat(api, alice, bob)
    client_id = uuid.uuid4().hex
    parts = [("text", (None, "hello with files")), ("client_id", (None, client_id)),
             ("file", ("pic.png", png(3, 3), "text/plain")), ("file", ("doc.html", HTML, "image/png"))]
    before = set(stored_names(stack))
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice, files=parts)
    assert r.status_code == 201, r.text
    msg = r.json()
    assert msg["text"] == "hello with files" and msg["client_id"] == client_id
    assert [(a["name"], a["mime"]) for a in msg["attachments"]] == [("pic.png", "image/png"),
                                                                     ("doc.html", "text/html")]
    assert len(set(stored_names(stack)) - before) == 2
    r = api.get(msg["attachments"][1]["url"])
    assert r.content == HTML and r.headers["Content-Disposition"].startswith("attachment;")
    assert api.get(f"/api/files/{msg['attachments'][0]['id']}", token=bob).content == png(3, 3)
    # the same client_id again: the first message, and no new file
    stored = stored_names(stack)
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice, files=parts)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == msg["id"]
    assert stored_names(stack) == stored


def test_refused_multipart_send_stores_nothing(api, stack, new_user):
    alice, bob, mallory = new_user("mpx"), new_user("mpy"), new_user("mpz")
    chat = direct_chat(api, alice, bob)
    before = stored_names(stack)
    one = ("file", ("a.txt", TEXT, "text/plain"))
    # a chat the sender is not in
    r = api.post(f"/api/chats/{chat['id']}/messages", token=mallory, files=[("text", (None, "hi")), one])
    assert_problem(r, 404)
    # text over 4000 characters
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice,
                 files=[("text", (None, "x" * 4001)), one])
    assert "text" in assert_problem(r, 422)["errors"]
    # eleven files
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice,
                 files=[("text", (None, "hi"))] + [one] * 11)
    assert_problem(r, 413)
    # a file over 25 MiB
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice,
                 files=[one, ("file", ("big.bin", b"\0" * (25 * MiB + 1), "application/octet-stream"))])
    assert_problem(r, 413, "file_too_large")
    # broken multipart
    body, ctype = multipart([(b'Content-Disposition: form-data; name="file"; filename="a"', TEXT)])
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice, data=body[:-10],
                 headers={"Content-Type": ctype})
    assert_problem(r, 400)
    assert stored_names(stack) == before
    assert file_rows(stack, alice) == [] and file_rows(stack, mallory) == []


def test_deleting_a_message_removes_its_files(api, stack, new_user):
    alice, bob = new_user("del"), new_user("delb")
    chat = direct_chat(api, alice, bob)
    files = upload(api, alice, ("a.txt", TEXT, "text/plain"), ("b.png", png(), "image/png")).json()["files"]
    msg = send(api, alice, chat["id"], text="soon gone", attachment_ids=[f["id"] for f in files]).json()
    keys = [k for (k,) in stack.psql("SELECT storage_key FROM files WHERE message_id = %s", msg["id"])]
    assert len(keys) == 2 and all(k in stored_names(stack) for k in keys)
    r = api.delete(f"/api/messages/{msg['id']}", token=alice)
    assert r.status_code == 204, r.text
    on_disk = stored_names(stack)
    assert not any(k in on_disk for k in keys)
    assert stack.psql("SELECT count(*) FROM files WHERE id = ANY(%s)", [f["id"] for f in files])[0][0] == 0
    for f in files:
        assert_problem(api.get(f["url"]), 404)
        assert_problem(api.get(f"/api/files/{f['id']}", token=alice), 404)
    hist = api.get(f"/api/chats/{chat['id']}/messages", token=bob).json()["messages"]
    gone = next(m for m in hist if m["id"] == msg["id"])
    assert gone["deleted"] is True and gone["attachments"] == []


def test_a_removed_member_loses_access(api, new_user):
    alice, bob = new_user("grp"), new_user("grpb")
    r = api.post("/api/chats", token=alice, json={"type": "group", "title": "files",
                                                   "member_ids": [bob["user"]["id"]]})
    assert r.status_code == 201, r.text
    chat = r.json()
    (f,) = upload(api, alice, ("a.txt", TEXT, "text/plain")).json()["files"]
    assert send(api, alice, chat["id"], text="x", attachment_ids=[f["id"]]).status_code == 201
    assert api.get(f"/api/files/{f['id']}", token=bob).status_code == 200
    r = api.delete(f"/api/chats/{chat['id']}/members/{bob['user']['id']}", token=alice)
    assert r.status_code == 204, r.text
    assert_problem(api.get(f"/api/files/{f['id']}", token=bob), 404)
    # the uploader keeps it
    assert api.get(f"/api/files/{f['id']}", token=alice).status_code == 200


# ---- on an object store (MSGR_TEST_STORAGE=s3; `make test` runs this file so) ----


def test_object_store_holds_the_bytes_and_serves_them_through_nginx(api, stack, new_user):
    if stack.s3 is None:
        pytest.skip("the stack keeps its files in the directory (MSGR_TEST_STORAGE=s3 for the store)")
    alice = new_user("s3")
    data = bytes(range(256)) * 300
    f = upload_one(api, alice, "blob.bin", data)
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", f["id"])[0][0]
    # The object, whole, and nothing of it left in the directory.
    assert stack.s3.request("GET", key) == (200, data)
    assert key not in os.listdir(storage(stack))
    # The bucket is private: only a signed request reads it; the browser
    # gets the bytes from our origin, with our headers, none of the store's.
    assert stack.s3.request("GET", key, signed=False)[0] == 403
    r = api.get(f["url"])
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-Type"] == f["mime"]
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert not [h for h in r.headers if h.lower().startswith("x-amz-")]
    # An object gone from the store is a 404 problem, not the store's XML.
    assert stack.s3.request("DELETE", key)[0] == 204
    assert_problem(api.get(f["url"]), 404, "file_not_found")


def test_object_store_multipart_upload(api, stack, new_user):
    if stack.s3 is None:
        pytest.skip("the stack keeps its files in the directory (MSGR_TEST_STORAGE=s3 for the store)")
    alice = new_user("s3mp")
    # 5 MiB parts (S3's least): 12 MiB and a bit go as three parts, the
    # object appearing only when the upload is completed.
    data = os.urandom(12 * MiB + 12345)
    with stack.restarted("files", MSGR_S3_PART_MB=5):
        f = upload_one(api, alice, "big.bin", data)
        r = api.get(f["url"])
        assert r.status_code == 200 and r.content == data
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", f["id"])[0][0]
    assert stack.s3.request("GET", key) == (200, data)
    log = open(stack.s3.log_path).read()
    assert "partNumber=3" in log and "partNumber=4" not in log
    # Started, and completed (s3rver cannot list open uploads to show none
    # is left; the completion is what makes the object appear at all).
    assert f"POST /{stack.s3.BUCKET}/{key}?uploads=" in log
    assert f"POST /{stack.s3.BUCKET}/{key}?uploadId=" in log
