"""Real Cinder objects for driver tests (no database)."""

from __future__ import annotations

import uuid

from cinder import objects
from cinder.objects import fields


def make_volume(ctx, group: str, size: int = 1, **updates) -> objects.Volume:
    """A Volume with the fields drivers read, hosted on backend ``group`` pool1."""
    values = dict(id=str(uuid.uuid4()), _name_id=None, size=size, host=f'cv1@{group}#pool1',
                  status='available', attach_status=fields.VolumeAttachStatus.DETACHED,
                  provider_location=None, provider_id=None, encryption_key_id=None,
                  volume_type_id=None, display_name='vol', migration_status=None,
                  cluster_name=None)
    values.update(updates)
    vol = objects.Volume(context=ctx, **values)
    vol.volume_attachment = objects.VolumeAttachmentList(objects=[])
    vol.obj_reset_changes()
    return vol


def make_snapshot(ctx, vol: objects.Volume, **updates) -> objects.Snapshot:
    """A Snapshot of ``vol`` being created (no provider id yet)."""
    values = dict(id=str(uuid.uuid4()), volume_id=vol.id, volume_size=vol.size,
                  provider_id=None, status=fields.SnapshotStatus.CREATING)
    values.update(updates)
    snap = objects.Snapshot(context=ctx, **values)
    snap.volume = vol
    return snap
