"""docs/openapi.yaml stays true to the code: every route the FastCGI
programs dispatch is documented, and nothing documented is missing."""

import re

import yaml

from helpers import REPO

ROUTE = re.compile(r'\{"(GET|POST|PUT|PATCH|DELETE|HEAD)", "(/api/[^"]*)"')


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
