"""Snapshot operations: create (read-only sparse copy), rename, delete, rollback."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from acme_appliance.context import Appliance, share_path
from acme_appliance.errors import ApiError
from acme_appliance.pagination import decode_cursor, next_cursor
from acme_appliance.records import Root
from acme_appliance.trees import allocated_bytes
from acme_appliance.store import ShareRow, SnapshotRow
from acme_appliance.timeutil import now_rfc3339


def _already_exists(appliance: Appliance, share_id: str, name: str) -> ApiError:
    existing = appliance.store.find_snapshot(share_id, name)
    details = {"id": existing.id} if existing else {}
    return ApiError("ALREADY_EXISTS", f"snapshot {name} already exists", details)


def list_snapshots(appliance: Appliance, share_id: str, name: str | None, cursor: str | None,
                   limit: int) -> tuple[list[SnapshotRow], str | None]:
    """One page of the share's snapshots, oldest first, and the next page's cursor."""
    appliance.share(share_id)
    rows = appliance.store.list_snapshots(share_id, name, decode_cursor(cursor), limit + 1)
    return rows[:limit], next_cursor([row.seq for row in rows], limit)


def clones_of(appliance: Appliance, rows: list[SnapshotRow]) -> dict[str, list[str]]:
    """The ids of the shares cloned from each snapshot."""
    return appliance.store.clones_of([row.id for row in rows])


def create_snapshot(appliance: Appliance, share_id: str, name: str) -> SnapshotRow:
    """Copy the share's files (holes kept) into a read-only snapshot directory."""
    with appliance.locks.hold(share_id):
        share = appliance.share(share_id)
        if appliance.store.find_snapshot(share_id, name):
            raise _already_exists(appliance, share_id, name)
        source = appliance.storage.share_dir(share_id)
        used = allocated_bytes(source)
        if used > appliance.pool_free(share.pool):
            raise ApiError("NO_SPACE", f"pool {share.pool} has no space for the snapshot",
                           {"pool": share.pool})
        snapshot_id, created_at = str(uuid.uuid4()), now_rfc3339()
        root = Root.of(source)
        staged = appliance.storage.stage_copy(source, snapshot_id, read_only=True)
        _commit_snapshot(appliance, share, {"id": snapshot_id, "share_id": share_id, "name": name,
                                            "created_at": created_at, "root": root},
                         used, staged)
        appliance.storage.publish(staged, appliance.storage.snapshot_dir(snapshot_id))
        return appliance.snapshot(snapshot_id)


def _commit_snapshot(appliance: Appliance, share: ShareRow, snap: dict[str, object],
                     share_used: int, staged: Path) -> None:
    """Insert the snapshot row (`snap` without used_bytes, measured here on the copy)."""
    try:
        with appliance.store.transaction():
            appliance.store.insert_snapshot({**snap, "used_bytes": allocated_bytes(staged)})
            appliance.store.update_share(share.id, used_bytes=share_used, root=snap["root"],
                                         used_complete=True)
    except sqlite3.IntegrityError:
        appliance.storage.remove(staged)
        raise _already_exists(appliance, share.id, str(snap["name"])) from None
    except BaseException:
        appliance.storage.remove(staged)
        raise


def rename_snapshot(appliance: Appliance, share_id: str, snapshot_id: str,
                    name: str) -> SnapshotRow:
    """Change only the name; the id, content, clones and rollback order stay."""
    with appliance.locks.hold(share_id):
        snapshot = appliance.snapshot(snapshot_id, share_id)
        if snapshot.name == name:
            return snapshot
        if appliance.store.find_snapshot(share_id, name):
            raise _already_exists(appliance, share_id, name)
        try:
            with appliance.store.transaction():
                appliance.store.rename_snapshot(snapshot_id, name)
        except sqlite3.IntegrityError:
            raise _already_exists(appliance, share_id, name) from None
        return appliance.snapshot(snapshot_id)


def delete_snapshot(appliance: Appliance, share_id: str, snapshot_id: str) -> None:
    """Delete a snapshot; IN_USE while clones depend on it."""
    with appliance.locks.hold(share_id):
        appliance.snapshot(snapshot_id, share_id)
        clones = appliance.store.clones_of([snapshot_id])[snapshot_id]
        if clones:
            raise ApiError("IN_USE", "the snapshot has dependent clones", {"clones": clones})
        with appliance.store.transaction():
            appliance.store.delete_snapshot(snapshot_id)
        appliance.storage.remove(appliance.storage.snapshot_dir(snapshot_id))


def rollback(appliance: Appliance, share_id: str, snapshot_id: str,
             destroy_newer: bool) -> ShareRow:
    """Return the share's content to the snapshot; newer snapshots block unless destroyed."""
    with appliance.locks.hold(share_id):
        share = appliance.share(share_id)
        snapshot = appliance.snapshot(snapshot_id, share_id)
        newer = _newer_snapshots(appliance, share_id, snapshot, destroy_newer)
        storage = appliance.storage
        staged = storage.stage_copy(storage.snapshot_dir(snapshot_id), share_id)
        storage.stage_root(staged, snapshot.root)
        storage.swap_in(staged, storage.share_dir(share_id))
        with appliance.store.transaction():
            for doomed in newer:
                appliance.store.delete_snapshot(doomed.id)
            appliance.store.update_share(
                share_id, used_bytes=allocated_bytes(storage.share_dir(share_id)),
                root=snapshot.root, used_complete=True)
        for doomed in newer:
            storage.remove(storage.snapshot_dir(doomed.id))
        if share.nfs_enabled:
            appliance.sync_exports(reexport=share_path(share))
        return appliance.share(share_id)


def _newer_snapshots(appliance: Appliance, share_id: str, snapshot: SnapshotRow,
                     destroy_newer: bool) -> list[SnapshotRow]:
    newer = [s for s in appliance.store.snapshots_of(share_id)
             if (s.created_at, s.seq) > (snapshot.created_at, snapshot.seq)]
    if newer and not destroy_newer:
        raise ApiError("IN_USE", "newer snapshots exist; pass destroy_newer to destroy them",
                       {"newer_snapshots": [s.id for s in newer]})
    clones = appliance.store.clones_of([s.id for s in newer])
    busy = {sid: ids for sid, ids in clones.items() if ids}
    if busy:
        raise ApiError("IN_USE", "newer snapshots have dependent clones", {
            "snapshots": list(busy), "clones": [c for ids in busy.values() for c in ids]})
    return newer
