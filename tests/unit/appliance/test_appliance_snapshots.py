"""Snapshots: create, list, get, delete, sparse copies, clones, rollback."""

from __future__ import annotations

import os
import stat

import pytest
from appliance_helpers import (API, MIB, assert_error, create_share, create_snapshot,
                               share_dir, snapshot_dir)
from fastapi.testclient import TestClient
from test_appliance_shares import RFC3339


def write_sparse(path, size: int = 64 * MIB, data: int = MIB) -> None:
    """A file of `size` bytes with `data` bytes of data in the middle, the rest holes."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        handle.seek(size // 2)
        handle.write(b"\xa5" * data)


@pytest.fixture
def share(client: TestClient) -> dict:
    return create_share(client, "src", quota_bytes=128 * MIB)


def test_create_snapshot_object(client: TestClient, share: dict, data_dir) -> None:
    (share_dir(data_dir, share["id"]) / "f").write_bytes(b"hello")
    snap = create_snapshot(client, share["id"], "s1")
    assert set(snap) == {"id", "name", "share_id", "created_at", "used_bytes", "clones"}
    assert snap["name"] == "s1" and snap["share_id"] == share["id"]
    assert snap["clones"] == [] and snap["used_bytes"] > 0
    assert RFC3339.match(snap["created_at"])
    assert (snapshot_dir(data_dir, snap["id"]) / "f").read_bytes() == b"hello"


def test_snapshot_is_read_only_point_in_time(client: TestClient, share: dict, data_dir) -> None:
    path = share_dir(data_dir, share["id"]) / "f"
    path.write_bytes(b"before")
    os.chmod(path, 0o666)
    snap = create_snapshot(client, share["id"], "s1")
    path.write_bytes(b"after")
    copy = snapshot_dir(data_dir, snap["id"])
    assert (copy / "f").read_bytes() == b"before"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o555
    assert stat.S_IMODE((copy / "f").stat().st_mode) == 0o666


def test_snapshot_keeps_sparse_files_sparse(client: TestClient, share: dict, data_dir) -> None:
    write_sparse(share_dir(data_dir, share["id"]) / "volume")
    snap = create_snapshot(client, share["id"], "s1")
    copy = snapshot_dir(data_dir, snap["id"]) / "volume"
    assert copy.stat().st_size == 64 * MIB
    assert copy.stat().st_blocks * 512 <= 2 * MIB
    assert MIB <= snap["used_bytes"] <= 2 * MIB
    with open(copy, "rb") as handle:
        handle.seek(32 * MIB)
        assert handle.read(MIB) == b"\xa5" * MIB
        handle.seek(0)
        assert handle.read(4096) == bytes(4096)


def test_duplicate_snapshot_name_is_409(client: TestClient, share: dict) -> None:
    snap = create_snapshot(client, share["id"], "s1")
    body = assert_error(client.post(f"{API}/shares/{share['id']}/snapshots",
                                    json={"name": "s1"}), 409, "ALREADY_EXISTS")
    assert body["details"]["id"] == snap["id"]
    other = create_share(client, "other")
    assert create_snapshot(client, other["id"], "s1")["share_id"] == other["id"]


def test_list_get_and_filter(client: TestClient, share: dict) -> None:
    snaps = [create_snapshot(client, share["id"], f"s{i}") for i in range(5)]
    listed = client.get(f"{API}/shares/{share['id']}/snapshots").json()
    assert listed == {"items": snaps, "next": None}
    found = client.get(f"{API}/shares/{share['id']}/snapshots", params={"name": "s3"}).json()
    assert found["items"] == [snaps[3]]
    page = client.get(f"{API}/shares/{share['id']}/snapshots", params={"limit": 2}).json()
    assert page["items"] == snaps[:2]
    rest = client.get(f"{API}/shares/{share['id']}/snapshots",
                      params={"limit": 10, "cursor": page["next"]}).json()
    assert rest["items"] == snaps[2:] and rest["next"] is None
    assert client.get(f"{API}/snapshots/{snaps[1]['id']}").json() == snaps[1]
    assert client.get(f"{API}/shares/{share['id']}/snapshots/{snaps[1]['id']}").json() == snaps[1]
    assert_error(client.get(f"{API}/snapshots/nope"), 404, "NOT_FOUND")
    assert_error(client.get(f"{API}/shares/nope/snapshots"), 404, "NOT_FOUND")
    other = create_share(client, "other")
    assert_error(client.get(f"{API}/shares/{other['id']}/snapshots/{snaps[0]['id']}"),
                 404, "NOT_FOUND")
    assert_error(client.get(f"{API}/shares/{share['id']}/snapshots", params={"name": "a/b"}),
                 422, "INVALID")


def test_delete_snapshot(client: TestClient, share: dict, data_dir) -> None:
    snap = create_snapshot(client, share["id"], "s1")
    other = create_share(client, "other")
    assert_error(client.delete(f"{API}/shares/{other['id']}/snapshots/{snap['id']}"),
                 404, "NOT_FOUND")
    assert client.delete(f"{API}/shares/{share['id']}/snapshots/{snap['id']}").status_code == 204
    assert not snapshot_dir(data_dir, snap["id"]).exists()
    assert_error(client.delete(f"{API}/shares/{share['id']}/snapshots/{snap['id']}"),
                 404, "NOT_FOUND")


def test_clone_starts_with_the_snapshot_files(client: TestClient, share: dict, data_dir) -> None:
    source = share_dir(data_dir, share["id"])
    (source / "sub").mkdir()
    (source / "sub" / "f").write_bytes(b"one")
    os.symlink("sub/f", source / "link")
    write_sparse(source / "volume")
    snap = create_snapshot(client, share["id"], "s1")
    (source / "sub" / "f").write_bytes(b"two")
    clone = create_share(client, "clone", origin_snapshot_id=snap["id"])
    assert clone["origin_snapshot_id"] == snap["id"]
    assert clone["quota_bytes"] == share["quota_bytes"]
    target = share_dir(data_dir, clone["id"])
    assert (target / "sub" / "f").read_bytes() == b"one"
    assert os.readlink(target / "link") == "sub/f"
    assert (target / "volume").stat().st_size == 64 * MIB
    assert (target / "volume").stat().st_blocks * 512 <= 2 * MIB
    assert os.access(target, os.W_OK) and stat.S_IMODE(target.stat().st_mode) & 0o200
    (target / "sub" / "f").write_bytes(b"clone")
    assert (snapshot_dir(data_dir, snap["id"]) / "sub" / "f").read_bytes() == b"one"
    assert client.get(f"{API}/snapshots/{snap['id']}").json()["clones"] == [clone["id"]]


def test_clone_rules(client: TestClient, share: dict) -> None:
    snap = create_snapshot(client, share["id"], "s1")
    assert_error(client.post(f"{API}/shares", json={
        "name": "c", "pool": "pool1", "origin_snapshot_id": "nope"}), 404, "NOT_FOUND")
    assert_error(client.post(f"{API}/shares", json={
        "name": "c", "pool": "pool2", "origin_snapshot_id": snap["id"]}), 422, "INVALID")
    explicit = create_share(client, "c", origin_snapshot_id=snap["id"], quota_bytes=2 * MIB)
    assert explicit["quota_bytes"] == 2 * MIB


def test_snapshot_with_clones_cannot_be_deleted(client: TestClient, share: dict) -> None:
    snap = create_snapshot(client, share["id"], "s1")
    clones = [create_share(client, f"c{i}", origin_snapshot_id=snap["id"])["id"]
              for i in range(2)]
    body = assert_error(client.delete(f"{API}/shares/{share['id']}/snapshots/{snap['id']}"),
                        409, "IN_USE")
    assert body["details"] == {"clones": clones}
    for clone in clones:
        assert client.delete(f"{API}/shares/{clone}").status_code == 204
    assert client.delete(f"{API}/shares/{share['id']}/snapshots/{snap['id']}").status_code == 204


def test_snapshot_needs_space_in_the_pool(client: TestClient, data_dir) -> None:
    share = create_share(client, "tiny", pool="pool2")
    (share_dir(data_dir, share["id"]) / "f").write_bytes(b"x" * 40 * MIB)
    client.get(f"{API}/shares/{share['id']}")
    assert_error(client.post(f"{API}/shares/{share['id']}/snapshots", json={"name": "s"}),
                 507, "NO_SPACE")
    assert list((data_dir / "snapshots").iterdir()) == []
    assert list((data_dir / "tmp").iterdir()) == []


def test_rollback_restores_content(client: TestClient, share: dict, data_dir) -> None:
    source = share_dir(data_dir, share["id"])
    (source / "keep").write_bytes(b"v1")
    write_sparse(source / "volume")
    snap = create_snapshot(client, share["id"], "s1")
    (source / "keep").write_bytes(b"v2")
    (source / "new").write_bytes(b"junk")
    (source / "volume").unlink()
    reply = client.post(f"{API}/shares/{share['id']}/snapshots/{snap['id']}/rollback")
    assert reply.status_code == 200 and reply.json()["id"] == share["id"]
    assert (source / "keep").read_bytes() == b"v1"
    assert not (source / "new").exists()
    assert (source / "volume").stat().st_blocks * 512 <= 2 * MIB
    assert MIB <= reply.json()["used_bytes"] <= 2 * MIB
    assert os.access(source, os.W_OK)
    assert list((data_dir / "tmp").iterdir()) == [] and list((data_dir / "trash").iterdir()) == []


def test_rollback_with_newer_snapshots(client: TestClient, share: dict, data_dir) -> None:
    old = create_snapshot(client, share["id"], "old")
    newer = [create_snapshot(client, share["id"], f"n{i}")["id"] for i in range(2)]
    url = f"{API}/shares/{share['id']}/snapshots/{old['id']}/rollback"
    body = assert_error(client.post(url), 409, "IN_USE")
    assert body["details"] == {"newer_snapshots": newer}
    assert_error(client.post(url, json={"destroy_newer": False}), 409, "IN_USE")
    clone = create_share(client, "c", origin_snapshot_id=newer[1])
    body = assert_error(client.post(url, json={"destroy_newer": True}), 409, "IN_USE")
    assert body["details"] == {"snapshots": [newer[1]], "clones": [clone["id"]]}
    assert len(client.get(f"{API}/shares/{share['id']}/snapshots").json()["items"]) == 3
    client.delete(f"{API}/shares/{clone['id']}")
    assert client.post(url, json={"destroy_newer": True}).status_code == 200
    remaining = client.get(f"{API}/shares/{share['id']}/snapshots").json()["items"]
    assert [s["id"] for s in remaining] == [old["id"]]
    assert not any(snapshot_dir(data_dir, sid).exists() for sid in newer)
    assert_error(client.post(url, json={"destroy_newer": "yes"}), 422, "INVALID")


def test_rollback_unknown_snapshot_is_404(client: TestClient, share: dict) -> None:
    other = create_share(client, "other")
    snap = create_snapshot(client, other["id"], "s")
    assert_error(client.post(f"{API}/shares/{share['id']}/snapshots/{snap['id']}/rollback"),
                 404, "NOT_FOUND")
