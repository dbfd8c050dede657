"""Trees any NFS client can build: 1,200 levels, paths longer than PATH_MAX (issue 13)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from appliance_helpers import (API, assert_error, create_share, create_snapshot, restarted,
                               share_dir, snapshot_dir)
from fastapi.testclient import TestClient

from acme_appliance import context, storage, trees

LEVELS = 1200
NAME = "level-dir"  # 1,200 levels of it make a path of 12,000 bytes, three times PATH_MAX
LEAF = b"at the bottom\n"


def _bottom(root: Path, levels: int, make: bool) -> int:
    """A descriptor of the directory ``levels`` below root (made on the way when ``make``),
    reached relative to descriptors: the path is longer than PATH_MAX."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _level in range(levels):
        if make:
            os.mkdir(NAME, dir_fd=fd)
        deeper = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    return fd


def build_deep_tree(root: Path, levels: int = LEVELS) -> None:
    """levels nested directories below root, a file at the end."""
    fd = _bottom(root, levels, make=True)
    leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, LEAF)
    os.close(leaf)
    os.close(fd)


def read_leaf(root: Path, levels: int = LEVELS) -> bytes:
    fd = _bottom(root, levels, make=False)
    leaf = os.open("leaf", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    try:
        return os.read(leaf, 100)
    finally:
        os.close(leaf)


def assert_nothing_left(data_dir: Path) -> None:
    for area in ("tmp", "trash", "shares", "snapshots"):
        assert list((data_dir / area).iterdir()) == [], area


@pytest.fixture(autouse=True)
def remove_deep_trees(data_dir: Path) -> Iterator[None]:
    """pytest's own clean-up of old temporary directories recurses (shutil.rmtree) and builds
    paths: it cannot remove these trees, so each test removes its own, descriptor-relative."""
    yield
    trash = data_dir / "trash"
    for area in ("shares", "snapshots", "tmp", "trash"):
        for path in list((data_dir / area).iterdir()) if (data_dir / area).is_dir() else []:
            name = f"cleanup-{path.name}"
            os.rename(path, trash / name)
            fd = trees.open_dir(trash)
            try:
                trees.purge(fd, name)
            finally:
                os.close(fd)


@pytest.fixture
def deep_share(client: TestClient, data_dir: Path) -> dict:
    share = create_share(client, "deep")
    build_deep_tree(share_dir(data_dir, share["id"]))
    return share


def test_snapshot_clone_get_and_rollback_of_a_deep_tree(
        client: TestClient, data_dir: Path, deep_share: dict) -> None:
    share_id = deep_share["id"]
    snap = create_snapshot(client, share_id, "s")
    assert read_leaf(snapshot_dir(data_dir, snap["id"])) == LEAF
    assert snap["used_bytes"] >= LEVELS * 4096
    got = client.get(f"{API}/shares/{share_id}")
    assert got.status_code == 200 and got.json()["used_bytes"] >= LEVELS * 4096
    clone = create_share(client, "clone", origin_snapshot_id=snap["id"])
    assert read_leaf(share_dir(data_dir, clone["id"])) == LEAF
    os.rename(share_dir(data_dir, share_id) / NAME, share_dir(data_dir, share_id) / "moved")
    reply = client.post(f"{API}/shares/{share_id}/snapshots/{snap['id']}/rollback")
    assert reply.status_code == 200, reply.text
    assert read_leaf(share_dir(data_dir, share_id)) == LEAF
    assert list((data_dir / "trash").iterdir()) == []


def test_delete_of_deep_trees_leaves_no_trash(client: TestClient, data_dir: Path,
                                              deep_share: dict) -> None:
    snap = create_snapshot(client, deep_share["id"], "s")
    clone = create_share(client, "clone", origin_snapshot_id=snap["id"])
    assert client.delete(f"{API}/shares/{clone['id']}").status_code == 204
    assert client.delete(f"{API}/shares/{deep_share['id']}/snapshots/{snap['id']}"
                         ).status_code == 204
    assert client.delete(f"{API}/shares/{deep_share['id']}").status_code == 204
    assert client.get(f"{API}/shares").json()["items"] == []
    assert_nothing_left(data_dir)


def test_a_tree_deeper_than_the_budget_is_422_and_nothing_breaks(
        client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trees, "max_depth", lambda: 50)
    share = create_share(client, "too-deep")
    build_deep_tree(share_dir(data_dir, share["id"]), levels=60)
    body = assert_error(client.post(f"{API}/shares/{share['id']}/snapshots", json={"name": "s"}),
                        422, "INVALID")
    assert body["details"] == {"max_depth": 50}
    assert list((data_dir / "tmp").iterdir()) == []
    assert client.get(f"{API}/shares/{share['id']}").status_code == 200
    assert client.delete(f"{API}/shares/{share['id']}").status_code == 204
    assert_nothing_left(data_dir)


def test_running_out_of_descriptors_is_busy(client: TestClient, deep_share: dict,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_open_dir = trees.open_dir

    def exhausted(name, dir_fd=None):
        if name == NAME:
            raise OSError(24, "Too many open files")
        return real_open_dir(name, dir_fd)

    monkeypatch.setattr(trees, "open_dir", exhausted)
    reply = client.post(f"{API}/shares/{deep_share['id']}/snapshots", json={"name": "s"})
    assert_error(reply, 503, "BUSY")
    assert reply.headers["Retry-After"]


def test_start_up_purges_a_deep_tree_in_the_trash(client: TestClient, data_dir: Path) -> None:
    client.app.state.appliance.store.close()
    doomed = data_dir / "trash" / "crashed-mid-delete"
    doomed.mkdir()
    build_deep_tree(doomed)
    os.chmod(doomed / NAME, 0o555)  # a read-only snapshot directory on the way down
    with restarted(client, data_dir) as again:
        assert again.get(f"{API}/shares").status_code == 200
    assert list((data_dir / "trash").iterdir()) == []


def test_start_up_repair_logs_a_failed_step_and_carries_on(
        client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    share = create_share(client, "kept")
    client.app.state.appliance.store.close()
    (data_dir / "trash" / "stuck").mkdir()
    (data_dir / "trash" / "fine").mkdir()
    orphan = data_dir / "shares" / "0b5c1e4c-57a1-4f6c-9a53-5d1e2f1b8a11"
    orphan.mkdir()
    real_purge = storage.purge

    def purge(trash_fd, name):
        if name == "stuck":
            raise OSError(5, "Input/output error")
        real_purge(trash_fd, name)

    monkeypatch.setattr(storage, "purge", purge)
    with caplog.at_level(logging.WARNING), restarted(client, data_dir) as again:
        assert [s["id"] for s in again.get(f"{API}/shares").json()["items"]] == [share["id"]]
    assert sorted(p.name for p in (data_dir / "trash").iterdir()) == ["stuck"]
    assert not orphan.exists()
    assert "removing trash/stuck failed" in caplog.text


def test_usage_refresh_skips_a_share_it_cannot_measure(client: TestClient, data_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bad, good = create_share(client, "bad"), create_share(client, "good")
    (share_dir(data_dir, good["id"]) / "f").write_bytes(b"x" * 65536)
    real = context.measure

    def measure(path):
        if path.name == bad["id"]:
            raise RuntimeError("unexpected failure")
        return real(path)

    monkeypatch.setattr(context, "measure", measure)
    client.app.state.refresher.refresh_all()
    assert client.app.state.appliance.share(good["id"]).used_bytes >= 65536


def test_a_share_deeper_than_the_walk_counts_what_was_walked_and_says_so(
        client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    share = create_share(client, "s")
    monkeypatch.setattr(trees, "max_depth", lambda: 5)
    root = share_dir(data_dir, share["id"])
    (root / "top").write_bytes(b"x" * 65536)
    build_deep_tree(root, levels=10)
    reply = client.get(f"{API}/shares/{share['id']}")
    assert reply.status_code == 200
    assert reply.json()["used_bytes"] >= 65536 and reply.json()["used_bytes_complete"] is False
    assert client.get(f"{API}/pools/pool1").json()["used_bytes"] >= 65536
    monkeypatch.setattr(trees, "max_depth", lambda: 50)
    complete = client.get(f"{API}/shares/{share['id']}").json()
    assert complete["used_bytes_complete"] is True
    assert complete["used_bytes"] > reply.json()["used_bytes"]
