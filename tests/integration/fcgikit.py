"""A FastCGI client (the protocol's responder role, one request a
connection) for tests that talk to a program's socket without nginx: a
request without CONTENT_LENGTH, or a body sent slowly."""

import socket
import struct

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(kind, content, request_id=1):
    return struct.pack(">BBHHBx", 1, kind, request_id, len(content), 0) + content


def params_body(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def stdin_records(data):
    return b"".join(record(STDIN, data[i:i + 65535]) for i in range(0, len(data), 65535))


def fcgi_open(path, params):
    """Connects to the unix socket path and sends the request's start and
    its parameters; the caller sends STDIN with send_stdin()."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(str(path))
    s.sendall(record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
              + record(PARAMS, params_body(params)) + record(PARAMS, b""))
    return s


def send_stdin(s, data, end=False):
    s.sendall(stdin_records(data) + (record(STDIN, b"") if end else b""))


def read_answer(s):
    """The STDOUT of the answer (a CGI response: Status, headers, body)."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:  # the program died
            break
        if not chunk:
            break
        data += chunk
    answer = b""
    while len(data) >= 8:
        _, kind, _, n, pad = struct.unpack(">BBHHB", data[:7])
        if kind == STDOUT:
            answer += data[8:8 + n]
        data = data[8 + n + pad:]
    return answer


def fcgi_request(path, params, body):
    """One whole request; returns the raw CGI answer."""
    with fcgi_open(path, params) as s:
        send_stdin(s, body, end=True)
        return read_answer(s)
