"""The unit tests of the event loop's database link (tests/unit/test_pglink.c,
shared/pglink.h) need a database: `make unit` runs them without one (they
say so and pass), and this runs them against the test stack's, so that
`make test` cannot skip them."""

import os
import re
import subprocess

import pytest

from helpers import REPO


def test_pglink_unit_tests_run_against_the_stack_database(stack):
    binary = REPO / "build-asan" / "tests" / "test_pglink"
    if not binary.exists():
        pytest.fail(f"{binary} does not exist: run `make unit-build` first")
    env = dict(os.environ)
    env.update(
        MSGR_DATABASE_URL=f"host={stack.var / 'run'} dbname=messenger user={stack.db_superuser}",
        MSGR_SECRET_FILE=str(stack.var / "secret"),
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
        UBSAN_OPTIONS="print_stacktrace=1",
    )
    r = subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=180)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "skipped" not in out, out
    assert re.search(r"unit test_pglink: [1-9]\d* passed, 0 failed", out), out
