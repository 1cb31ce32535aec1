"""Fixtures of the browser tests: Chromium (Debian's, under Selenium) against
the same stack as the integration tests (tests/conftest.py).

    browser(width=1280, height=800, dark=False) -> Browser
        a fresh Chromium with its own profile; quit at the end of the test,
        which fails when the page logged a SEVERE console message other than
        those the test allowed with browser.allow("substring").
"""

import os
import shutil

import pytest

from browser import Browser

pytestmark = []


def _have_chromium():
    return shutil.which("chromium") and shutil.which("chromedriver")


@pytest.fixture
def browser(stack):
    if not _have_chromium():
        pytest.skip("chromium and chromedriver are not installed (scripts/deps.sh test)")
    made = []

    def make(width=1280, height=800, dark=False, mobile=False, lang="en-US"):
        b = Browser(stack.base_url, width=width, height=height, dark=dark, mobile=mobile, lang=lang)
        # The profile asks for the export of the account's data, which is
        # 404 export_not_found until one is asked for (exportdata.js).
        b.allowed = ["api/users/me/export - Failed to load resource: the server responded with a status of 404"]
        b.allow = b.allowed.append
        made.append(b)
        return b

    yield make
    problems = []
    for b in made:
        try:
            for e in b.severe_logs(allow=b.allowed):
                problems.append(e.get("message", str(e)))
        finally:
            b.quit()
    assert not problems, "console errors:\n" + "\n".join(problems)


@pytest.fixture
def out_dir(tmp_path):
    """Where screenshots go: docs/screenshots with MSGR_SCREENSHOTS=1."""
    if os.environ.get("MSGR_SCREENSHOTS") == "1":
        from helpers import REPO

        d = REPO / "docs" / "screenshots"
        d.mkdir(parents=True, exist_ok=True)
        return d
    return tmp_path
