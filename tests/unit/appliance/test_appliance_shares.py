"""Shares: create, list/filter/paginate, get, resize, rename, delete, validation."""

from __future__ import annotations

import re

import pytest
from appliance_helpers import (API, GIB, MIB, assert_error, create_share,
                               create_snapshot, share_dir)
from fastapi.testclient import TestClient

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_create_share_returns_the_share_object(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol-1", quota_bytes=1)
    assert set(share) == {"id", "name", "pool", "path", "exports", "quota_bytes", "used_bytes",
                          "used_bytes_complete", "origin_snapshot_id", "nfs", "root",
                          "created_at"}
    assert share["name"] == "vol-1" and share["pool"] == "pool1"
    assert share["path"] == "/pool1/vol-1"
    assert share["exports"] == ["127.0.0.1:/pool1/vol-1"]
    assert share["quota_bytes"] == MIB
    assert share["used_bytes"] == 0 and share["origin_snapshot_id"] is None
    assert share["used_bytes_complete"] is True
    assert share["nfs"] == {"enabled": False, "rules": []}
    assert share["root"] == {"uid": 0, "gid": 0, "mode": "0755"}
    assert RFC3339.match(share["created_at"])
    assert share_dir(data_dir, share["id"]).is_dir()
    assert client.get(f"{API}/shares/{share['id']}").json() == share


@pytest.mark.parametrize("quota, expected", [(None, 0), (0, 0), (1, MIB), (MIB, MIB),
                                             (MIB + 1, 2 * MIB), (5 * GIB - 7, 5 * GIB)])
def test_quota_is_rounded_up_to_mib(client: TestClient, quota, expected) -> None:
    assert create_share(client, "q", quota_bytes=quota)["quota_bytes"] == expected


def test_max_length_name_is_accepted(client: TestClient) -> None:
    name = "A" + "b_.-9" * 12 + "xyz"
    assert len(name) == 64
    assert create_share(client, name)["name"] == name


def test_duplicate_name_is_409_with_existing_id(client: TestClient) -> None:
    share = create_share(client, "dup")
    body = assert_error(client.post(f"{API}/shares", json={"name": "dup", "pool": "pool1"}),
                        409, "ALREADY_EXISTS")
    assert body["details"]["id"] == share["id"]
    assert create_share(client, "dup", pool="pool2")["pool"] == "pool2"


def test_unknown_pool_is_404(client: TestClient) -> None:
    body = assert_error(client.post(f"{API}/shares", json={"name": "a", "pool": "nope"}),
                        404, "NOT_FOUND")
    assert body["details"] == {"pool": "nope"}


def test_quota_above_pool_size_is_507(client: TestClient) -> None:
    reply = client.post(f"{API}/shares", json={"name": "big", "pool": "pool2",
                                               "quota_bytes": 64 * MIB + 1})
    assert_error(reply, 507, "NO_SPACE")
    assert create_share(client, "thin1", pool="pool2", quota_bytes=64 * MIB)
    assert create_share(client, "thin2", pool="pool2", quota_bytes=64 * MIB)


def test_unknown_routes_are_404(client: TestClient) -> None:
    assert_error(client.get(f"{API}/nothing"), 404, "NOT_FOUND")
    assert_error(client.get("/elsewhere"), 404, "NOT_FOUND")  # 405: test_405_carries_allow


@pytest.mark.parametrize("share_id", ["nope", "..", "../../etc", "%2e%2e%2fetc",
                                      "00000000-0000-0000-0000-000000000000"])
def test_unknown_share_ids_are_404(client: TestClient, share_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        reply = client.request(method, f"{API}/shares/{share_id}",
                               json={} if method == "PATCH" else None)
        assert reply.status_code == 404, (method, share_id, reply.text)
        assert reply.json()["code"] == "NOT_FOUND"
    for suffix in ("/promote", "/snapshots"):
        reply = client.post(f"{API}/shares/{share_id}{suffix}", json={"name": "s"})
        assert_error(reply, 404, "NOT_FOUND")


def test_list_and_filters(client: TestClient) -> None:
    a = create_share(client, "a")
    b = create_share(client, "b", pool="pool2")
    c = create_share(client, "c")
    snap = create_snapshot(client, a["id"], "s1")
    clone = create_share(client, "clone", origin_snapshot_id=snap["id"])

    def names(**params) -> list[str]:
        reply = client.get(f"{API}/shares", params=params)
        assert reply.status_code == 200 and reply.json()["next"] is None
        return [s["name"] for s in reply.json()["items"]]

    assert names() == ["a", "b", "c", "clone"]
    assert names(name="b") == ["b"]
    assert names(name="b", pool="pool1") == []
    assert names(pool="pool1") == ["a", "c", "clone"]
    assert names(origin_snapshot_id=snap["id"]) == ["clone"]
    assert names(name="zzz") == []
    assert {b["id"], c["id"], clone["id"]} < {s["id"] for s in
                                              client.get(f"{API}/shares").json()["items"]}
    assert_error(client.get(f"{API}/shares", params={"name": "../a"}), 422, "INVALID")


def test_pagination_with_cursor(client: TestClient) -> None:
    for index in range(7):
        create_share(client, f"p{index}")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get(f"{API}/shares", params=params).json()
        seen += [s["name"] for s in body["items"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [f"p{i}" for i in range(7)] and pages == 3
    for limit in (7, 1000):
        full = client.get(f"{API}/shares", params={"limit": limit}).json()
        assert len(full["items"]) == 7 and full["next"] is None


def test_get_refreshes_used_bytes_from_allocated_blocks(client: TestClient, data_dir) -> None:
    share = create_share(client, "u")
    with open(share_dir(data_dir, share["id"]) / "sparse", "wb") as handle:
        handle.truncate(64 * MIB)
        handle.write(b"x" * MIB)
    used = client.get(f"{API}/shares/{share['id']}").json()["used_bytes"]
    assert MIB <= used < 2 * MIB


def test_resize(client: TestClient, data_dir) -> None:
    share = create_share(client, "r", quota_bytes=MIB)
    reply = client.patch(f"{API}/shares/{share['id']}", json={"quota_bytes": 3 * MIB - 5})
    assert reply.status_code == 200 and reply.json()["quota_bytes"] == 3 * MIB
    (share_dir(data_dir, share["id"]) / "f").write_bytes(b"x" * 2 * MIB)
    body = assert_error(client.patch(f"{API}/shares/{share['id']}", json={"quota_bytes": MIB}),
                        422, "INVALID")
    assert body["details"]["used_bytes"] >= 2 * MIB
    assert_error(client.patch(f"{API}/shares/{share['id']}", json={"quota_bytes": 11 * GIB}),
                 507, "NO_SPACE")
    reply = client.patch(f"{API}/shares/{share['id']}", json={"quota_bytes": None})
    assert reply.json()["quota_bytes"] == 0
    assert_error(client.patch(f"{API}/shares/{share['id']}", json={"quota_bytes": -1}),
                 422, "INVALID")


def test_rename(client: TestClient) -> None:
    share = create_share(client, "old")
    other = create_share(client, "other")
    reply = client.patch(f"{API}/shares/{share['id']}", json={"name": "new"})
    assert reply.status_code == 200
    assert reply.json()["path"] == "/pool1/new"
    assert reply.json()["exports"] == ["127.0.0.1:/pool1/new"]
    assert client.get(f"{API}/shares", params={"name": "old"}).json()["items"] == []
    body = assert_error(client.patch(f"{API}/shares/{share['id']}", json={"name": "other"}),
                        409, "ALREADY_EXISTS")
    assert body["details"]["id"] == other["id"]
    assert_error(client.patch(f"{API}/shares/{share['id']}", json={"name": "../x"}),
                 422, "INVALID")
    unchanged = client.patch(f"{API}/shares/{share['id']}", json={})
    assert unchanged.status_code == 200 and unchanged.json()["name"] == "new"


def test_delete(client: TestClient, data_dir) -> None:
    share = create_share(client, "d")
    (share_dir(data_dir, share["id"]) / "f").write_bytes(b"data")
    reply = client.delete(f"{API}/shares/{share['id']}")
    assert reply.status_code == 204 and reply.content == b""
    assert reply.headers["X-Request-Id"]
    assert not share_dir(data_dir, share["id"]).exists()
    assert_error(client.get(f"{API}/shares/{share['id']}"), 404, "NOT_FOUND")
    assert_error(client.delete(f"{API}/shares/{share['id']}"), 404, "NOT_FOUND")
    assert list((data_dir / "trash").iterdir()) == []


def test_delete_with_snapshots_needs_recursive(client: TestClient, data_dir) -> None:
    share = create_share(client, "d")
    snaps = [create_snapshot(client, share["id"], f"s{i}")["id"] for i in range(2)]
    body = assert_error(client.delete(f"{API}/shares/{share['id']}"), 409, "IN_USE")
    assert body["details"]["snapshots"] == snaps
    reply = client.delete(f"{API}/shares/{share['id']}", params={"recursive": "true"})
    assert reply.status_code == 204
    for snap in snaps:
        assert_error(client.get(f"{API}/snapshots/{snap}"), 404, "NOT_FOUND")
        assert not (data_dir / "snapshots" / snap).exists()


def test_recursive_delete_never_deletes_cloned_snapshots(client: TestClient) -> None:
    share = create_share(client, "o")
    free = create_snapshot(client, share["id"], "free")
    used = create_snapshot(client, share["id"], "used")
    clone = create_share(client, "c", origin_snapshot_id=used["id"])
    body = assert_error(client.delete(f"{API}/shares/{share['id']}?recursive=true"),
                        409, "IN_USE")
    assert body["details"] == {"snapshots": [used["id"]], "clones": [clone["id"]]}
    assert client.get(f"{API}/snapshots/{free['id']}").status_code == 200
    assert client.get(f"{API}/shares/{share['id']}").status_code == 200
    assert client.delete(f"{API}/shares/{clone['id']}").status_code == 204
    assert client.get(f"{API}/snapshots/{used['id']}").json()["clones"] == []
    assert client.delete(f"{API}/shares/{share['id']}?recursive=true").status_code == 204
