"""The S3-compatible server of the test stack (helpers.S3Server,
tools/s3/serve.js): before the files suite trusts it, it must behave as a
private bucket on AWS S3 or MinIO would, or a test on it could not fail:
unsigned requests and wrong signatures are refused, signed ones (by
libcurl's SigV4, as the programs sign) store, list and delete objects.
It needs no messenger stack."""

import subprocess

import pytest

from helpers import S3Server, wait_until


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path / "s3")
    yield server
    server.stop()


def test_signed_requests_store_list_and_delete(s3):
    assert s3.request("PUT", "ab/cdef", data=b"hello\x00world") == (200, b"")
    assert s3.request("GET", "ab/cdef") == (200, b"hello\x00world")
    assert s3.keys("ab/") == ["ab/cdef"]
    assert s3.keys("zz/") == []
    assert s3.request("DELETE", "ab/cdef")[0] == 204
    assert s3.request("GET", "ab/cdef")[0] == 404
    assert s3.keys() == []


def test_unsigned_and_wrongly_signed_requests_are_refused(s3):
    assert s3.request("PUT", "k", data=b"x")[0] == 200
    # The bucket is private: the browser can never read the store itself.
    assert s3.request("GET", "k", signed=False)[0] == 403
    assert s3.request("PUT", "k2", data=b"x", signed=False)[0] == 403
    assert s3.request("GET", "k", secret="not-the-secret")[0] == 403
    assert s3.request("DELETE", "k", secret="not-the-secret")[0] == 403
    assert s3.request("GET", "k") == (200, b"x")
    assert "signature does not match" in open(s3.log_path).read()


def test_the_server_stops_with_its_owner(s3):
    pid = s3._proc.pid
    s3.stop()
    with pytest.raises(subprocess.CalledProcessError):
        # Connection refused: curl exits non-zero.
        s3.request("GET", "k")
    wait_until(lambda: not _alive(pid), message="s3 server gone")


def _alive(pid):
    import os

    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
