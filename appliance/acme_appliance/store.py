"""Durable state in one sqlite file: shares, snapshots, tokens; every change is a transaction."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acme_appliance.records import Root, Rule

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shares (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    pool TEXT NOT NULL,
    name TEXT NOT NULL,
    quota_bytes INTEGER NOT NULL DEFAULT 0,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    origin_snapshot_id TEXT REFERENCES snapshots(id),
    nfs_enabled INTEGER NOT NULL DEFAULT 0,
    nfs_rules TEXT NOT NULL DEFAULT '[]',
    export_id INTEGER NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    root_uid INTEGER NOT NULL DEFAULT 0,
    root_gid INTEGER NOT NULL DEFAULT 0,
    root_mode INTEGER NOT NULL DEFAULT 493,
    used_complete INTEGER NOT NULL DEFAULT 1,
    UNIQUE (pool, name)
);
CREATE INDEX IF NOT EXISTS shares_origin ON shares (origin_snapshot_id);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    share_id TEXT NOT NULL REFERENCES shares(id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    root_uid INTEGER NOT NULL DEFAULT 0,
    root_gid INTEGER NOT NULL DEFAULT 0,
    root_mode INTEGER NOT NULL DEFAULT 493,
    UNIQUE (share_id, name)
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    expires_at REAL NOT NULL,
    binding TEXT NOT NULL DEFAULT ''
);
"""
# Columns added after v1.0; a database written before gets them (with the defaults) at start.
ROOT_COLUMNS = {"root_uid": 0, "root_gid": 0, "root_mode": 0o755}
SHARE_ONLY_COLUMNS = {"used_complete": 1}
SHARE_COLUMNS = ("id, seq, pool, name, quota_bytes, used_bytes, origin_snapshot_id, "
                 "nfs_enabled, nfs_rules, export_id, created_at, root_uid, root_gid, root_mode, "
                 "used_complete")
SNAPSHOT_COLUMNS = "id, seq, share_id, name, created_at, used_bytes, root_uid, root_gid, root_mode"


MAX_EXPORT_ID = 65535  # ganesha's Export_Id range is 1..65535


class ExportIdsExhausted(RuntimeError):
    """Every export id is held by a share."""


@dataclass(frozen=True)
class ShareRow:
    id: str
    seq: int
    pool: str
    name: str
    quota_bytes: int
    used_bytes: int
    origin_snapshot_id: str | None
    nfs_enabled: bool
    nfs_rules: tuple[Rule, ...]
    export_id: int
    created_at: str
    root: Root
    used_complete: bool = True  # False: the share is deeper than a walk goes (see trees.py)

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> ShareRow:
        rules = tuple(Rule(**rule) for rule in json.loads(row[8]))
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]),
                   rules, row[9], row[10], Root(*row[11:14]), bool(row[14]))


@dataclass(frozen=True)
class SnapshotRow:
    id: str
    seq: int
    share_id: str
    name: str
    created_at: str
    used_bytes: int
    root: Root  # the share's root ownership when the snapshot was taken

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> SnapshotRow:
        return cls(*row[:6], Root(*row[6:9]))


@dataclass(frozen=True)
class PoolUsage:
    share_count: int = 0
    provisioned_bytes: int = 0
    used_bytes: int = 0


def _root_values(root: Root) -> tuple[int, int, int]:
    return root.uid, root.gid, root.mode


def rules_json(rules: Sequence[Rule]) -> str:
    return json.dumps([{"clients": r.clients, "access": r.access, "root_squash": r.root_squash}
                       for r in rules])


class Store:
    """Thread-safe access to the state database (one connection, one lock, short transactions)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.RLock()
        # Token digests are in it: 0600 (sqlite gives its -wal and -shm files the same mode).
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self.transaction():
            self._create_schema()

    def _create_schema(self) -> None:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)
        for table in ("shares", "snapshots"):
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            added = {**ROOT_COLUMNS, **(SHARE_ONLY_COLUMNS if table == "shares" else {})}
            for column, default in added.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
                                     f"NOT NULL DEFAULT {default}")
        present = {row[1] for row in self._db.execute("PRAGMA table_info(tokens)")}
        if "binding" not in present:  # tokens of before: bound to nothing, dropped at start
            self._db.execute("ALTER TABLE tokens ADD COLUMN binding TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # shares -----------------------------------------------------------------------------
    def get_share(self, share_id: str) -> ShareRow | None:
        row = self._one(f"SELECT {SHARE_COLUMNS} FROM shares WHERE id = ?", (share_id,))
        return ShareRow.from_db(row) if row else None

    def find_share(self, pool: str, name: str) -> ShareRow | None:
        row = self._one(f"SELECT {SHARE_COLUMNS} FROM shares WHERE pool = ? AND name = ?",
                        (pool, name))
        return ShareRow.from_db(row) if row else None

    def list_shares(self, filters: dict[str, str | None], after: int,
                    limit: int) -> list[ShareRow]:
        """Shares in creation order after sequence `after`; filters are exact matches."""
        where, params = ["seq > ?"], [after]
        for column in ("name", "pool", "origin_snapshot_id"):
            if filters.get(column) is not None:
                where.append(f"{column} = ?")
                params.append(filters[column])
        sql = f"SELECT {SHARE_COLUMNS} FROM shares WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        return [ShareRow.from_db(row) for row in self._all(sql, [*params, limit])]

    def all_shares(self) -> list[ShareRow]:
        return [ShareRow.from_db(r) for r in self._all(f"SELECT {SHARE_COLUMNS} FROM shares")]

    def exported_shares(self) -> list[ShareRow]:
        sql = f"SELECT {SHARE_COLUMNS} FROM shares WHERE nfs_enabled = 1 ORDER BY export_id"
        return [ShareRow.from_db(row) for row in self._all(sql)]

    def next_export_id(self) -> int:
        """The lowest export id no share holds (free until a share holding it is stored: the
        caller holds the export publisher's lock until then).

        ganesha takes ids 1..65535, so freed ids are handed out again; an id that changes its
        pseudo path is removed from ganesha before it is added again (see GaneshaExports).
        """
        row = self._one(
            "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM shares WHERE export_id = 1) "
            "UNION ALL SELECT export_id + 1 FROM shares s WHERE export_id < ? AND NOT EXISTS "
            "(SELECT 1 FROM shares t WHERE t.export_id = s.export_id + 1) ORDER BY 1 LIMIT 1",
            (MAX_EXPORT_ID,))
        if row is None:
            raise ExportIdsExhausted(f"all {MAX_EXPORT_ID} export ids are taken")
        return int(row[0])

    def insert_share(self, share: dict[str, Any]) -> None:
        """Insert a share; raises sqlite3.IntegrityError when (pool, name) is taken."""
        self._run(
            "INSERT INTO shares (id, pool, name, quota_bytes, used_bytes, origin_snapshot_id, "
            "nfs_enabled, nfs_rules, export_id, created_at, root_uid, root_gid, root_mode) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (share["id"], share["pool"], share["name"], share["quota_bytes"],
             share["used_bytes"], share["origin_snapshot_id"], int(share["nfs_enabled"]),
             rules_json(share["nfs_rules"]), share["export_id"], share["created_at"],
             *_root_values(share["root"])))

    def update_share(self, share_id: str, **fields: Any) -> None:
        """Update columns of a share; `nfs_rules` is a sequence of Rule, `root` a Root."""
        if "root" in fields:
            fields.update(zip(ROOT_COLUMNS, _root_values(fields.pop("root")), strict=True))
        if "nfs_rules" in fields:
            fields["nfs_rules"] = rules_json(fields["nfs_rules"])
        for flag in ("nfs_enabled", "used_complete"):
            if flag in fields:
                fields[flag] = int(fields[flag])
        assignments = ", ".join(f"{column} = ?" for column in fields)
        self._run(f"UPDATE shares SET {assignments} WHERE id = ?", [*fields.values(), share_id])

    def delete_share(self, share_id: str) -> None:
        self._run("DELETE FROM shares WHERE id = ?", (share_id,))

    # snapshots --------------------------------------------------------------------------
    def get_snapshot(self, snapshot_id: str) -> SnapshotRow | None:
        row = self._one(f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?", (snapshot_id,))
        return SnapshotRow.from_db(row) if row else None

    def find_snapshot(self, share_id: str, name: str) -> SnapshotRow | None:
        row = self._one(f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE share_id = ? AND name = ?",
                        (share_id, name))
        return SnapshotRow.from_db(row) if row else None

    def list_snapshots(self, share_id: str, name: str | None, after: int,
                       limit: int) -> list[SnapshotRow]:
        sql = f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE share_id = ? AND seq > ?"
        params: list[Any] = [share_id, after]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        rows = self._all(sql + " ORDER BY seq LIMIT ?", [*params, limit])
        return [SnapshotRow.from_db(row) for row in rows]

    def snapshots_of(self, share_id: str) -> list[SnapshotRow]:
        """All snapshots of a share, oldest first (created_at, then sequence)."""
        sql = (f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE share_id = ? "
               "ORDER BY created_at, seq")
        return [SnapshotRow.from_db(row) for row in self._all(sql, (share_id,))]

    def all_snapshot_ids(self) -> set[str]:
        return {row[0] for row in self._all("SELECT id FROM snapshots")}

    def insert_snapshot(self, snap: dict[str, Any]) -> None:
        """Insert a snapshot; raises sqlite3.IntegrityError when (share_id, name) is taken."""
        self._run("INSERT INTO snapshots (id, share_id, name, created_at, used_bytes, root_uid, "
                  "root_gid, root_mode) VALUES (?,?,?,?,?,?,?,?)",
                  (snap["id"], snap["share_id"], snap["name"], snap["created_at"],
                   snap["used_bytes"], *_root_values(snap["root"])))

    def rename_snapshot(self, snapshot_id: str, name: str) -> None:
        """Raises sqlite3.IntegrityError when the share already has a snapshot of that name."""
        self._run("UPDATE snapshots SET name = ? WHERE id = ?", (name, snapshot_id))

    def move_snapshots(self, snapshot_ids: Sequence[str], share_id: str) -> None:
        for snapshot_id in snapshot_ids:
            self._run("UPDATE snapshots SET share_id = ? WHERE id = ?", (share_id, snapshot_id))

    def delete_snapshot(self, snapshot_id: str) -> None:
        self._run("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))

    def clones_of(self, snapshot_ids: Sequence[str]) -> dict[str, list[str]]:
        """Share ids cloned from each snapshot, in creation order."""
        result: dict[str, list[str]] = {sid: [] for sid in snapshot_ids}
        if not snapshot_ids:
            return result
        marks = ",".join("?" * len(snapshot_ids))
        sql = f"SELECT origin_snapshot_id, id FROM shares WHERE origin_snapshot_id IN ({marks}) "
        for origin, share_id in self._all(sql + "ORDER BY seq", list(snapshot_ids)):
            result[origin].append(share_id)
        return result

    # pools ------------------------------------------------------------------------------
    def pool_usage(self) -> dict[str, PoolUsage]:
        """Per pool: share count, sum of quotas, allocated bytes of shares and snapshots."""
        usage: dict[str, PoolUsage] = {}
        for pool, count, provisioned, used in self._all(
                "SELECT pool, COUNT(*), TOTAL(quota_bytes), TOTAL(used_bytes) "
                "FROM shares GROUP BY pool"):
            usage[pool] = PoolUsage(count, int(provisioned), int(used))
        for pool, used in self._all(
                "SELECT sh.pool, TOTAL(sn.used_bytes) FROM snapshots sn "
                "JOIN shares sh ON sh.id = sn.share_id GROUP BY sh.pool"):
            old = usage.get(pool, PoolUsage())
            usage[pool] = PoolUsage(old.share_count, old.provisioned_bytes,
                                    old.used_bytes + int(used))
        return usage

    # tokens -----------------------------------------------------------------------------
    def add_token(self, digest: str, username: str, expires_at: float, now: float,
                  binding: str) -> None:
        """Store a token digest with its credential binding and drop expired ones."""
        with self.transaction():
            self._run("DELETE FROM tokens WHERE expires_at <= ?", (now,))
            self._run("INSERT INTO tokens (digest, username, expires_at, binding) "
                      "VALUES (?,?,?,?)", (digest, username, expires_at, binding))

    def tokens(self) -> list[tuple[str, str, str]]:
        """(digest, username, binding) of every stored token."""
        return [tuple(row) for row in self._all("SELECT digest, username, binding FROM tokens")]

    def drop_tokens(self, digests: Sequence[str], now: float) -> int:
        """Delete these tokens and the expired ones; return how many of these were stored."""
        with self.transaction():
            self._run("DELETE FROM tokens WHERE expires_at <= ?", (now,))
            return sum(self._run("DELETE FROM tokens WHERE digest = ?", (digest,))
                       for digest in digests)

    def token_user(self, digest: str, now: float) -> str | None:
        row = self._one("SELECT username FROM tokens WHERE digest = ? AND expires_at > ?",
                        (digest, now))
        return row[0] if row else None
