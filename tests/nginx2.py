"""A second nginx in front of the stack under test, set up as the README's
"Behind your own nginx" says a sysadmin does: its workers run as www-data
(the stock Debian `user www-data;`), its server has its own `location /`
and a server-level Strict-Transport-Security header, and it includes the
snippets rendered with URL_PREFIX=/chat for the stack's sockets and stored
files (which the test stack gives to www-data's group: NGINX_GROUP,
helpers.py). Used by tests/integration/test_nginx_prefix.py and
tests/browser/test_ui_prefix.py:

    with second_nginx(stack) as n:
        n.base  "http://127.0.0.1:PORT"   n.app  n.base + "/chat/"
        n.api   an Api of n.base + "/chat"
"""

import contextlib
import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from helpers import REPO, Api, free_port, processes_using, wait_until

PREFIX = "/chat"
USER = "www-data"
HSTS = "max-age=31536000; includeSubDomains"
SITE_PAGE = b"<!doctype html><title>the server's own site</title>\n"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf(tmp, conf, port):
    """The sysadmin's nginx.conf: their server, their `location /`, their
    header, and the two include lines of the README."""
    return f"""
user {USER} {grp.getgrgid(pwd.getpwnam(USER).pw_gid).gr_name};
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {conf}/messenger-upstreams.conf;
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        add_header Strict-Transport-Security "{HSTS}" always;
        location / {{
            root {tmp}/site;
        }}
        # a habit of hand-written servers, which must not take the app's files
        location ~* \\.(css|js|svg|png)$ {{
            root {tmp}/site;
            expires 1d;
        }}
        include {conf}/messenger-locations.conf;
    }}
}}
"""


class Nginx2:
    def __init__(self, tmp, port):
        self.tmp = tmp
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.app = self.base + PREFIX + "/"
        self.api = Api(self.base + PREFIX)
        self.conf_file = tmp / "nginx.conf"

    def run(self, *args):
        return subprocess.run([NGINX, "-p", f"{self.tmp}/", "-c", str(self.conf_file),
                               "-e", f"{self.tmp}/error.log", *args],
                              capture_output=True, text=True, timeout=30)

    def master_pid(self):
        with contextlib.suppress(OSError, ValueError):
            return int((self.tmp / "nginx.pid").read_text())
        return None

    def stop(self):
        pid = self.master_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not processes_using(self.tmp), timeout=15,
                   message="the second nginx to stop")

    def error_log(self):
        with contextlib.suppress(OSError):
            return (self.tmp / "error.log").read_text(errors="replace")[-4000:]
        return ""


@contextlib.contextmanager
def second_nginx(stack):
    """Starts it (skips without root or www-data); stops it at the end and
    fails when a process of it is left."""
    stack._need_local()
    if os.getuid() != 0:
        pytest.skip("starting an nginx whose workers run as www-data needs root")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"no user {USER}")
    tmp = Path(tempfile.mkdtemp(prefix="msgr-nginx2-"))
    tmp.chmod(0o755)  # its workers (www-data) read the site and the snippets
    (tmp / "site").mkdir()
    (tmp / "site" / "index.html").write_bytes(SITE_PAGE)
    conf = tmp / "messenger"
    port = free_port()
    n = Nginx2(tmp, port)
    try:
        env = dict(os.environ, URL_PREFIX=PREFIX, RUN_DIR=str(stack.var / "run"),
                   STORAGE_DIR=str(stack.var / "files"), WWW_DIR=str(REPO / "www"))
        subprocess.run([str(REPO / "scripts/render-nginx.sh"), "--snippets", str(conf)],
                       env=env, check=True, capture_output=True, timeout=30)
        # README: the server's add_header lines, repeated in the file the
        # snippets' locations with headers of their own include.
        headers = conf / "messenger-server-headers.conf"
        assert headers.exists(), "render-nginx.sh creates the headers file"
        with headers.open("a") as f:
            f.write(f'add_header Strict-Transport-Security "{HSTS}" always;\n')
        n.conf_file.write_text(nginx_conf(tmp, conf, port))
        # The origin users type is this nginx's (README: MSGR_ALLOWED_ORIGINS).
        origins = f"{stack.origin} {n.base}"
        with stack.restarted("wsd", MSGR_ALLOWED_ORIGINS=origins):
            t = n.run("-t")
            assert t.returncode == 0, t.stderr
            started = n.run()
            assert started.returncode == 0, started.stderr + n.error_log()
            wait_until(lambda: _answers(n.base + "/"), timeout=10, message="the second nginx")
            yield n
    finally:
        n.stop()
        left = processes_using(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"the second nginx left {left}"


def _answers(url):
    with contextlib.suppress(requests.RequestException):
        return requests.get(url, timeout=2).status_code == 200
    return False


