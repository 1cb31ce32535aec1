"""docs/openapi.yaml stays true to the code: every route the FastCGI
programs dispatch is documented, and nothing documented is missing; it
passes a strict OpenAPI 3.1 validator; and its security requirements say
which operations answer without a token."""

import os
import re
import subprocess

import pytest
import yaml

from helpers import REPO

ROUTE = re.compile(r'\{"(GET|POST|PUT|PATCH|DELETE|HEAD)", "(/api/[^"]*|/metrics)"')


def routes_in_code():
    found = set()
    for source in (REPO / "fcgi").glob("*/*.c"):
        for method, path in ROUTE.findall(source.read_text()):
            if method != "HEAD":  # HEAD is GET without a body; OpenAPI implies it
                found.add((method.lower(), path))
    return found


def routes_in_openapi():
    doc = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
    assert doc["openapi"].startswith("3.1")
    methods = {"get", "post", "put", "patch", "delete"}
    return {(m, path) for path, item in doc["paths"].items() for m in item if m in methods}


def test_every_route_is_documented_and_nothing_more():
    code = routes_in_code()
    assert len(code) >= 27, code  # the parser above still finds the tables
    documented = routes_in_openapi()
    assert code - documented == set(), "routes missing from docs/openapi.yaml"
    assert documented - code == set(), "documented routes no program serves"


def test_every_operation_documents_its_responses():
    doc = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                assert op.get("responses"), (method, path)
                assert any(code.startswith("2") for code in map(str, op["responses"])), (method, path)


# ---- a strict validator ---------------------------------------------------
# Redocly's lint with its strictest ruleset (tools/openapi/redocly.yaml and
# the justified exceptions in tools/openapi/.redocly.lint-ignore.yaml),
# installed by scripts/deps.sh from tools/openapi/package-lock.json. It must
# not reach the network: telemetry and the update check are off.

LINT_DIR = REPO / "tools" / "openapi"
REDOCLY = LINT_DIR / "node_modules" / ".bin" / "redocly"
OFFLINE = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
           "REDOCLY_SUPPRESS_NOTIFICATIONS": "true"}


def test_openapi_passes_a_strict_validator():
    if not REDOCLY.exists():
        pytest.fail(f"{REDOCLY} does not exist: run scripts/deps.sh test (make test does)")
    r = subprocess.run([str(REDOCLY), "lint", "--config", str(LINT_DIR / "redocly.yaml"),
                        "--format", "codeframe", str(REPO / "docs" / "openapi.yaml")],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, **OFFLINE, "NO_COLOR": "1"})
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # Every rule of the set is an error; a warning would be a rule set to
    # warn by hand, which the config must not do either, or a config problem
    # ("[WARNING] Unused rules found": a misspelt rule that checks nothing).
    assert "valid" in out and not re.search(r"\b\d+ (errors?|warnings?)\b", out), out
    assert "WARNING" not in out.upper(), out


def operations():
    doc = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
    methods = {"get", "post", "put", "patch", "delete"}
    return [(m, path, op) for path, item in doc["paths"].items()
            for m, op in item.items() if m in methods]


def test_operation_ids_are_unique_and_camel_case():
    ids = [op.get("operationId") for _, _, op in operations()]
    assert all(isinstance(i, str) and re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", i) for i in ids), ids
    assert len(set(ids)) == len(ids), ids


def example(path):
    return re.sub(r"\{emoji\}", "%F0%9F%91%8D", re.sub(r"\{[a-z_]*id\}", "7", path))


def test_security_says_which_operations_need_a_token(api):
    """Asked without any credential, an operation documented with a required
    scheme (no {} among its security alternatives) answers 401, and one that
    may be called without (security: [] or a {} alternative) never does."""
    public = []
    for method, path, op in operations():
        security = op.get("security")
        assert security is not None, (method, path, "no security")
        r = api.request(method.upper(), example(path))
        if security == [] or {} in security:
            public.append(path)
            assert r.status_code != 401, (method, path, r.status_code, r.text)
        else:
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path)
    assert "/api/auth/login" in public and "/api/health" in public
