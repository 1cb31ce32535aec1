"""Runs tests/unit/i18n_test.mjs (node's own test runner) on the web app's
catalogues (www/i18n/*.json) and www/js/i18n.js: every key the code uses
is in every catalogue, the catalogues have the same keys, plurals have the
forms of their language. node is there for the OpenAPI linter
(scripts/deps.sh)."""

import os
import shutil
import subprocess

from helpers import REPO


def test_catalogues(tmp_path):
    node = shutil.which("node")
    assert node, "node is missing: scripts/deps.sh installs it"
    # www has no package.json: the test runs beside one that makes .js ES
    # modules for node, on a copy of www.
    shutil.copytree(REPO / "www", tmp_path / "www")
    (tmp_path / "www" / "package.json").write_text('{"type": "module"}\n')
    shutil.copy(REPO / "tests" / "unit" / "i18n_test.mjs", tmp_path / "i18n_test.mjs")
    env = {**os.environ, "MSGR_WWW": str(tmp_path / "www")}
    r = subprocess.run([node, "--test", "i18n_test.mjs"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
