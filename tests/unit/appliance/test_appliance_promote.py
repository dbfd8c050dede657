"""ZFS-style promote and deleting the origin afterwards."""

from __future__ import annotations

from appliance_helpers import API, assert_error, create_share, create_snapshot, share_dir
from fastapi.testclient import TestClient


def test_promote_non_clone_is_422(client: TestClient) -> None:
    share = create_share(client, "plain")
    body = assert_error(client.post(f"{API}/shares/{share['id']}/promote"), 422, "INVALID")
    assert body["details"]["id"] == share["id"]
    assert_error(client.post(f"{API}/shares/nope/promote"), 404, "NOT_FOUND")


def test_promote_moves_snapshot_and_older_ones(client: TestClient, data_dir) -> None:
    origin = create_share(client, "origin")
    (share_dir(data_dir, origin["id"]) / "f").write_bytes(b"data")
    s1 = create_snapshot(client, origin["id"], "s1")
    s2 = create_snapshot(client, origin["id"], "s2")
    s3 = create_snapshot(client, origin["id"], "s3")
    clone = create_share(client, "clone", origin_snapshot_id=s2["id"])
    sibling = create_share(client, "sibling", origin_snapshot_id=s1["id"])

    reply = client.post(f"{API}/shares/{clone['id']}/promote")
    assert reply.status_code == 200
    assert reply.json()["id"] == clone["id"] and reply.json()["origin_snapshot_id"] is None

    moved = client.get(f"{API}/shares/{clone['id']}/snapshots").json()["items"]
    assert [s["id"] for s in moved] == [s1["id"], s2["id"]]
    assert all(s["share_id"] == clone["id"] for s in moved)
    kept = client.get(f"{API}/shares/{origin['id']}/snapshots").json()["items"]
    assert [s["id"] for s in kept] == [s3["id"]]
    assert client.get(f"{API}/shares/{origin['id']}").json()["origin_snapshot_id"] == s2["id"]
    assert client.get(f"{API}/snapshots/{s2['id']}").json()["clones"] == [origin["id"]]
    assert client.get(f"{API}/shares/{sibling['id']}").json()["origin_snapshot_id"] == s1["id"]
    assert client.get(f"{API}/snapshots/{s1['id']}").json()["share_id"] == clone["id"]

    assert_error(client.delete(f"{API}/shares/{origin['id']}"), 409, "IN_USE")
    assert client.delete(f"{API}/shares/{origin['id']}?recursive=true").status_code == 204
    assert client.get(f"{API}/snapshots/{s2['id']}").json()["clones"] == []
    assert (share_dir(data_dir, clone["id"]) / "f").read_bytes() == b"data"
    assert_error(client.delete(f"{API}/shares/{clone['id']}/snapshots/{s1['id']}"),
                 409, "IN_USE")


def test_promote_clone_of_a_clone_takes_the_origins_origin(client: TestClient) -> None:
    base = create_share(client, "base")
    t = create_snapshot(client, base["id"], "t")
    middle = create_share(client, "middle", origin_snapshot_id=t["id"])
    s = create_snapshot(client, middle["id"], "s")
    top = create_share(client, "top", origin_snapshot_id=s["id"])
    promoted = client.post(f"{API}/shares/{top['id']}/promote").json()
    assert promoted["origin_snapshot_id"] == t["id"]
    assert client.get(f"{API}/shares/{middle['id']}").json()["origin_snapshot_id"] == s["id"]
    assert sorted(client.get(f"{API}/snapshots/{t['id']}").json()["clones"]) == [top["id"]]


def test_promote_name_clash_is_409(client: TestClient) -> None:
    origin = create_share(client, "origin")
    snap = create_snapshot(client, origin["id"], "daily")
    clone = create_share(client, "clone", origin_snapshot_id=snap["id"])
    own = create_snapshot(client, clone["id"], "daily")
    body = assert_error(client.post(f"{API}/shares/{clone['id']}/promote"), 409, "ALREADY_EXISTS")
    assert body["details"]["id"] == own["id"]
    assert client.get(f"{API}/snapshots/{snap['id']}").json()["share_id"] == origin["id"]
