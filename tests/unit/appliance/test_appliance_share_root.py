"""Root ownership of a share's directory (v1.1): create, PATCH, clones, rollback, restart."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from appliance_helpers import (API, MIB, assert_error, create_share, create_snapshot, restarted,
                               share_dir)
from fastapi.testclient import TestClient

from acme_appliance.context import STATE_FILE

CINDER = {"uid": 165, "gid": 165, "mode": "0770"}
EXPORT_ALL = {"enabled": True, "rules": [{"clients": "*", "access": "rw"}]}


def on_disk(path) -> dict:
    """What an NFS client sees at the top of the export: owner, group and permission bits."""
    st = os.stat(path)
    return {"uid": st.st_uid, "gid": st.st_gid, "mode": f"{stat.S_IMODE(st.st_mode):04o}"}


def exported_dir(client: TestClient, share_id: str):
    """The directory nfs-ganesha is told to export for the share."""
    specs = client.app.state.appliance.export_specs()
    return next(spec.directory for spec in specs if spec.directory.name == share_id)


def patch_root(client: TestClient, share_id: str, root: dict) -> dict:
    reply = client.patch(f"{API}/shares/{share_id}", json={"root": root})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_default_root_is_root_0755(client: TestClient, data_dir) -> None:
    share = create_share(client, "plain")
    assert share["root"] == {"uid": 0, "gid": 0, "mode": "0755"}
    assert on_disk(share_dir(data_dir, share["id"])) == share["root"]


def test_create_applies_root_to_the_exported_directory(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol", root=CINDER, nfs=EXPORT_ALL)
    assert share["root"] == CINDER
    assert exported_dir(client, share["id"]) == share_dir(data_dir, share["id"])
    assert on_disk(exported_dir(client, share["id"])) == CINDER
    assert client.get(f"{API}/shares/{share['id']}").json()["root"] == CINDER


@pytest.mark.parametrize("root, expected", [
    ({"mode": "770"}, {"uid": 0, "gid": 0, "mode": "0770"}),
    ({"uid": 1000}, {"uid": 1000, "gid": 0, "mode": "0755"}),
    ({"uid": 2**31 - 1, "gid": 2**31 - 1, "mode": "0000"},
     {"uid": 2**31 - 1, "gid": 2**31 - 1, "mode": "0000"}),
    ({}, {"uid": 0, "gid": 0, "mode": "0755"}),
    (None, {"uid": 0, "gid": 0, "mode": "0755"}),
])
def test_keys_left_out_take_the_defaults(client: TestClient, data_dir, root, expected) -> None:
    share = create_share(client, "vol", root=root)
    assert share["root"] == expected
    assert on_disk(share_dir(data_dir, share["id"])) == expected


def test_patch_with_only_root_changes_only_ownership(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol", quota_bytes=8 * MIB, nfs=EXPORT_ALL)
    path = share_dir(data_dir, share["id"])
    (path / "volume-1").write_bytes(b"data")
    os.chown(path / "volume-1", 42, 43)
    updated = patch_root(client, share["id"], CINDER)
    assert updated == {**share, "root": CINDER, "used_bytes": updated["used_bytes"]}
    assert on_disk(path) == CINDER
    assert (path / "volume-1").read_bytes() == b"data"
    assert (os.stat(path / "volume-1").st_uid, os.stat(path / "volume-1").st_gid) == (42, 43)


def test_patch_keeps_the_keys_it_does_not_give(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol", root=CINDER)
    assert patch_root(client, share["id"], {"mode": "0750"})["root"] == {**CINDER, "mode": "0750"}
    assert patch_root(client, share["id"], {"gid": 7})["root"] == {
        "uid": 165, "gid": 7, "mode": "0750"}
    assert on_disk(share_dir(data_dir, share["id"])) == {"uid": 165, "gid": 7, "mode": "0750"}


def test_patch_root_together_with_rename_and_resize(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol")
    reply = client.patch(f"{API}/shares/{share['id']}",
                         json={"name": "renamed", "quota_bytes": MIB, "root": CINDER})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["name"], reply.json()["quota_bytes"]) == ("renamed", MIB)
    assert reply.json()["root"] == CINDER
    assert on_disk(share_dir(data_dir, share["id"])) == CINDER


def test_failed_patch_leaves_root_alone(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol")
    create_share(client, "taken")
    assert_error(client.patch(f"{API}/shares/{share['id']}",
                              json={"name": "taken", "root": CINDER}), 409, "ALREADY_EXISTS")
    assert on_disk(share_dir(data_dir, share["id"])) == {"uid": 0, "gid": 0, "mode": "0755"}
    assert_error(client.patch(f"{API}/shares/nope", json={"root": CINDER}), 404, "NOT_FOUND")


def test_clone_without_root_keeps_the_snapshots(client: TestClient, data_dir) -> None:
    origin = create_share(client, "origin", root=CINDER)
    snap = create_snapshot(client, origin["id"], "s")
    patch_root(client, origin["id"], {"uid": 1, "gid": 2, "mode": "0700"})
    clone = create_share(client, "clone", origin_snapshot_id=snap["id"])
    assert clone["root"] == CINDER
    assert on_disk(share_dir(data_dir, clone["id"])) == CINDER


def test_clone_with_root_gets_the_given_one(client: TestClient, data_dir) -> None:
    origin = create_share(client, "origin", root=CINDER)
    snap = create_snapshot(client, origin["id"], "s")
    full = create_share(client, "c1", origin_snapshot_id=snap["id"],
                        root={"uid": 5, "gid": 6, "mode": "0711"})
    partial = create_share(client, "c2", origin_snapshot_id=snap["id"], root={"mode": "0750"})
    assert on_disk(share_dir(data_dir, full["id"])) == {"uid": 5, "gid": 6, "mode": "0711"}
    assert partial["root"] == {**CINDER, "mode": "0750"}
    assert on_disk(share_dir(data_dir, partial["id"])) == partial["root"]


def test_rollback_restores_the_snapshots_root(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol", root=CINDER)
    snap = create_snapshot(client, share["id"], "s")
    patch_root(client, share["id"], {"uid": 1, "gid": 1, "mode": "0700"})
    reply = client.post(f"{API}/shares/{share['id']}/snapshots/{snap['id']}/rollback")
    assert reply.status_code == 200, reply.text
    assert reply.json()["root"] == CINDER
    assert on_disk(share_dir(data_dir, share["id"])) == CINDER


def test_a_change_made_over_nfs_shows_in_get(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol", root=CINDER)
    os.chmod(share_dir(data_dir, share["id"]), 0o777)
    assert client.get(f"{API}/shares/{share['id']}").json()["root"] == {**CINDER, "mode": "0777"}
    assert patch_root(client, share["id"], {"uid": 165})["root"] == {**CINDER, "mode": "0777"}
    assert patch_root(client, share["id"], CINDER)["root"] == CINDER
    assert on_disk(share_dir(data_dir, share["id"])) == CINDER


def test_root_survives_a_restart(client: TestClient, data_dir) -> None:
    share = create_share(client, "vol", root=CINDER)
    patch_root(client, share["id"], {"mode": "0750"})
    snap = create_snapshot(client, share["id"], "s")
    with restarted(client, data_dir) as again:
        assert again.get(f"{API}/shares/{share['id']}").json()["root"] == {
            **CINDER, "mode": "0750"}
        assert on_disk(share_dir(data_dir, share["id"])) == {**CINDER, "mode": "0750"}
        clone = create_share(again, "clone", origin_snapshot_id=snap["id"])
        assert clone["root"] == {**CINDER, "mode": "0750"}


def test_a_share_directory_lost_in_a_crash_comes_back_with_its_root(
        client: TestClient, data_dir) -> None:
    share = create_share(client, "vol", root=CINDER)
    client.app.state.appliance.store.close()
    os.rmdir(share_dir(data_dir, share["id"]))
    with restarted(client, data_dir):
        assert on_disk(share_dir(data_dir, share["id"])) == CINDER


def test_a_database_from_before_v1_1_is_upgraded(client: TestClient, data_dir) -> None:
    share = create_share(client, "old")
    snap = create_snapshot(client, share["id"], "s")
    client.app.state.appliance.store.close()
    with sqlite3.connect(data_dir / STATE_FILE) as db:
        for table in ("shares", "snapshots"):
            for column in ("root_uid", "root_gid", "root_mode"):
                db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    with restarted(client, data_dir) as again:
        assert again.get(f"{API}/shares/{share['id']}").json()["root"] == {
            "uid": 0, "gid": 0, "mode": "0755"}
        clone = create_share(again, "clone", origin_snapshot_id=snap["id"])
        assert clone["root"] == {"uid": 0, "gid": 0, "mode": "0755"}


def test_an_owner_the_appliance_may_not_set_is_403(client: TestClient, data_dir,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    share = create_share(client, "vol")

    def refused(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", refused)
    assert_error(client.post(f"{API}/shares", json={"name": "v2", "pool": "pool1",
                                                    "root": CINDER}), 403, "FORBIDDEN")
    assert list((data_dir / "tmp").iterdir()) == []
    assert_error(client.patch(f"{API}/shares/{share['id']}", json={"root": CINDER}),
                 403, "FORBIDDEN")
    assert client.get(f"{API}/shares/{share['id']}").json()["root"] == share["root"]
    assert [s["name"] for s in client.get(f"{API}/shares").json()["items"]] == ["vol"]
