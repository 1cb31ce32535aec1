"""wsd: WebSockets per user (issue 18: one user opened 1,500 WebSockets in
0.8 s). MSGR_WS_MAX_PER_USER (default 20) authenticated connections of one
user per wsd process; the next is closed with 4429."""

import time

import pytest

from ws_client import Closed


def test_the_21st_connection_of_a_user_is_closed_4429(ws, new_user):
    alice, bob = new_user("wsmax"), new_user("wsmaxb")
    conns = [ws() for _ in range(20)]
    for c in conns:
        assert c.auth(alice)["user_id"] == alice["user"]["id"]
    extra = ws()
    extra.send({"type": "auth", "token": alice["access_token"]})
    assert extra.wait_closed() == (4429, "too many connections")
    # the 20 stay open
    conns[-1].send({"type": "ping"})
    assert conns[-1].wait_for(lambda f: f["type"] == "pong")
    # another user is not affected
    assert ws().auth(bob)["user_id"] == bob["user"]["id"]
    # once one closes, there is room again (when wsd has seen it go)
    conns[0].close()
    with pytest.raises(Closed):
        conns[0].recv(0.1)
    deadline = time.monotonic() + 5
    while True:
        again = ws()
        try:
            assert again.auth(alice)["user_id"] == alice["user"]["id"]
            break
        except Closed as e:
            assert e.code == 4429 and time.monotonic() < deadline
            time.sleep(0.2)
