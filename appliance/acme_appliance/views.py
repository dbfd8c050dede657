"""Database rows to API objects."""

from __future__ import annotations

from acme_appliance import snapshots
from acme_appliance.context import Appliance, share_path
from acme_appliance.models import NfsRule, NfsSettings, Pool, Share, ShareRoot, Snapshot
from acme_appliance.records import Root
from acme_appliance.store import PoolUsage, ShareRow, SnapshotRow


def export_address(nfs_address: str) -> str:
    """IPv6 data addresses are bracketed so that ADDR:/PATH stays unambiguous."""
    return f"[{nfs_address}]" if ":" in nfs_address else nfs_address


def nfs_view(row: ShareRow) -> NfsSettings:
    rules = [NfsRule(clients=r.clients, access=r.access, root_squash=r.root_squash)  # type: ignore[arg-type]
             for r in row.nfs_rules]
    return NfsSettings(enabled=row.nfs_enabled, rules=rules)


def root_view(root: Root) -> ShareRoot:
    return ShareRoot(uid=root.uid, gid=root.gid, mode=f"{root.mode:04o}")


def share_view(appliance: Appliance, row: ShareRow) -> Share:
    path = share_path(row)
    return Share(
        id=row.id, name=row.name, pool=row.pool, path=path,
        exports=[f"{export_address(appliance.config.nfs_address)}:{path}"],
        quota_bytes=row.quota_bytes, used_bytes=row.used_bytes,
        used_bytes_complete=row.used_complete, origin_snapshot_id=row.origin_snapshot_id,
        nfs=nfs_view(row), root=root_view(row.root), created_at=row.created_at)


def snapshot_views(appliance: Appliance, rows: list[SnapshotRow]) -> list[Snapshot]:
    clones = snapshots.clones_of(appliance, rows)
    return [Snapshot(id=row.id, name=row.name, share_id=row.share_id, created_at=row.created_at,
                     used_bytes=row.used_bytes, clones=clones[row.id]) for row in rows]


def pool_view(name: str, total: int, usage: PoolUsage) -> Pool:
    return Pool(name=name, total_bytes=total, free_bytes=max(0, total - usage.used_bytes),
                used_bytes=usage.used_bytes, provisioned_bytes=usage.provisioned_bytes,
                share_count=usage.share_count)
