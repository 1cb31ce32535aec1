"""docker-compose.yml is consistent with the repository (no Docker engine
needed): every command exists and is executable, every program it runs is
one the Makefile builds, and volumes, sockets and ports line up. Read as
compose reads it with no variable set (the defaults); test_compose_run.py
runs the services."""

import os
import re
import shlex
from pathlib import Path

import pytest

from composekit import load_compose

REPO = Path(__file__).resolve().parents[2]
WORKDIR = "/app"  # docker/Dockerfile: WORKDIR /app, COPY . .


@pytest.fixture(scope="module")
def compose():
    # Every service, the mail profile's too: each is checked below.
    return load_compose({}, profiles=("mail",))


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def argv(command):
    return shlex.split(command) if isinstance(command, str) else list(command)


def repo_path(path):
    """A path inside the image mapped back to the checkout."""
    if path.startswith(WORKDIR + "/"):
        path = path[len(WORKDIR) + 1 :]
    return None if path.startswith("/") else REPO / path


def mounts(service):
    """{target: (source, read_only)} of a service's volumes."""
    out = {}
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out[v["target"]] = (v.get("source"), v.get("read_only", False))
            continue
        parts = v.split(":")
        out[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
    return out


def built_programs():
    """What `make all` puts in build/bin: one program per fcgi/ directory
    with C sources, wsd and the mailer."""
    progs = {d.name for d in (REPO / "fcgi").iterdir() if d.is_dir()}
    progs |= {"wsd", "mailer"}
    return progs


def test_expected_services(services):
    assert {"postgres", "app", "wsd", "nginx"} <= set(services)


def test_one_image_built_from_the_dockerfile(services):
    images = {s.get("image") for s in services.values()}
    assert len(images) == 1, images
    for name, s in services.items():
        build = s.get("build")
        assert build, f"{name}: no build section"
        dockerfile = REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"


def test_dockerfile_uses_deps_and_make():
    text = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM debian:12\b", text, re.M)
    assert "scripts/deps.sh" in text and (REPO / "scripts" / "deps.sh").is_file()
    assert re.search(r"\bmake\b.*\ball\b", text)
    assert re.search(r"^WORKDIR /app$", text, re.M)
    ignore = (REPO / ".dockerignore").read_text().split()
    for d in ("build", "build-asan", "var", ".git"):
        assert d in ignore, f".dockerignore should leave out {d}"


def test_commands_are_executable(services):
    for name, s in services.items():
        cmd = argv(s.get("command") or [])
        assert cmd, f"{name}: no command"
        path = repo_path(cmd[0])
        if path is None:
            assert os.access(cmd[0], os.X_OK), f"{name}: {cmd[0]} is not an executable here"
        else:
            assert path.is_file(), f"{name}: {cmd[0]} is not in the repository"
            assert os.access(path, os.X_OK), f"{name}: {cmd[0]} is not executable"


def test_container_roles_exist(services):
    script = (REPO / "scripts" / "container.sh").read_text()
    roles = set(re.findall(r"^([a-z]+)\)$", script, re.M))
    for name, s in services.items():
        cmd = argv(s["command"])
        if cmd[0].endswith("container.sh"):
            assert len(cmd) == 2 and cmd[1] in roles, f"{name}: role {cmd[1:]} not in {roles}"


def test_programs_run_are_built(services):
    script = (REPO / "scripts" / "container.sh").read_text()
    named = set(re.findall(r"\$BIN/(\w+)", script))
    named |= set(re.search(r"for prog in ([\w ]+); do", script).group(1).split())
    named.discard("prog")
    assert named, "container.sh runs no program?"
    assert named <= built_programs(), named - built_programs()
    assert {"auth", "chats", "messages", "files", "wsd"} <= named
    makefile = (REPO / "Makefile").read_text()
    assert "build/bin/" in makefile and "fcgi/*/" in makefile


def test_healthchecks_are_executable(services):
    for name, s in services.items():
        test = s.get("healthcheck", {}).get("test")
        if not test:
            continue
        cmd = argv(test)
        if cmd[0] in ("CMD", "CMD-SHELL"):
            cmd = cmd[1:] if cmd[0] == "CMD" else shlex.split(cmd[1])
        path = repo_path(cmd[0]) or Path(cmd[0])
        assert os.access(path, os.X_OK), f"{name}: healthcheck {cmd[0]} missing"
        if path.name == "container.sh":
            # `container.sh health SERVICE`: a service the script checks.
            script = path.read_text()
            checked = re.search(r"^health\(\) \{\n(.*?)^\}", script, re.M | re.S).group(1)
            assert cmd[1] == "health" and re.search(rf"^\t{cmd[2]}\)$", checked, re.M), cmd


def test_volumes_declared_and_used(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, s in services.items():
        for target, (source, _) in mounts(s).items():
            assert source, f"{name}: anonymous volume at {target}"
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name}: bind mount {source} missing"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert declared == used, f"declared but unused: {declared - used}"


def test_each_volume_has_one_mount_point(services):
    where = {}
    for name, s in services.items():
        for target, (source, _) in mounts(s).items():
            where.setdefault(source, set()).add(target)
    for source, targets in where.items():
        assert len(targets) == 1, f"volume {source} mounted at {targets}"


def test_sockets_are_shared(services):
    # Every service talks over the sockets in MSGR_RUN_DIR.
    for name, s in services.items():
        env = s.get("environment") or {}
        run_dir = env.get("MSGR_RUN_DIR")
        assert run_dir, f"{name}: no MSGR_RUN_DIR"
        assert run_dir in mounts(s), f"{name}: {run_dir} is not a shared volume"
        url = env.get("MSGR_DATABASE_URL", "")
        assert f"host={run_dir}" in url, f"{name}: database not reached through {run_dir}"
    sources = {mounts(s)[s["environment"]["MSGR_RUN_DIR"]][0] for s in services.values()}
    assert len(sources) == 1, sources


def test_state_paths_are_mounted(services):
    need = {
        "app": ["MSGR_SECRET_FILE", "MSGR_STORAGE_DIR"],
        "wsd": ["MSGR_SECRET_FILE"],
        "nginx": ["MSGR_STORAGE_DIR"],
        "mailer": ["MSGR_SECRET_FILE"],
    }
    writable = {"app": ["MSGR_STORAGE_DIR"]}
    for name, keys in need.items():
        s = services[name]
        m = mounts(s)
        for key in keys:
            path = s["environment"][key]
            covering = [t for t in m if path == t or path.startswith(t.rstrip("/") + "/")]
            assert covering, f"{name}: {key}={path} is on no volume"
            if key in writable.get(name, []):
                assert not m[covering[0]][1], f"{name}: {path} must be writable"
    init = services["init"]
    secret = init["environment"]["MSGR_SECRET_FILE"]
    assert any(secret.startswith(t + "/") and not ro for t, (_, ro) in mounts(init).items())


def test_ports(services):
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert list(published) == ["nginx"], "only nginx is published"
    nginx = services["nginx"]
    port = str(nginx["environment"]["PORT"])
    for p in published["nginx"]:
        container = str(p).split(":")[-1].split("/")[0]
        assert container == port, f"nginx listens on {port}, compose maps {p}"
    public = nginx["environment"]["MSGR_PUBLIC_URL"]
    host_ports = [str(p).split(":")[-2] for p in published["nginx"]]
    assert public.endswith(":" + host_ports[0]), (public, host_ports)
    # Only this machine by default: publishing to the network is a choice.
    for p in published["nginx"]:
        assert str(p).startswith("127.0.0.1:"), p


def test_postgres_stops_with_its_fast_shutdown(services):
    # SIGTERM is PostgreSQL's smart shutdown, which waits for every session.
    pg = services["postgres"]
    assert pg["stop_signal"] == "SIGINT"
    grace = pg.get("stop_grace_period", "10s")
    assert grace.endswith("s") and int(grace.rstrip("s")) >= 30, grace
    script = (REPO / "scripts" / "container.sh").read_text()
    role = re.search(r"^postgres\)\n(.*?)^\t;;", script, re.M | re.S).group(1)
    assert re.search(r'^\texec "\$PGBIN/postgres"', role, re.M), "the signal must reach postgres"


def test_depends_on(services):
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, s in services.items():
        deps = s.get("depends_on") or {}
        items = deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)
        for dep, spec in items:
            assert dep in services, f"{name} depends on unknown {dep}"
            cond = (spec or {}).get("condition", "service_started")
            assert cond in conditions
            if cond == "service_healthy":
                assert services[dep].get("healthcheck"), f"{dep} has no healthcheck"
    assert "postgres" in services["init"]["depends_on"]
    for prog in ("app", "wsd", "mailer"):
        assert services[prog]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if service.get("restart", "no") != "no":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_the_environment_overrides_the_defaults():
    c = load_compose({"MSGR_PORT": "9000", "MSGR_BIND": "0.0.0.0",
                      "MSGR_PUBLIC_URL": "https://chat.example.com"})
    nginx = c["services"]["nginx"]
    assert nginx["ports"] == ["0.0.0.0:9000:8080"]
    assert nginx["environment"]["MSGR_PUBLIC_URL"] == "https://chat.example.com"
    assert nginx["environment"]["MSGR_ALLOWED_ORIGINS"] == (
        "https://chat.example.com http://127.0.0.1:9000"
    )
    c = load_compose({"MSGR_ALLOWED_ORIGINS": "https://a.example https://b.example"})
    assert c["services"]["wsd"]["environment"]["MSGR_ALLOWED_ORIGINS"] == (
        "https://a.example https://b.example"
    )


def test_variables_are_substituted_as_compose_does():
    from composekit import interpolate

    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("$$SET ${SET} $SET", env) == "$SET v v"
    assert interpolate("${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "d  d"
    assert interpolate("${UNSET:-${EMPTY:-${SET}}}/x", env) == "v/x"
    with pytest.raises(ValueError):
        interpolate("${SET", env)


def test_the_mailer_runs_only_in_the_mail_profile_with_a_relay():
    # `docker compose up` alone starts no mailer (README "Mail").
    assert "mailer" not in load_compose({})["services"]
    c = load_compose({"MSGR_SMTP_URL": "smtps://u:p@mail.example:465",
                      "MSGR_MAIL_FROM": "Chat <chat@example.com>"}, profiles=("mail",))
    mailer = c["services"]["mailer"]
    assert mailer["profiles"] == ["mail"]
    assert mailer["environment"]["MSGR_SMTP_URL"] == "smtps://u:p@mail.example:465"
    assert mailer["environment"]["MSGR_MAIL_FROM"] == "Chat <chat@example.com>"
    assert mailer["command"] == ["scripts/container.sh", "mailer"]
    # Without a relay the role refuses to start, saying why.
    script = (REPO / "scripts" / "container.sh").read_text()
    role = re.search(r"^mailer\)\n(.*?)^\t;;", script, re.M | re.S).group(1)
    assert "MSGR_SMTP_URL" in role and "exit 78" in role
    assert re.search(r'^\texec "\$BIN/mailer"', role, re.M), "the stop signal must reach the mailer"
