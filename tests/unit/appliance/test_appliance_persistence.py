"""Restart persistence and crash safety of the data directory."""

from __future__ import annotations

import os
import uuid

import pytest
from appliance_helpers import (API, MIB, assert_error, create_share, create_snapshot, restarted,
                               share_dir, snapshot_dir)
from fastapi.testclient import TestClient

from acme_appliance.storage import Storage


class PowerLoss(Exception):
    """Stands for the process dying at this point: no cleanup code runs after it."""


def test_everything_survives_a_restart(client: TestClient, data_dir) -> None:
    share = create_share(client, "keep", quota_bytes=5 * MIB,
                         nfs={"enabled": True, "rules": [{"clients": "*", "access": "ro"}]})
    (share_dir(data_dir, share["id"]) / "f").write_bytes(b"persist")
    snap = create_snapshot(client, share["id"], "s")
    clone = create_share(client, "clone", origin_snapshot_id=snap["id"])
    before = {
        "shares": client.get(f"{API}/shares").json(),
        "snaps": client.get(f"{API}/shares/{share['id']}/snapshots").json(),
        "pools": client.get(f"{API}/pools").json()}
    with restarted(client, data_dir) as again:
        assert again.get(f"{API}/shares").json() == before["shares"]
        assert again.get(f"{API}/shares/{share['id']}/snapshots").json() == before["snaps"]
        assert again.get(f"{API}/pools").json() == before["pools"]
        assert again.get(f"{API}/snapshots/{snap['id']}").json()["clones"] == [clone["id"]]
        assert (share_dir(data_dir, clone["id"]) / "f").read_bytes() == b"persist"
        assert_error(again.post(f"{API}/shares", json={"name": "keep", "pool": "pool1"}),
                     409, "ALREADY_EXISTS")


def test_leftovers_are_cleaned_at_start(client: TestClient, data_dir) -> None:
    share = create_share(client, "real")
    stray_tmp = data_dir / "tmp" / str(uuid.uuid4())
    (stray_tmp / "half").mkdir(parents=True)
    orphan = data_dir / "shares" / str(uuid.uuid4())
    orphan.mkdir()
    orphan_snap = data_dir / "snapshots" / str(uuid.uuid4())
    orphan_snap.mkdir()
    os.chmod(orphan_snap, 0o555)
    (data_dir / "trash" / "junk").mkdir()
    with restarted(client, data_dir) as again:
        assert not stray_tmp.exists() and not orphan.exists() and not orphan_snap.exists()
        assert list((data_dir / "trash").iterdir()) == []
        assert [s["id"] for s in again.get(f"{API}/shares").json()["items"]] == [share["id"]]
        assert share_dir(data_dir, share["id"]).is_dir()


def test_crash_before_commit_leaves_no_share(client: TestClient, data_dir,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.appliance.store

    def crash(*args, **kwargs):
        raise PowerLoss()

    monkeypatch.setattr(store, "insert_share", crash)
    monkeypatch.setattr(Storage, "remove", lambda self, path: None)
    assert_error(client.post(f"{API}/shares", json={"name": "half", "pool": "pool1"}),
                 500, "INTERNAL")
    assert len(list((data_dir / "tmp").iterdir())) == 1
    monkeypatch.undo()
    with restarted(client, data_dir) as again:
        assert again.get(f"{API}/shares").json()["items"] == []
        assert list((data_dir / "tmp").iterdir()) == []
        assert list((data_dir / "shares").iterdir()) == []
        assert create_share(again, "half")["name"] == "half"


def test_crash_after_commit_completes_the_share(client: TestClient, data_dir,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self, staged, final):
        raise PowerLoss()

    monkeypatch.setattr(Storage, "publish", crash)
    assert_error(client.post(f"{API}/shares", json={"name": "committed", "pool": "pool1"}),
                 500, "INTERNAL")
    staged = list((data_dir / "tmp").iterdir())
    assert len(staged) == 1 and list((data_dir / "shares").iterdir()) == []
    monkeypatch.undo()
    with restarted(client, data_dir) as again:
        items = again.get(f"{API}/shares").json()["items"]
        assert [s["name"] for s in items] == ["committed"]
        assert share_dir(data_dir, items[0]["id"]).is_dir()
        assert list((data_dir / "tmp").iterdir()) == []


def test_crash_during_snapshot_copy(client: TestClient, data_dir,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    share = create_share(client, "s")
    (share_dir(data_dir, share["id"]) / "f").write_bytes(b"x")
    real = Storage.stage_copy

    def crash(self, source, object_id, read_only=False):
        real(self, source, object_id, read_only)
        raise PowerLoss()

    monkeypatch.setattr(Storage, "stage_copy", crash)
    assert_error(client.post(f"{API}/shares/{share['id']}/snapshots", json={"name": "snap"}),
                 500, "INTERNAL")
    monkeypatch.undo()
    with restarted(client, data_dir) as again:
        assert again.get(f"{API}/shares/{share['id']}/snapshots").json()["items"] == []
        assert list((data_dir / "tmp").iterdir()) == []
        assert list((data_dir / "snapshots").iterdir()) == []


def test_crash_in_the_middle_of_rollback_keeps_one_whole_tree(
        client: TestClient, data_dir, monkeypatch: pytest.MonkeyPatch) -> None:
    share = create_share(client, "r")
    path = share_dir(data_dir, share["id"])
    (path / "f").write_bytes(b"old")
    snap = create_snapshot(client, share["id"], "s")
    (path / "f").write_bytes(b"new")
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append(dst)
        real_rename(src, dst)
        if len(calls) == 1:
            raise PowerLoss("between the two renames")

    monkeypatch.setattr(os, "rename", rename)
    assert_error(client.post(f"{API}/shares/{share['id']}/snapshots/{snap['id']}/rollback"),
                 500, "INTERNAL")
    monkeypatch.undo()
    assert not path.exists()
    with restarted(client, data_dir) as again:
        assert (path / "f").read_bytes() == b"old"
        assert again.get(f"{API}/shares/{share['id']}").status_code == 200
        assert snapshot_dir(data_dir, snap["id"]).is_dir()
