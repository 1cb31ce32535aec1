"""Who serves what: each program's route table (`PROGRAM --routes`, from
its fcgi/NAME/main.c) against the nginx snippets (nginx/*.conf), so that
the table stays the one answer. For every route, a request nginx routes by
the snippets' locations (and the map that picks the messages program's
event loop) must reach its program, and reach the loop exactly when the
route has a loop handler; and nginx must send nothing to the loop that no
loop handler serves.

nginx's choice of a location is followed as nginx documents it: an exact
match, else the longest prefix unless a regular expression (the first in
the file) matches. All of it with the app at the root and under a prefix
(URL_PREFIX=/chat, scripts/render-nginx.sh): there every path is the
prefix and the route's, and the programs get the route's (the map of
$messenger_request_uri)."""

import re
import subprocess

import pytest

from helpers import REPO

BIN = REPO / "build-asan" / "bin"
PROGRAMS = ("auth", "chats", "messages", "files")
PREFIXES = ("", "/chat")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
JSON = "application/json"


def routes(program):
    """[(method, pattern, has_loop)] from the program's table."""
    binary = BIN / program
    if not binary.exists():
        pytest.fail(f"{binary} does not exist: run `make asan` first")
    out = subprocess.run([str(binary), "--routes"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    table = []
    for line in out.splitlines():
        words = line.split()
        assert len(words) in (2, 3) and words[2:] in ([], ["loop"]), line
        table.append((words[0], words[1], len(words) == 3))
    assert table, f"{program} --routes printed nothing"
    return table


def example_path(pattern):
    """A path the pattern matches: ids are 7, other placeholders "x"."""
    return re.sub(r"\{[a-z_]*id\}", "7", re.sub(r"\{(?![a-z_]*id\})[a-z_]+\}", "x", pattern))


def config(name, prefix=""):
    """A snippet with the prefix in place of @PREFIX@, as render-nginx.sh
    writes it."""
    return (REPO / "nginx" / name).read_text().replace("@PREFIX@", prefix)


def locations(prefix=""):
    """[(modifier, pattern, fastcgi_pass or None)] in file order."""
    found = []
    for m in re.finditer(r"^location\s+(?:(=|~\*|~|\^~)\s+)?(\"[^\"]+\"|\S+)\s*\{(.*?)^\}",
                         config("messenger-locations.conf", prefix), re.M | re.S):
        modifier, pattern, body = m.group(1) or "", m.group(2).strip('"'), m.group(3)
        pass_ = re.search(r"^\s*fastcgi_pass\s+(\S+);", body, re.M)
        found.append((modifier, pattern, pass_.group(1) if pass_ else None))
    return found


def location_of(path, prefix=""):
    locs = locations(prefix)
    for modifier, pattern, pass_ in locs:
        if modifier == "=" and pattern == path:
            return pattern, pass_
    prefixes = [(p, pass_, mod) for mod, p, pass_ in locs if mod in ("", "^~") and path.startswith(p)]
    longest = max(prefixes, key=lambda x: len(x[0]), default=None)
    if not (longest and longest[2] == "^~"):
        for modifier, pattern, pass_ in locs:
            flags = re.I if modifier == "~*" else 0
            if modifier in ("~", "~*") and re.search(pattern, path, flags):
                return pattern, pass_
    assert longest, f"no location takes {path}"
    return longest[0], longest[1]


def map_of(variable, source="$request_method $content_type", prefix=""):
    """The map of source that sets variable: ([(regex, flags, value)],
    default); the regular expressions in Python's syntax."""
    src = re.escape(source).replace(r"\ ", " ")
    if " " in source:
        src = '"' + src + '"'
    m = re.search(r"^map\s+" + src + r"\s+\$" + re.escape(variable)
                  + r"\s*\{(.*?)^\}", config("messenger-upstreams.conf", prefix), re.M | re.S)
    assert m, f"no map of ${variable}"
    entries, default = [], None
    for line in m.group(1).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = re.match(r"(\"[^\"]*\"|\S+)\s+(\S+);$", line).groups()
        key = key.strip('"')
        if key == "default":
            default = value
        else:
            assert key.startswith("~"), f"the map's key {key} is not a regular expression"
            flags = re.I if key.startswith("~*") else 0
            entries.append((key.lstrip("~*").replace("(?<", "(?P<"), flags, value))
    return entries, default


def upstream_of(method, path, content_type, prefix=""):
    """The upstream nginx passes the request for path (under the prefix)
    to."""
    where, pass_ = location_of(prefix + path, prefix)
    assert pass_, f"{method} {path} reaches location {where}, which passes to no program"
    if not pass_.startswith("$"):
        return pass_
    entries, default = map_of(pass_[1:])
    for regex, flags, value in entries:
        if re.search(regex, f"{method} {content_type}", flags):
            return value
    return default


def request_uri_of(request_uri, prefix):
    """What the programs get as REQUEST_URI: the map of
    $messenger_request_uri applied to the request's."""
    assert re.search(r"^\s*fastcgi_param\s+REQUEST_URI\s+\$messenger_request_uri;",
                     config("messenger-fastcgi.conf"), re.M)
    entries, default = map_of("messenger_request_uri", "$request_uri", prefix)
    for regex, flags, value in entries:
        found = re.search(regex, request_uri, flags)
        if found:
            return re.sub(r"\$(\w+)", lambda v: found.group(v.group(1)), value)
    assert default == "$request_uri"
    return request_uri


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("program", PROGRAMS)
def test_every_route_reaches_its_program_and_its_loop_when_it_has_one(program, prefix):
    for method, pattern, has_loop in routes(program):
        path = example_path(pattern)
        want = f"messenger_{program}" + ("_loop" if has_loop else "")
        got = upstream_of(method, path, JSON, prefix)
        assert got == want, f"nginx passes {method} {prefix}{path} ({pattern}) to {got}, not {want}"
        assert request_uri_of(prefix + path + "?a=1", prefix) == path + "?a=1"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_location_is_under_the_prefix(prefix):
    """The snippet claims nothing of the server outside its prefix (under
    one, not even /), so it goes into a server that has its own `location /`."""
    for modifier, pattern, _ in locations(prefix):
        if pattern.startswith("@"):
            continue  # a named location: no path
        path = pattern.lstrip("^") if modifier.startswith("~") else pattern
        assert path.startswith(prefix + "/") or (modifier.startswith("~") and path == prefix + "$"), \
            f"location {modifier} {pattern} is outside {prefix}/"
    if prefix:
        assert ("", "/", None) not in locations(prefix)


def test_nothing_goes_to_the_loop_that_no_loop_handler_serves():
    table = routes("messages")
    loop_upstreams = set(re.findall(r"^upstream\s+(messenger_\w+_loop)\s*\{",
                                    config("messenger-upstreams.conf"), re.M))
    assert loop_upstreams == {"messenger_messages_loop"}
    paths = {example_path(p) for _, p, _ in table}
    for path in paths:
        for method in METHODS:
            for content_type in (JSON, "multipart/form-data; boundary=x", ""):
                if upstream_of(method, path, content_type) not in loop_upstreams:
                    continue
                served = [p for m, p, loop in table
                          if loop and m == method and example_path(p) == path]
                assert served, (f"nginx passes {method} {path} ({content_type or 'no body'}) "
                                "to the loop, whose table has no loop handler for it")


def test_multipart_sends_go_to_the_workers():
    """They stream files, which the loop does not take."""
    for method, pattern, has_loop in routes("messages"):
        if has_loop and method == "POST":
            path = example_path(pattern)
            assert upstream_of(method, path, "multipart/form-data; boundary=x") == \
                "messenger_messages"
