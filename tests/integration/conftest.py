"""Fixtures of the integration tests beyond tests/conftest.py's stack."""

import pytest

from ws_client import WsClient


@pytest.fixture
def ws(stack):
    """Opens WebSockets to wsd through nginx (with the app's Origin unless
    told otherwise) and closes whatever the test left open."""
    clients = []

    def open_(origin=True, **kw):
        c = WsClient.open(stack.ws_url, origin=stack.origin if origin is True else origin, **kw)
        clients.append(c)
        return c

    yield open_
    for c in clients:
        c.close()
