"""API.md "Operations": /api/health/ready, X-Request-Id end to end,
/metrics (Prometheus text format, this machine only), MSGR_LOG_FORMAT=json
and log rotation (deploy/logrotate.conf), on the real stack."""

import http.client
import json
import os
import re
import signal
import subprocess
import time

import pytest

from chatkit import direct, send
from helpers import REPO, wait_until
from test_loop_database_away import allow_connections
from ws_client import WsClient

CHECKS = {"database", "auth", "chats", "messages", "messages_loop", "files", "wsd"}
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def ready(api):
    return api.get("/api/health/ready")


# ---- /api/health/ready ---------------------------------------------------------


def test_ready_when_every_part_answers(api):
    r = ready(api)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"] == {name: "ok" for name in CHECKS}
    # liveness stays what it was
    assert api.get("/api/health").json() == {"status": "ok"}


def program_group(stack, name):
    """The process group of a program (its master leads its session)."""
    return int((stack.var / "run" / f"{name}.pid").read_text().strip())


@pytest.mark.parametrize("name,check", [("chats", "chats"), ("wsd", "wsd")])
def test_ready_names_what_does_not_answer(stack, api, name, check):
    """A program that accepts but does not answer (stopped) makes ready
    503 within the probe budget, naming it; answering again, 200."""
    stack._need_local()
    pgid = program_group(stack, name)
    os.killpg(pgid, signal.SIGSTOP)
    try:
        time.sleep(1.1)  # past each auth worker's last answer
        start = time.monotonic()
        r = ready(api)
        took = time.monotonic() - start
    finally:
        os.killpg(pgid, signal.SIGCONT)
    assert r.status_code == 503, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    p = r.json()
    assert p["code"] == "not_ready"
    assert check in p["detail"]
    assert p["checks"][check] == "no answer within 1 s"
    assert {k for k, v in p["checks"].items() if v != "ok"} == {check}
    assert GENERATED_ID.match(p["request_id"])
    assert took < 3, f"ready took {took:.1f}s with {name} stopped"
    wait_until(lambda: ready(api).status_code == 200, timeout=10, message="ready again")


def test_database_away_is_counted_and_not_ready(stack, api, new_user):
    """auth's workers lose their sessions and cannot connect again: a
    request is answered 503, counted as a database error, and readiness
    names the database; once it takes connections, ready again."""
    stack._need_local()
    alice = new_user("dbaway")
    before = value(metrics(api), "msgr_database_errors_total", program="auth")
    stack.psql("SELECT 1")  # the test's own session, before new ones are refused
    allow_connections(stack, False)
    try:
        stack.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE application_name LIKE %s", "auth[%")
        r = api.get("/api/users/me", token=alice)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "database_unavailable"
        time.sleep(1.1)  # past each auth worker's last readiness answer
        r = ready(api)
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["database"] == "does not answer"
    finally:
        allow_connections(stack, True)
    assert value(metrics(api), "msgr_database_errors_total", program="auth") > before
    wait_until(lambda: ready(api).status_code == 200, timeout=10, message="ready again")


# ---- X-Request-Id --------------------------------------------------------------


def test_request_id_is_on_every_answer_and_in_problem_documents(api, new_user):
    alice = new_user("rid")
    rid = "client-Id_1.2"
    cases = [
        ("GET", "/api/users/me", alice, 200, None),  # a program's answer
        ("GET", "/api/users/me", None, 401, "program"),  # a program's problem
        ("GET", "/api/nothing/here", None, 404, "nginx"),  # nginx's own problem
        ("GET", "/", None, 200, None),  # the web app
    ]
    for method, path, token, status, problem in cases:
        r = api.request(method, path, token=token, headers={"X-Request-Id": rid})
        assert r.status_code == status, (path, r.text)
        assert r.headers.get("X-Request-Id") == rid, path
        if problem:
            assert r.json()["request_id"] == rid, (path, r.text)
    # the loop's path (the messages companion) too
    bob = new_user("rid")
    chat = direct(api, alice, bob)
    r = api.post(f"/api/chats/{chat['id']}/messages", token=alice, json={"text": ""},
                 headers={"X-Request-Id": rid})
    assert r.status_code == 422, r.text
    assert r.headers["X-Request-Id"] == rid
    assert r.json()["request_id"] == rid


@pytest.mark.parametrize("sent", ["", "has space", "x" * 65, "semi;colon", "é"])
def test_an_unsafe_request_id_is_replaced_by_nginx_own(api, sent):
    r = api.get("/api/users/me", headers={"X-Request-Id": sent.encode()})
    assert r.status_code == 401
    got = r.headers["X-Request-Id"]
    assert GENERATED_ID.match(got), got
    assert r.json()["request_id"] == got


def test_request_id_is_logged_by_the_program_and_nginx(stack, api):
    stack._need_local()
    rid = f"logged-{time.time_ns()}"
    r = api.get("/api/users/7", headers={"X-Request-Id": rid})
    assert r.status_code == 401
    wait_until(lambda: f"GET /api/users/7 401" in stack.log("auth") and f"request_id={rid}"
               in stack.log("auth"), message="auth's request line")
    line = next(ln for ln in stack.log("auth").splitlines() if rid in ln)
    assert "GET /api/users/7 401" in line
    # nginx's access log is buffered (flush=1s)
    wait_until(lambda: f"rid={rid}" in stack.log("nginx-access"), timeout=5,
               message="nginx's access line")


# ---- /metrics -------------------------------------------------------------------


SAMPLE = re.compile(r"^([a-z_]+)(\{.*\})? (\S+)$")


def metrics(api):
    r = api.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in r.text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    """The sample whose labels include these (0 when there is none)."""
    found = 0.0
    for key, v in samples.items():
        if not key.startswith(name + "{"):
            continue
        if all(f'{k}="{val}"' in key for k, val in labels.items()):
            found += v
    return found


def test_requests_are_counted_by_route_and_status(api):
    before = metrics(api)
    for _ in range(3):
        assert api.get("/api/users/me").status_code == 401
    assert api.get("/api/users/12345").status_code == 401
    after = metrics(api)
    labels = dict(program="auth", method="GET", route="/api/users/me")
    assert value(after, "msgr_http_requests_total", status="401", **labels) - value(
        before, "msgr_http_requests_total", status="401", **labels) == 3
    assert value(after, "msgr_http_request_duration_seconds_count", **labels) - value(
        before, "msgr_http_request_duration_seconds_count", **labels) == 3
    inf = value(after, "msgr_http_request_duration_seconds_bucket", le="+Inf", **labels)
    assert inf == value(after, "msgr_http_request_duration_seconds_count", **labels)
    one = dict(program="auth", method="GET", route="/api/users/{user_id}", status="401")
    assert value(after, "msgr_http_requests_total", **one) - value(
        before, "msgr_http_requests_total", **one) == 1
    # the other programs' files are read too
    for program in ("chats", "messages", "files", "wsd"):
        assert f'msgr_database_errors_total{{program="{program}"}}' in after


def test_websockets_events_lag_and_batches(stack, api, new_user):
    alice, bob = new_user("met"), new_user("met")
    chat = direct(api, alice, bob)
    before = metrics(api)
    c = WsClient.open(stack.ws_url, origin=stack.origin)
    try:
        c.auth(bob)
        opened = metrics(api)
        assert value(opened, "msgr_websocket_connections") == value(
            before, "msgr_websocket_connections") + 1
        send(api, alice, chat["id"], "counted")  # JSON: the companion's batch
        c.wait_for(lambda f: f["type"] == "message.created")
        assert api.get(f"/api/chats/{chat['id']}/messages", token=alice).status_code == 200

        def moved():
            now = metrics(api)
            return now if value(now, "msgr_events_delivered_total") > value(
                before, "msgr_events_delivered_total") else None
        after = wait_until(moved, message="events delivered to move")
        assert value(after, "msgr_event_delivery_lag_seconds_count") > value(
            before, "msgr_event_delivery_lag_seconds_count")
        for kind in ("send", "history"):
            assert value(after, "msgr_companion_batch_size_count", kind=kind) > value(
                before, "msgr_companion_batch_size_count", kind=kind), kind
    finally:
        c.close()
    wait_until(lambda: value(metrics(api), "msgr_websocket_connections") == value(
        before, "msgr_websocket_connections"), message="the gauge to come down")


def get_from(port, source, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_metrics_are_refused_to_another_address(stack):
    """nginx sees 127.0.0.2 as the client (a loopback address that is not
    127.0.0.1): refused, while the same request from 127.0.0.1 passes."""
    stack._need_local()
    status, headers, body = get_from(stack.port, "127.0.0.2", "/metrics")
    assert status == 403, body
    assert headers["Content-Type"] == "application/problem+json"
    p = json.loads(body)
    assert p["code"] == "metrics_forbidden"
    assert p["request_id"] == headers["X-Request-Id"]
    # what the test rests on: 127.0.0.2 itself is let through elsewhere
    status, _, _ = get_from(stack.port, "127.0.0.2", "/api/health")
    assert status == 200
    status, _, body = get_from(stack.port, "127.0.0.1", "/metrics")
    assert status == 200 and b"msgr_http_requests_total" in body


# ---- MSGR_LOG_FORMAT=json --------------------------------------------------------


def test_json_logs(stack, api):
    stack._need_local()
    rid = f"json-{time.time_ns()}"
    with stack.restarted("auth", MSGR_LOG_FORMAT="json"):
        wait_until(lambda: api.get("/api/health").status_code == 200, message="auth back")
        assert api.get("/api/users/me", headers={"X-Request-Id": rid}).status_code == 401

        def logged():
            for ln in stack.log("auth").splitlines():
                if rid in ln:
                    return json.loads(ln)
            return None
        entry = wait_until(logged, message="the JSON request line")
    assert entry["request_id"] == rid
    assert entry["program"] == "auth" and entry["level"] == "info"
    assert entry["method"] == "GET" and entry["path"] == "/api/users/me"
    assert entry["status"] == 401 and entry["user_id"] == 0
    assert isinstance(entry["pid"], int) and isinstance(entry["duration_ms"], float)


# ---- log rotation -----------------------------------------------------------------


def test_logrotate_keeps_every_program_logging(stack, api, tmp_path):
    """deploy/logrotate.conf, rendered for this stack, run by logrotate
    itself: the logs are rotated, and what the programs and nginx write
    next is in the new files."""
    stack._need_local()
    logrotate = "/usr/sbin/logrotate"
    if not os.path.exists(logrotate):
        pytest.fail("logrotate is not installed: scripts/deps.sh test")
    conf = tmp_path / "messenger.logrotate"
    conf.write_text((REPO / "deploy" / "logrotate.conf").read_text().replace(
        "@VAR@", str(stack.var)))
    out = subprocess.run([logrotate, "-f", "-s", str(tmp_path / "state"), str(conf)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    log = stack.var / "log"
    for name in ("auth", "nginx-access"):
        assert (log / f"{name}.log.1").exists(), sorted(os.listdir(log))
    rid = f"rotated-{time.time_ns()}"
    assert api.get("/api/users/me", headers={"X-Request-Id": rid}).status_code == 401
    wait_until(lambda: rid in (log / "auth.log").read_text(), message="auth in its new log")
    wait_until(lambda: rid in (log / "nginx-access.log").read_text(), timeout=5,
               message="nginx in its new log")
    assert rid not in (log / "auth.log.1").read_text()
    # copytruncate leaves no hole of NULs where the old end was
    assert "\0" not in (log / "auth.log").read_text()
