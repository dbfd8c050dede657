"""The appliance's parts wired together, plus helpers every service uses."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from acme_appliance.config import ApplianceConfig
from acme_appliance.errors import ApiError, no_space, not_found
from acme_appliance.exports import ExportPublisher, ExportsNotApplied, load_backend
from acme_appliance.locks import KeyedLocks
from acme_appliance.records import ExportSpec, Root, Rule, canonical_clients
from acme_appliance.storage import Storage
from acme_appliance.trees import max_depth, measure, raise_fd_limit
from acme_appliance.store import PoolUsage, ShareRow, SnapshotRow, Store

log = logging.getLogger(__name__)
T = TypeVar("T")
MIB = 1 << 20
STATE_FILE = "state.db"


def share_path(row: ShareRow) -> str:
    """The share's NFS path, /<pool>/<name>."""
    return f"/{row.pool}/{row.name}"


@dataclass
class Appliance:
    config: ApplianceConfig
    store: Store
    storage: Storage
    locks: KeyedLocks
    exports: ExportPublisher

    def share(self, share_id: str) -> ShareRow:
        row = self.store.get_share(share_id)
        if row is None:
            raise not_found("share", share_id)
        return row

    def snapshot(self, snapshot_id: str, share_id: str | None = None) -> SnapshotRow:
        """A snapshot by id; with share_id it must also belong to that share."""
        row = self.store.get_snapshot(snapshot_id)
        if row is None or (share_id is not None and row.share_id != share_id):
            raise not_found("snapshot", snapshot_id)
        return row

    def pool_total(self, pool: str) -> int:
        if pool not in self.config.pools:
            raise not_found("pool", pool)
        return self.config.pools[pool]

    def pool_usage(self, pool: str) -> PoolUsage:
        """Share count, provisioned and used bytes of a configured pool (one aggregate query)."""
        return self.store.pool_usage().get(pool, PoolUsage())

    def pools_usage(self) -> dict[str, PoolUsage]:
        usage = self.store.pool_usage()
        return {name: usage.get(name, PoolUsage()) for name in self.config.pools}

    def pool_free(self, pool: str) -> int:
        return max(0, self.pool_total(pool) - self.pool_usage(pool).used_bytes)

    def refresh_usage(self, share_id: str) -> None:
        """Re-measure a share's allocated bytes and re-read its root ownership (NFS clients may
        change both) unless an operation holds its lock."""
        with self.locks.try_hold(share_id) as taken:
            row = self.store.get_share(share_id) if taken else None
            path = self.storage.share_dir(share_id)
            if row is None or not path.is_dir():
                return
            try:
                (used, complete), root = measure(path), Root.of(path)
            except OSError as exc:
                log.warning("cannot measure share %s, keeping the last values: %s", share_id, exc)
                return
            if row.used_complete and not complete:
                log.warning("share %s is deeper than %d levels: its used bytes count only the "
                            "levels above", share_id, max_depth())
            if (used, root, complete) != (row.used_bytes, row.root, row.used_complete):
                self._store_usage(share_id, used, root, complete)

    def _store_usage(self, share_id: str, used: int, root: Root, complete: bool) -> None:
        """Keep the measured values; without space for them the last ones stay (a read must
        not fail because the data file system is full)."""
        try:
            with self.store.transaction():
                self.store.update_share(share_id, used_bytes=used, root=root,
                                        used_complete=complete)
        except sqlite3.Error as exc:
            if not no_space(exc):
                raise
            log.warning("cannot store the usage of share %s: %s", share_id, exc)

    def export_specs(self) -> list[ExportSpec]:
        return export_specs(self.store, self.storage)

    def export_spec(self, share_id: str, pool: str, name: str, export_id: int,
                    rules: tuple[Rule, ...] | None) -> ExportSpec | None:
        """The export a share with these values has; None for rules None (NFS disabled)."""
        if rules is None:
            return None
        return ExportSpec(export_id, self.storage.share_dir(share_id), f"/{pool}/{name}", rules)

    def publish_export(self, share_id: str, spec: ExportSpec | None,
                       commit: Callable[[], T]) -> T:
        """Store a change of a share's export (`commit`) once ganesha serves `spec`; BUSY, with
        nothing stored, when ganesha does not apply it."""
        try:
            return self.exports.publish(self.storage.share_dir(share_id), spec, commit)
        except ExportsNotApplied as exc:
            raise exports_failed(exc.__cause__ or exc) from exc

    def sync_exports(self, reexport: str | None = None) -> None:
        """Apply the NFS exports now; a failure is BUSY so that the caller can retry, or
        NO_SPACE when the exports file cannot be written on a full file system."""
        try:
            self.exports.sync(without=reexport)
        except Exception as exc:
            raise exports_failed(exc) from exc


def exports_failed(exc: BaseException) -> ApiError:
    """The answer to NFS exports ganesha was not given: NO_SPACE when the exports file could
    not be written on a full file system, else BUSY (the caller may retry)."""
    if no_space(exc):
        log.warning("applying NFS exports failed: %s", exc)
        return ApiError("NO_SPACE", "no space left to write the NFS exports")
    log.error("applying NFS exports failed: %s", exc)
    return ApiError("BUSY", f"applying NFS exports failed: {exc}")


def export_specs(store: Store, storage: Storage) -> list[ExportSpec]:
    """The exports of the shares with NFS enabled, as the database holds them."""
    return [ExportSpec(row.export_id, storage.share_dir(row.id), share_path(row), row.nfs_rules)
            for row in store.exported_shares()]


def exports_in_database(data_dir: Path) -> list[ExportSpec]:
    """What ganesha starts with, before the API runs: the database's exports, without rules
    the API would drop at start-up (repair_rules) and without directories still missing."""
    path = Path(data_dir) / STATE_FILE
    if not path.exists():
        return []
    store = Store(path)
    try:
        specs = export_specs(store, Storage(Path(data_dir)))
    finally:
        store.close()
    return [replace(spec, rules=exportable_rules(spec.rules)[0]) for spec in specs
            if spec.directory.is_dir()]


def exportable_rules(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, ...], list[str]]:
    """Rules with their clients in canonical form, and the clients dropped as not exportable
    (an IPv6 zone id, stored before the API refused it)."""
    kept, dropped = [], []
    for rule in rules:
        try:
            kept.append(replace(rule, clients=canonical_clients(rule.clients)))
        except ValueError:
            dropped.append(rule.clients)
    return tuple(kept), dropped


def repair_rules(store: Store) -> list[str]:
    """Start-up repair: store every share's NFS rules as they can be exported."""
    actions = []
    for row in store.all_shares():
        rules, dropped = exportable_rules(row.nfs_rules)
        if rules != row.nfs_rules:
            with store.transaction():
                store.update_share(row.id, nfs_rules=rules)
            actions.append(f"share {row.id}: NFS rules rewritten canonically, dropped {dropped}")
    return actions


def round_quota(quota: int | None) -> int:
    """Round up to a multiple of 1 MiB; None means no quota (0)."""
    return -(-(quota or 0) // MIB) * MIB


def open_appliance(config: ApplianceConfig) -> Appliance:
    """Open the state database, repair the data directory after a crash, apply the exports."""
    raise_fd_limit()
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(config.data_dir, 0o700)  # state.db and every share's files are below it
    store = Store(Path(config.data_dir) / STATE_FILE)
    storage = Storage(config.data_dir)
    share_roots = {row.id: row.root for row in store.all_shares()}
    actions = storage.reconcile(share_roots, store.all_snapshot_ids()) + repair_rules(store)
    for action in actions:
        log.warning("start-up repair: %s", action)
    appliance = Appliance(config, store, storage, KeyedLocks(), None)  # type: ignore[arg-type]
    backend = load_backend(config.ganesha_conf_dir, config.ganesha_pidfile)
    appliance.exports = ExportPublisher(backend, appliance.export_specs)
    try:
        appliance.exports.sync()
    except Exception:
        log.exception("applying the NFS exports at start-up failed; retried in the background")
    return appliance
