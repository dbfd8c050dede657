"""Share operations: create (empty or clone), update, delete, promote, NFS settings.

Every change runs under the share's lock; a directory is built under `tmp/`, the database row is
committed, then the directory is renamed into place (start-up finishes or removes leftovers). A
change of a share's NFS export is committed only once ganesha applied it (see exports.py), so a
new exported share's directory is renamed into place before its row is committed.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from acme_appliance.context import Appliance, round_quota
from acme_appliance.errors import ApiError
from acme_appliance.records import Rule
from acme_appliance.models import NfsSettings, ShareCreate, ShareRoot, ShareUpdate
from acme_appliance.pagination import decode_cursor, next_cursor
from acme_appliance.records import Root
from acme_appliance.storage import apply_root
from acme_appliance.trees import allocated_bytes
from acme_appliance.store import ExportIdsExhausted, ShareRow, SnapshotRow
from acme_appliance.timeutil import now_rfc3339


def _already_exists(appliance: Appliance, pool: str, name: str) -> ApiError:
    existing = appliance.store.find_share(pool, name)
    details = {"id": existing.id} if existing else {}
    return ApiError("ALREADY_EXISTS", f"share {pool}/{name} already exists", details)


def _checked_quota(appliance: Appliance, pool: str, quota: int | None) -> int:
    rounded = round_quota(quota)
    if rounded > appliance.pool_total(pool):
        raise ApiError("NO_SPACE", f"quota {rounded} exceeds the size of pool {pool}",
                       {"pool": pool, "quota_bytes": rounded})
    return rounded


def _new_export_id(appliance: Appliance) -> int:
    """A free export id (hold `appliance.exports.lock` until it is stored); NO_SPACE when none
    is left."""
    try:
        return appliance.store.next_export_id()
    except ExportIdsExhausted as exc:
        raise ApiError("NO_SPACE", f"no NFS export id is free: {exc}") from None


def _rules(nfs: NfsSettings | None) -> tuple[Rule, ...]:
    if nfs is None:
        return ()
    return tuple(Rule(r.clients, r.access, r.root_squash) for r in nfs.rules)


def list_shares(appliance: Appliance, filters: dict[str, str | None], cursor: str | None,
                limit: int) -> tuple[list[ShareRow], str | None]:
    """One page of shares in creation order (exact-match filters) and the next page's cursor."""
    rows = appliance.store.list_shares(filters, decode_cursor(cursor), limit + 1)
    return rows[:limit], next_cursor([row.seq for row in rows], limit)


def get_share(appliance: Appliance, share_id: str) -> ShareRow:
    """One share with its used bytes and root ownership measured afresh."""
    appliance.share(share_id)
    appliance.refresh_usage(share_id)
    return appliance.share(share_id)


def merged_root(base: Root, req: ShareRoot | None) -> Root:
    """`base` with the keys the request gives; the request's defaults apply only to new shares."""
    if req is None:
        return base
    given = req.model_dump(include=req.model_fields_set)
    if "mode" in given:
        given["mode"] = int(given["mode"], 8)
    return Root(**{**vars(base), **given})


@contextmanager
def _ownership_allowed() -> Iterator[None]:
    """An unprivileged simulator cannot give a directory away: 403 rather than 500."""
    try:
        yield
    except PermissionError as exc:
        raise ApiError("FORBIDDEN", f"the appliance may not set this owner: {exc.strerror}",
                       {"errno": exc.errno}) from None


def create_share(appliance: Appliance, req: ShareCreate) -> ShareRow:
    """Create an empty share, or a clone of `origin_snapshot_id` holding the snapshot's files."""
    quota = _checked_quota(appliance, req.pool, req.quota_bytes)
    if appliance.store.find_share(req.pool, req.name):
        raise _already_exists(appliance, req.pool, req.name)
    share_id = str(uuid.uuid4())
    origin = appliance.snapshot(req.origin_snapshot_id) if req.origin_snapshot_id else None
    with appliance.locks.hold(origin.share_id if origin else None, share_id):
        if origin is not None:
            origin = appliance.snapshot(origin.id)
            quota = _clone_quota(appliance, req, origin, quota)
            root = merged_root(origin.root, req.root)
            staged = appliance.storage.stage_copy(
                appliance.storage.snapshot_dir(origin.id), share_id)
        else:
            root = merged_root(Root.default(), req.root)
            staged = appliance.storage.stage_empty(share_id)
        with _ownership_allowed():
            appliance.storage.stage_root(staged, root)
        return _commit_new_share(appliance, req, share_id, quota, staged, root)


def _clone_quota(appliance: Appliance, req: ShareCreate, origin: SnapshotRow, quota: int) -> int:
    """Check a clone's pool, space and quota; without a quota it inherits the origin's."""
    origin_share = appliance.share(origin.share_id)
    if origin_share.pool != req.pool:
        raise ApiError("INVALID", "a clone must be in its origin's pool",
                       {"pool": origin_share.pool})
    if origin.used_bytes > appliance.pool_free(req.pool):
        raise ApiError("NO_SPACE", f"pool {req.pool} has no space for the clone",
                       {"pool": req.pool})
    if req.quota_bytes is None:
        quota = origin_share.quota_bytes
    if quota and origin.used_bytes > quota:
        raise ApiError("INVALID", "quota_bytes is below the snapshot's used bytes",
                       {"used_bytes": origin.used_bytes})
    return quota


def _commit_new_share(appliance: Appliance, req: ShareCreate, share_id: str, quota: int,
                      staged: Path, root: Root) -> ShareRow:
    """Store the share and move its directory into place; on any failure nothing is stored.

    An exported share's directory goes into place first, for ganesha to export it before the
    row is stored (start-up removes a directory left without a row); any other share's after.
    """
    storage = appliance.storage
    used, path = allocated_bytes(staged), storage.share_dir(share_id)
    enabled = bool(req.nfs and req.nfs.enabled)
    if enabled:
        storage.publish(staged, path)
    built = path if enabled else staged
    try:
        with appliance.exports.lock:  # the export id stays free until stored
            export_id = _new_export_id(appliance)
            spec = appliance.export_spec(share_id, req.pool, req.name, export_id,
                                         _rules(req.nfs) if enabled else None)
            appliance.publish_export(share_id, spec, lambda: _insert_share(appliance, {
                "id": share_id, "pool": req.pool, "name": req.name, "quota_bytes": quota,
                "used_bytes": used, "origin_snapshot_id": req.origin_snapshot_id,
                "nfs_enabled": enabled, "nfs_rules": _rules(req.nfs), "export_id": export_id,
                "created_at": now_rfc3339(), "root": root}))
    except sqlite3.IntegrityError:
        storage.remove(built)
        raise _already_exists(appliance, req.pool, req.name) from None
    except BaseException:
        storage.remove(built)
        raise
    if not enabled:
        storage.publish(staged, path)
    return appliance.share(share_id)


def _insert_share(appliance: Appliance, share: dict[str, Any]) -> None:
    with appliance.store.transaction():
        appliance.store.insert_share(share)


def update_share(appliance: Appliance, share_id: str, req: ShareUpdate) -> ShareRow:
    """Change the quota (rounded; not below used), rename (the path follows), set the root."""
    with appliance.locks.hold(share_id):
        row = appliance.share(share_id)
        changes: dict[str, Any] = {}
        if "quota_bytes" in req.model_fields_set:
            changes["quota_bytes"] = _new_quota(appliance, row, req.quota_bytes)
        if req.name is not None and req.name != row.name:
            if appliance.store.find_share(row.pool, req.name):
                raise _already_exists(appliance, row.pool, req.name)
            changes["name"] = req.name
        path = appliance.storage.share_dir(share_id)
        root = merged_root(Root.of(path), req.root) if req.root is not None else None
        if root is not None:
            changes["root"] = root
        if "name" in changes:
            _rename(appliance, row, changes)
        elif changes:
            _store_changes(appliance, row, changes)
        return appliance.share(share_id)


def _rename(appliance: Appliance, row: ShareRow, changes: dict[str, Any]) -> None:
    """A new export, not the old one with another Pseudo path: nfs-ganesha's reload cannot
    change an export's pseudo path in place (seen: it died on the next HUP)."""
    with appliance.exports.lock:  # the export id stays free until stored
        export_id = changes["export_id"] = _new_export_id(appliance)
        spec = appliance.export_spec(row.id, row.pool, changes["name"], export_id,
                                     row.nfs_rules if row.nfs_enabled else None)
        appliance.publish_export(row.id, spec, lambda: _store_changes(appliance, row, changes))


def _store_changes(appliance: Appliance, row: ShareRow, changes: dict[str, Any]) -> None:
    try:
        with appliance.store.transaction(), _ownership_allowed():
            appliance.store.update_share(row.id, **changes)
            if "root" in changes:
                apply_root(appliance.storage.share_dir(row.id), changes["root"])
    except sqlite3.IntegrityError:
        raise _already_exists(appliance, row.pool, str(changes.get("name"))) from None


def _new_quota(appliance: Appliance, row: ShareRow, quota: int | None) -> int:
    rounded = _checked_quota(appliance, row.pool, quota)
    used = allocated_bytes(appliance.storage.share_dir(row.id))
    if rounded and rounded < used:
        raise ApiError("INVALID", f"quota {rounded} is below the used {used} bytes",
                       {"used_bytes": used, "quota_bytes": rounded})
    return rounded


def delete_share(appliance: Appliance, share_id: str, recursive: bool) -> None:
    """Delete a share; with recursive also its snapshots, but never one that has clones."""
    with appliance.locks.hold(share_id):
        row = appliance.share(share_id)
        snapshots = appliance.store.snapshots_of(share_id)
        if snapshots and not recursive:
            raise ApiError("IN_USE", "the share has snapshots",
                           {"snapshots": [s.id for s in snapshots]})
        _refuse_cloned(appliance, snapshots)

        def forget() -> None:
            with appliance.store.transaction():
                for snapshot in snapshots:
                    appliance.store.delete_snapshot(snapshot.id)
                appliance.store.delete_share(share_id)

        # Unexported first: a share ganesha still serves is not deleted.
        appliance.publish_export(row.id, None, forget)
        appliance.storage.remove(appliance.storage.share_dir(share_id))
        for snapshot in snapshots:
            appliance.storage.remove(appliance.storage.snapshot_dir(snapshot.id))


def _refuse_cloned(appliance: Appliance, snapshots: list[SnapshotRow]) -> None:
    """IN_USE when any of the snapshots has dependent clones."""
    clones = appliance.store.clones_of([s.id for s in snapshots])
    busy = {sid: ids for sid, ids in clones.items() if ids}
    if busy:
        raise ApiError("IN_USE", "snapshots have dependent clones", {
            "snapshots": list(busy), "clones": [c for ids in busy.values() for c in ids]})


def promote_share(appliance: Appliance, share_id: str) -> ShareRow:
    """ZFS-style: the clone takes over its origin snapshot and the origin's older snapshots."""
    origin_id = appliance.share(share_id).origin_snapshot_id
    if origin_id is None:
        raise ApiError("INVALID", "the share is not a clone", {"id": share_id})
    origin_share_id = appliance.snapshot(origin_id).share_id
    with appliance.locks.hold(share_id, origin_share_id):
        clone, snapshot = appliance.share(share_id), appliance.snapshot(origin_id)
        if clone.origin_snapshot_id != origin_id or snapshot.share_id != origin_share_id:
            raise ApiError("BUSY", "the share changed during the call; retry")
        origin_share = appliance.share(origin_share_id)
        moved = [s for s in appliance.store.snapshots_of(origin_share_id)
                 if (s.created_at, s.seq) <= (snapshot.created_at, snapshot.seq)]
        _refuse_name_clash(appliance, share_id, moved)
        with appliance.store.transaction():
            appliance.store.move_snapshots([s.id for s in moved], share_id)
            appliance.store.update_share(share_id,
                                         origin_snapshot_id=origin_share.origin_snapshot_id)
            appliance.store.update_share(origin_share_id, origin_snapshot_id=snapshot.id)
        return appliance.share(share_id)


def _refuse_name_clash(appliance: Appliance, share_id: str, moved: list[SnapshotRow]) -> None:
    for snapshot in moved:
        clash = appliance.store.find_snapshot(share_id, snapshot.name)
        if clash is not None:
            raise ApiError("ALREADY_EXISTS", f"the clone already has a snapshot {clash.name}",
                           {"id": clash.id, "name": clash.name})


def set_nfs(appliance: Appliance, share_id: str, nfs: NfsSettings) -> ShareRow:
    """Replace the NFS settings; stored once ganesha applied them (BUSY: nothing changed)."""
    with appliance.locks.hold(share_id):
        row = appliance.share(share_id)
        spec = appliance.export_spec(share_id, row.pool, row.name, row.export_id,
                                     _rules(nfs) if nfs.enabled else None)

        def store() -> None:
            with appliance.store.transaction():
                appliance.store.update_share(share_id, nfs_enabled=nfs.enabled,
                                             nfs_rules=_rules(nfs))

        appliance.publish_export(share_id, spec, store)
        return appliance.share(share_id)
