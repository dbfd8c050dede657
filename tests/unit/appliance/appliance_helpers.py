"""Helpers shared by the simulator's unit tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

APPLIANCE = Path(__file__).resolve().parents[3] / "appliance"
if str(APPLIANCE) not in sys.path:
    sys.path.insert(0, str(APPLIANCE))

import requests  # noqa: E402
from acme_appliance.app import create_app  # noqa: E402
from acme_appliance.config import ApplianceConfig  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

MIB = 1 << 20
GIB = 1 << 30
USER, PASSWORD = "admin", "s3cret-pw"
API = "/api/v1"


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


def session(url: str) -> requests.Session:
    """A logged-in HTTP session of a live server."""
    http = requests.Session()
    reply = http.post(f"{url}{API}/auth/login", json={"username": USER, "password": PASSWORD})
    http.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    return http


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


@contextmanager
def started(data_dir: Path, token: str | None = None, **overrides: Any) -> Iterator[TestClient]:
    """The simulator started on ``data_dir`` (its start-up repair runs); a client logged in,
    or carrying ``token`` (tokens persist)."""
    with TestClient(create_app(make_config(data_dir, **overrides))) as client:
        if token:
            client.headers["Authorization"] = token
        yield client if token else login(client)


def restarted(client: TestClient, data_dir: Path) -> Any:
    """Stop the simulator behind ``client`` and start it again on the same data."""
    client.app.state.appliance.store.close()
    return started(data_dir, token=client.headers["Authorization"])
