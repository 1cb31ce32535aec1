"""docker-compose.yml as Docker Compose reads it, for the compose tests
(test_compose.py, test_compose_run.py): variables substituted from an
environment, durations, dependencies and the order compose starts in."""

import re

import yaml

from helpers import REPO

COMPOSE = REPO / "docker-compose.yml"


def interpolate(text, env):
    """Compose's variable substitution: $$, $NAME, ${NAME}, ${NAME:-default}
    and ${NAME-default}, defaults nested."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if j >= len(text):
                    raise ValueError(f"unclosed ${{ in {text!r}")
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                else:
                    depth -= text[j] == "}"
                    j += 1
            body = text[i + 2 : j - 1]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?", body, re.S)
            if not m:
                raise ValueError(f"unsupported substitution ${{{body}}}")
            name, op, default = m.groups()
            value = env.get(name)
            if op and (value is None or (op == ":-" and value == "")):
                value = interpolate(default, env)
            out.append(value or "")
            i = j
        else:
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:])
            if not m:
                raise ValueError(f"a lone $ in {text!r}")
            out.append(env.get(m.group(1), ""))
            i += m.end()
    return "".join(out)


def interpolated(node, env):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolated(n, env) for n in node]
    if isinstance(node, dict):
        return {k: interpolated(v, env) for k, v in node.items()}
    return node


def load_compose(env, profiles=()):
    """The compose file with its variables taken from env (a dict: the
    shell's environment as compose would see it; {} for the defaults), and
    the services `docker compose --profile P up` starts for the given
    profiles: those without profiles, and those in one of them."""
    with open(COMPOSE) as f:
        compose = interpolated(yaml.safe_load(f), env)
    compose["services"] = {name: s for name, s in compose["services"].items()
                           if not s.get("profiles") or set(s["profiles"]) & set(profiles)}
    return compose


def duration(text, default):
    """A compose duration ("1m30s", "5s", "250ms") in seconds."""
    if text is None:
        return default
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|us|h|m|s)", str(text)):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


def depends_on(service):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {d: (spec or {}).get("condition", "service_started") for d, spec in deps.items()}


def start_order(services):
    order, seen = [], set()

    def visit(name):
        if name not in seen:
            seen.add(name)
            for dep in depends_on(services[name]):
                visit(dep)
            order.append(name)

    for name in services:
        visit(name)
    return order
