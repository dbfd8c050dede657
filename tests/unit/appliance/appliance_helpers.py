"""Helpers shared by the simulator's unit tests."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

APPLIANCE = Path(__file__).resolve().parents[3] / "appliance"
if str(APPLIANCE) not in sys.path:
    sys.path.insert(0, str(APPLIANCE))

from acme_appliance.config import ApplianceConfig  # noqa: E402
from acme_appliance.server import bind_socket, build_server  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

MIB = 1 << 20
GIB = 1 << 30
USER, PASSWORD = "admin", "s3cret-pw"
API = "/api/v1"
BAD_NAMES = ["../x", "a/b", "..", ".hidden", "-x", "", "x" * 65, "a b", "ä", "a\\b", "a\nb",
             "/abs", "%2e%2e", "a:b"]


def make_config(data_dir: Path, **overrides: Any) -> ApplianceConfig:
    settings: dict[str, Any] = {
        "data_dir": data_dir, "users": {USER: PASSWORD},
        "pools": {"pool1": 10 * GIB, "pool2": 64 * MIB}, "enable_faults": True,
        "usage_refresh_interval": 0,
    }
    settings.update(overrides)
    return ApplianceConfig(**settings)


def login(client: TestClient) -> TestClient:
    """Log in and put the token into the client's default headers."""
    reply = client.post(f"{API}/auth/login", json={"username": USER, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    client.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    return client


def share_dir(data_dir: Path, share_id: str) -> Path:
    return data_dir / "shares" / share_id


def snapshot_dir(data_dir: Path, snapshot_id: str) -> Path:
    return data_dir / "snapshots" / snapshot_id


def create_share(client: TestClient, name: str, pool: str = "pool1", **body: Any) -> dict:
    reply = client.post(f"{API}/shares", json={"name": name, "pool": pool, **body})
    assert reply.status_code == 201, reply.text
    return reply.json()


def create_snapshot(client: TestClient, share_id: str, name: str) -> dict:
    reply = client.post(f"{API}/shares/{share_id}/snapshots", json={"name": name})
    assert reply.status_code == 201, reply.text
    return reply.json()


def assert_error(reply: Any, status: int, code: str) -> dict:
    """The reply is the contract's error body with this status and code."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert reply.headers.get("X-Request-Id")
    return body


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app: FastAPI, tls: tuple[Path, Path] | None = None) -> None:
        self.sock = bind_socket("127.0.0.1", 0)
        port = self.sock.getsockname()[1]
        cert, key = tls if tls else (None, None)
        self.server = build_server(app, "127.0.0.1", port, cert, key)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
