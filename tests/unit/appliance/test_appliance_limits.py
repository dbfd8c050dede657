"""Limits under load: connections, request head and body time, the log's size and rate."""

from __future__ import annotations

import json
import logging
import socket
import stat
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from appliance_helpers import API, make_config

from acme_appliance.app import create_app
from acme_appliance.logs import PrivateRotatingFileHandler, RateLimitFilter
from acme_appliance.server import ConnectionLimits

from tests.support.polling import wait_until
from tests.support.serving import ThreadServer
from tests.support.tls_server import issue

LIMITS = ConnectionLimits(max_connections=4, max_per_source=2, head_timeout=0.5)


@pytest.fixture
def limited(data_dir: Path) -> Iterator[ThreadServer]:
    app = create_app(make_config(data_dir, body_timeout=0.5))
    with ThreadServer(app, limits=LIMITS) as server:
        yield server


def connect(server: ThreadServer, source: str = "127.0.0.1") -> socket.socket:
    """A connection from `source` (any 127.0.0.0/8 address is this host's loopback)."""
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))


def closed_by_server(sock: socket.socket) -> bytes:
    """What the server sent before it closed the connection (raises socket.timeout if not)."""
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_a_half_sent_request_head_is_closed(limited: ThreadServer) -> None:
    with connect(limited) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(sock) == b""
    assert requests.get(f"{limited.url}{API}/health", timeout=10).ok


def test_a_tls_handshake_that_never_ends_is_closed(data_dir: Path, tmp_path: Path) -> None:
    cert, key, _ca = issue(tmp_path, "127.0.0.1")
    app = create_app(make_config(data_dir))
    with ThreadServer(app, cert, key, limits=LIMITS) as server:
        host, port = server.url.removeprefix("https://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and no more
            assert closed_by_server(sock) == b""


def test_a_half_sent_body_is_408_and_closed(limited: ThreadServer) -> None:
    with connect(limited) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user")
        reply = closed_by_server(sock)
    head, body = reply.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["code"] == "INVALID"


def test_connections_over_the_limit_are_closed_and_the_api_answers_after(
        limited: ThreadServer) -> None:
    with ExitStack() as stack:
        held = [stack.enter_context(connect(limited, f"127.0.0.{2 + index // 2}"))
                for index in range(LIMITS.max_connections)]
        for sock in held:
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\n")
        wait_until(lambda: len(limited.server.server_state.connections) ==
                   LIMITS.max_connections, what="the held connections")
        with connect(limited, "127.0.0.9") as extra:
            extra.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert closed_by_server(extra) == b""
        for sock in held:  # the head timeout frees them
            assert closed_by_server(sock) == b""
    assert requests.get(f"{limited.url}{API}/health", timeout=10).ok


def test_one_source_cannot_take_every_connection(limited: ThreadServer) -> None:
    with ExitStack() as stack:
        for _index in range(LIMITS.max_per_source):
            stack.enter_context(connect(limited, "127.0.0.2")).sendall(b"GET / HTTP/1.1\r\n")
        wait_until(lambda: len(limited.server.server_state.connections) ==
                   LIMITS.max_per_source, what="the held connections")
        with connect(limited, "127.0.0.2") as extra:
            extra.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert closed_by_server(extra) == b""
        with connect(limited, "127.0.0.3") as other:
            other.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert closed_by_server(other).startswith(b"HTTP/1.1 200 ")


def test_the_log_rotates_and_stays_private(tmp_path: Path) -> None:
    path = tmp_path / "appliance.log"
    handler = PrivateRotatingFileHandler(path, max_bytes=1000, backups=2)
    logger = logging.getLogger("test.rotation")
    logger.addHandler(handler)
    try:
        for index in range(100):
            logger.warning("line %d %s", index, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["appliance.log", "appliance.log.1", "appliance.log.2"]
    for file in files:
        assert file.stat().st_size <= 1000
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert "line 99 " in path.read_text()


def test_a_repeated_warning_is_rate_limited() -> None:
    now = [0.0]
    limiter = RateLimitFilter(burst=3, window=60, clock=lambda: now[0])

    def record(level: int = logging.WARNING) -> logging.LogRecord:
        return logging.makeLogRecord({"name": "x", "levelno": level, "msg": "closed %s",
                                      "args": ("a",)})

    assert [limiter.filter(record()) for _index in range(10)] == [True] * 3 + [False] * 7
    assert limiter.filter(record(logging.INFO))
    now[0] = 61.0
    first = record()
    assert limiter.filter(first)
    assert "7 more like this were not logged" in first.getMessage()
