"""Fixtures of the integration tests (run: /usr/bin/python3 -m pytest tests/).

Unless MSGR_TEST_URL names a running messenger, one stack is started for the
whole session with scripts/stack.sh from build-asan/bin (MSGR_TEST_BIN to
change), on a free port and a temporary state directory, PG_FAST=1, two
workers per program and the limits in helpers.TEST_ENV. At the end it is
stopped, and the session fails (an error at teardown) when a process was
left behind or a sanitizer wrote a report (var/log/asan.*, ubsan.*).

    stack      the Stack (helpers.py): base_url, ws_url, origin, var, port,
               psql(sql, *params), restart(name, **env), restarted(...),
               restart_db(), log(name)
    base_url   "http://127.0.0.1:PORT"
    api        an Api (helpers.py): get/post/patch/put/delete(path, token=, json=)
    new_user   new_user(prefix="u", password=None, display_name=None) ->
               {"user", "access_token", "refresh_token", "password", ...}
"""

import os
import signal

import pytest

from helpers import Api, Stack, bin_dir_under_test

_start_errors = []


def pytest_sessionstart(session):
    # SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C does, so that
    # the stack's teardown still runs.
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def pytest_terminal_summary(terminalreporter):
    for text in _start_errors:
        terminalreporter.section("stack start failed", red=True)
        terminalreporter.write_line(text)


@pytest.fixture(scope="session")
def stack():
    url = os.environ.get("MSGR_TEST_URL")
    if url:
        yield Stack(url)
        return
    bin_dir = bin_dir_under_test()
    if not os.path.exists(os.path.join(bin_dir, "auth")):
        pytest.fail(f"{bin_dir}/auth does not exist: run `make asan` first (or set MSGR_TEST_BIN)")
    try:
        s = Stack.start_local(bin_dir)
    except RuntimeError as e:
        _start_errors.append(str(e))
        s = None
    if s is None:
        # Every test that needs the stack errors; why is said once, at the
        # end (pytest_terminal_summary).
        pytest.fail("the stack did not start: see 'stack start failed' below", pytrace=False)
    try:
        yield s
    finally:
        s.shutdown_or_fail()


@pytest.fixture(scope="session")
def base_url(stack):
    return stack.base_url


@pytest.fixture(scope="session")
def api(stack):
    return Api(stack.base_url)


@pytest.fixture(scope="session")
def new_user(api):
    return api.new_user
