"""Runs tests/unit/markdown_test.mjs (node's own test runner) on the web
app's Markdown parser. www/js has no package.json (nginx serves it as it
is), so the module and the test are copied beside one that makes them ES
modules for node; node is already there for the OpenAPI linter
(scripts/deps.sh)."""

import shutil
import subprocess

from helpers import REPO


def test_markdown_parser(tmp_path):
    node = shutil.which("node")
    assert node, "node is missing: scripts/deps.sh installs it"
    for name in ("markdown.js", "dom.js"):
        shutil.copy(REPO / "www" / "js" / name, tmp_path / name)
    shutil.copy(REPO / "tests" / "unit" / "markdown_test.mjs", tmp_path / "markdown_test.mjs")
    (tmp_path / "package.json").write_text('{"type": "module"}\n')
    r = subprocess.run([node, "--test", "markdown_test.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
