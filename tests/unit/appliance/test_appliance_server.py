"""HTTPS serving, the CLI and its environment variables."""

from __future__ import annotations

import gc
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from appliance_helpers import API, APPLIANCE, PASSWORD, USER, make_config

from acme_appliance import cli
from acme_appliance.app import create_app
from acme_appliance.config import parse_listen, parse_pool, parse_size

from tests.support.appliance import free_port
from tests.support.polling import wait_until
from tests.support.serving import ThreadServer
from tests.support.tls_server import issue


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path, Path]:
    return issue(tmp_path, "127.0.0.1", "localhost")


def failure(url: str) -> type[Exception] | None:
    """The exception class a GET raises; its sockets are freed so the server stops at once."""
    try:
        requests.get(url, timeout=5)
    except requests.RequestException as exc:
        kind = type(exc)
    else:
        return None
    gc.collect()
    return kind


def test_serves_https(data_dir, certs, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    cert, key, ca_file = certs
    server = ThreadServer(create_app(make_config(data_dir)), cert, key)
    with server, requests.Session() as http:
        assert server.url.startswith("https://")
        reply = http.get(f"{server.url}{API}/health", verify=str(ca_file))
        assert reply.json() == {"status": "ok"} and reply.headers["X-Request-Id"]
        token = http.post(f"{server.url}{API}/auth/login", verify=str(ca_file),
                          json={"username": USER, "password": PASSWORD}).json()["token"]
        system = http.get(f"{server.url}{API}/system", verify=str(ca_file),
                          headers={"Authorization": f"Bearer {token}"})
        assert system.json()["api_version"] == "1"
        assert failure(f"{server.url}{API}/health") is requests.exceptions.SSLError
        plain = server.url.replace("https", "http") + f"{API}/health"
        assert issubclass(failure(plain), requests.ConnectionError)
        keep_alive = requests.Session()
        assert keep_alive.get(f"{server.url}{API}/health", verify=str(ca_file)).ok
    # An idle TLS keep-alive connection is aborted at stop, so uvicorn never waits for it.
    assert "Waiting for connections to close" not in caplog.text
    assert "graceful shutdown exceeded" not in caplog.text
    keep_alive.close()


def parse(*argv: str):
    return cli.config_from_args(cli.build_parser().parse_args(["serve", *argv]))


def test_cli_options(tmp_path: Path) -> None:
    config = parse("--data-dir", str(tmp_path), "--insecure-http", "--user", "a:b:c",
                   "--pool", "p1:1GiB", "--pool", "p2:2TB", "--token-ttl", "60",
                   "--nfs-address", "192.0.2.7", "--enable-faults",
                   "--ganesha-conf-dir", str(tmp_path / "g"), "--usage-refresh", "0")
    assert config.users == {"a": "b:c"}
    assert config.pools == {"p1": 1 << 30, "p2": 2 * 10**12}
    assert config.token_ttl == 60 and config.nfs_address == "192.0.2.7"
    assert config.enable_faults and config.ganesha_conf_dir == tmp_path / "g"
    assert config.ganesha_pidfile is None and config.usage_refresh_interval == 0
    assert parse("--data-dir", str(tmp_path), "--tls-cert", "c", "--tls-key", "k",
                 "--user", "u:p").pools == {"pool1": 100 << 30}


@pytest.mark.parametrize("argv, message", [
    ((), "--data-dir"), (("--data-dir", "d", "--insecure-http"), "--user"),
    (("--data-dir", "d", "--user", "u:p"), "--tls-cert"),
    (("--data-dir", "d", "--user", "nopass", "--insecure-http"), "NAME:PASSWORD"),
    (("--data-dir", "d", "--user", "u:p", "--insecure-http", "--pool", "../p:1G"), "pool"),
    (("--data-dir", "d", "--user", "u:p", "--insecure-http", "--pool", "p:lots"), "size")])
def test_cli_rejects_bad_settings(argv, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(*argv)


def test_environment_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_APPLIANCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACME_APPLIANCE_INSECURE_HTTP", "true")
    monkeypatch.setenv("ACME_APPLIANCE_USERS", "admin:pw1, ops:pw2")
    monkeypatch.setenv("ACME_APPLIANCE_POOLS", "fast:10GiB,slow:1TiB")
    monkeypatch.setenv("ACME_APPLIANCE_TOKEN_TTL", "99")
    monkeypatch.setenv("ACME_APPLIANCE_ENABLE_FAULTS", "1")
    config = parse()
    assert config.data_dir == tmp_path and config.users == {"admin": "pw1", "ops": "pw2"}
    assert list(config.pools) == ["fast", "slow"] and config.token_ttl == 99
    assert config.enable_faults
    assert parse("--user", "x:y").users == {"x": "y"}


def test_command_line_wins_over_the_environment(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_APPLIANCE_INSECURE_HTTP", "no")
    monkeypatch.setenv("ACME_APPLIANCE_POOLS", "env:1GiB")
    monkeypatch.setenv("ACME_APPLIANCE_USAGE_REFRESH", "5")
    config = parse("--data-dir", str(tmp_path), "--user", "u:p", "--insecure-http",
                   "--pool", "cli:2GiB")
    assert config.pools == {"cli": 2 << 30} and config.usage_refresh_interval == 5
    with pytest.raises(ValueError, match="--tls-cert"):
        parse("--data-dir", str(tmp_path), "--user", "u:p")


@pytest.mark.parametrize("name", ["TOKEN_TTL", "INSECURE_HTTP", "USAGE_REFRESH"])
def test_invalid_environment_values_are_named_not_echoed(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"ACME_APPLIANCE_{name}", "s3cret-looking-value")
    with pytest.raises(ValueError, match=name.lower()) as raised:
        parse("--data-dir", "d", "--user", "u:p", "--tls-cert", "c", "--tls-key", "k")
    assert "s3cret" not in str(raised.value)


def test_sizes_and_listen() -> None:
    assert parse_size("1048576") == 1 << 20 and parse_size("100GiB") == 100 << 30
    assert parse_size("5 MB") == 5 * 10**6
    assert parse_pool("pool1:100GiB") == ("pool1", 100 << 30)
    assert parse_listen("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    with pytest.raises(ValueError):
        parse_listen("nohost")


def test_gen_tls_writes_certificates(tmp_path: Path, capsys) -> None:
    assert cli.main(["gen-tls", "--out", str(tmp_path / "tls"), "--host", "127.0.0.1"]) == 0
    assert (tmp_path / "tls" / "server.pem").is_file()
    assert (tmp_path / "tls" / "ca.pem").is_file()
    assert "server.pem" in capsys.readouterr().out


def test_python_m_serve_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "appliance.log"
    env = {**os.environ, "PYTHONPATH": str(APPLIANCE), "ACME_APPLIANCE_USERS": "admin:pw-xyz"}
    process = subprocess.Popen(
        [sys.executable, "-m", "acme_appliance", "serve", "--data-dir", str(tmp_path / "d"),
         "--listen", f"127.0.0.1:{port}", "--insecure-http", "--log-file", str(log_file)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}{API}"
        wait_until(lambda: process.poll() is not None or failure(f"{url}/health") is None, 15,
                   "the simulator's health", interval=0.1)
        assert requests.get(f"{url}/health", timeout=1).status_code == 200
        reply = requests.post(f"{url}/auth/login", json={"username": "admin",
                                                         "password": "pw-xyz"})
        assert reply.status_code == 200
    finally:
        process.terminate()
        assert process.wait(timeout=15) in (0, -15)  # uvicorn re-raises SIGTERM after shutdown
    text = log_file.read_text()
    assert "POST /api/v1/auth/login 200" in text and "pw-xyz" not in text


@pytest.mark.parametrize("tls", [False, True])
def test_keep_alive_connections_have_tcp_nodelay(data_dir, certs, tls: bool) -> None:
    """Nagle + delayed ACK once cost ~40 ms per request on a reused connection: asyncio sets
    TCP_NODELAY only on sockets whose proto is IPPROTO_TCP (see bind_socket)."""
    cert, key, ca_file = certs
    server = ThreadServer(create_app(make_config(data_dir)), *((cert, key) if tls else ()))
    with server, requests.Session() as http:
        http.get(f"{server.url}{API}/health", verify=str(ca_file)).raise_for_status()
        connections = list(server.server.server_state.connections)
        assert connections
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
