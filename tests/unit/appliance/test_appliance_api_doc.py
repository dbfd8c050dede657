"""The OpenAPI document, X-Request-Id and INTERNAL errors."""

from __future__ import annotations

import errno
import uuid

import pytest
from appliance_helpers import API, assert_error, create_share
from fastapi.testclient import TestClient

from acme_appliance import shares, trees

PATHS = {
    "/api/v1/auth/login": {"post"},
    "/api/v1/auth/logout": {"post"},
    "/api/v1/system": {"get"},
    "/api/v1/health": {"get"},
    "/api/v1/pools": {"get"},
    "/api/v1/pools/{name}": {"get"},
    "/api/v1/shares": {"get", "post"},
    "/api/v1/shares/{share_id}": {"get", "patch", "delete"},
    "/api/v1/shares/{share_id}/promote": {"post"},
    "/api/v1/shares/{share_id}/nfs": {"get", "put"},
    "/api/v1/shares/{share_id}/snapshots": {"get", "post"},
    "/api/v1/shares/{share_id}/snapshots/{snapshot_id}": {"get", "patch", "delete"},
    "/api/v1/shares/{share_id}/snapshots/{snapshot_id}/rollback": {"post"},
    "/api/v1/snapshots/{snapshot_id}": {"get"},
    "/api/v1/_admin/faults": {"get", "post", "delete"},
    "/api/v1/_admin/faults/{fault_id}": {"delete"},
}


def test_openapi_lists_every_endpoint(anon: TestClient) -> None:
    doc = anon.get(f"{API}/openapi.json").json()
    paths = {path: set(ops) for path, ops in doc["paths"].items() if path.startswith(API)}
    assert paths == PATHS
    for decision in ("Quotas", "1 MiB", "cursor", "Promote", "destroy_newer", "Retry-After",
                     "_admin/faults", "/<pool>/<name>", "recursive=true", "st_blocks",
                     "Root ownership", "Snapshot rename"):
        assert decision in doc["info"]["description"], decision
    delete = doc["paths"]["/api/v1/shares/{share_id}"]["delete"]["responses"]
    assert {"204", "401", "404", "409", "422"} <= set(delete)
    schemas = doc["components"]["schemas"]
    assert {"Share", "Snapshot", "Pool", "NfsSettings", "ErrorBody", "FaultCreate",
            "ShareRoot", "SnapshotUpdate"} <= set(schemas)
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_request_ids_on_every_kind_of_response(client: TestClient, anon: TestClient) -> None:
    share = create_share(client, "a")
    replies = [client.get(f"{API}/shares"), client.post(f"{API}/shares/{share['id']}/snapshots",
                                                        json={"name": "s"}),
               client.delete(f"{API}/shares/nope"), anon.get(f"{API}/system"),
               client.post(f"{API}/shares", json={}), client.get("/nowhere"),
               client.delete(f"{API}/shares/{share['id']}"), anon.get(f"{API}/openapi.json")]
    ids = [reply.headers["X-Request-Id"] for reply in replies]
    assert all(uuid.UUID(value).version == 4 for value in ids)
    assert len(set(ids)) == len(ids)


def test_unexpected_errors_are_internal(client: TestClient,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(shares, "create_share", broken)
    reply = client.post(f"{API}/shares", json={"name": "a", "pool": "pool1"})
    body = assert_error(reply, 500, "INTERNAL")
    assert body["details"]["request_id"] == reply.headers["X-Request-Id"]
    assert "boom" not in reply.text


def test_full_file_system_is_no_space(client: TestClient, data_dir,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    share = create_share(client, "a")
    (data_dir / "shares" / share["id"] / "f").write_bytes(b"x" * 4096)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(trees, "copy_file", full)
    reply = client.post(f"{API}/shares/{share['id']}/snapshots", json={"name": "s"})
    assert_error(reply, 507, "NO_SPACE")
    assert list((data_dir / "tmp").iterdir()) == []
    assert client.get(f"{API}/shares/{share['id']}/snapshots").json()["items"] == []


def test_usage_refresher_picks_up_nfs_writes(client: TestClient, data_dir) -> None:
    share = create_share(client, "a")
    (data_dir / "shares" / share["id"] / "f").write_bytes(b"x" * (1 << 20))
    assert client.get(f"{API}/pools/pool1").json()["used_bytes"] == 0
    client.app.state.refresher.refresh_all()
    assert client.get(f"{API}/pools/pool1").json()["used_bytes"] >= 1 << 20
