"""PATCH /shares/{id}/snapshots/{sid} {"name"}: rename a snapshot and nothing else."""

from __future__ import annotations

import uuid

from appliance_helpers import (API, assert_error, create_share, create_snapshot,
                               restarted, share_dir, snapshot_dir)
from fastapi.testclient import TestClient


def url(share_id: str, snapshot_id: str) -> str:
    return f"{API}/shares/{share_id}/snapshots/{snapshot_id}"


def rename(client: TestClient, share_id: str, snapshot_id: str, name: str) -> dict:
    reply = client.patch(url(share_id, snapshot_id), json={"name": name})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_rename_changes_only_the_name_and_frees_the_old_one(client: TestClient) -> None:
    share, other = create_share(client, "vol"), create_share(client, "other")
    snap = create_snapshot(client, share["id"], "before")
    assert rename(client, share["id"], snap["id"], "before") == snap  # the current name: 200
    renamed = rename(client, share["id"], snap["id"], "after")
    assert renamed == {**snap, "name": "after"}
    assert client.get(f"{API}/snapshots/{snap['id']}").json() == renamed
    assert client.get(url(share["id"], snap["id"])).json() == renamed
    listed = client.get(f"{API}/shares/{share['id']}/snapshots", params={"name": "after"}).json()
    assert listed["items"] == [renamed]
    old = client.get(f"{API}/shares/{share['id']}/snapshots", params={"name": "before"}).json()
    assert old["items"] == []
    assert create_snapshot(client, share["id"], "before")["id"] != snap["id"]
    theirs = create_snapshot(client, other["id"], "x")  # a name another share's snapshot has
    assert rename(client, other["id"], theirs["id"], "after")["name"] == "after"


def test_a_name_another_snapshot_has_is_409_with_its_id(client: TestClient) -> None:
    share = create_share(client, "vol")
    first = create_snapshot(client, share["id"], "first")
    second = create_snapshot(client, share["id"], "second")
    body = assert_error(client.patch(url(share["id"], second["id"]), json={"name": "first"}),
                        409, "ALREADY_EXISTS")
    assert body["details"]["id"] == first["id"]
    assert client.get(url(share["id"], second["id"])).json()["name"] == "second"


def test_unknown_share_or_snapshot_is_404(client: TestClient) -> None:
    share, other = create_share(client, "vol"), create_share(client, "other")
    snap = create_snapshot(client, share["id"], "s")
    for share_id, snapshot_id in ((str(uuid.uuid4()), snap["id"]),
                                  (share["id"], str(uuid.uuid4())),
                                  (other["id"], snap["id"]), ("nope", "nope")):
        assert_error(client.patch(url(share_id, snapshot_id), json={"name": "x"}),
                     404, "NOT_FOUND")
    assert client.get(f"{API}/snapshots/{snap['id']}").json()["name"] == "s"


def test_rename_keeps_content_clones_and_rollback_order(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol")
    path = share_dir(data_dir, share["id"])
    (path / "f").write_bytes(b"old")
    older = create_snapshot(client, share["id"], "a-older")
    clone = create_share(client, "clone", origin_snapshot_id=older["id"])
    (path / "f").write_bytes(b"new")
    newer = create_snapshot(client, share["id"], "b-newer")
    # Names that sort the other way round must not change which snapshot is newer.
    rename(client, share["id"], older["id"], "z-older")
    rename(client, share["id"], newer["id"], "a-newer")
    assert (snapshot_dir(data_dir, older["id"]) / "f").read_bytes() == b"old"
    assert client.get(f"{API}/snapshots/{older['id']}").json()["clones"] == [clone["id"]]
    assert client.get(f"{API}/shares/{clone['id']}").json()["origin_snapshot_id"] == older["id"]
    items = client.get(f"{API}/shares/{share['id']}/snapshots").json()["items"]
    assert [s["id"] for s in items] == [older["id"], newer["id"]]
    body = assert_error(client.post(f"{url(share['id'], older['id'])}/rollback"), 409, "IN_USE")
    assert body["details"]["newer_snapshots"] == [newer["id"]]
    reply = client.post(f"{url(share['id'], older['id'])}/rollback", json={"destroy_newer": True})
    assert reply.status_code == 200, reply.text
    assert (path / "f").read_bytes() == b"old"


def test_rename_survives_a_restart(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol")
    snap = create_snapshot(client, share["id"], "before")
    renamed = rename(client, share["id"], snap["id"], "after")
    with restarted(client, data_dir) as again:
        assert again.get(f"{API}/snapshots/{snap['id']}").json() == renamed
        assert_error(again.post(f"{API}/shares/{share['id']}/snapshots", json={"name": "after"}),
                     409, "ALREADY_EXISTS")


def test_rename_needs_a_token(anon: TestClient) -> None:
    assert_error(anon.patch(url(str(uuid.uuid4()), str(uuid.uuid4())), json={"name": "x"}),
                 401, "UNAUTHORIZED")
