"""Which shares local users of this host still need mounted, read from Cinder's database.

The database is the one record that every host of an active-active cluster
shares and that survives a crash: an attach made here and detached by another
host shows up here as an attachment that is gone, or a volume that left its
busy state.

Local users are:

* attachments whose connector is this host (a Nova compute service on the
  same machine, or the volume service's own attachment-API attaches);
* volumes in a state in which Cinder attaches them locally without an
  attachment record (backup, restore, image upload/download, retype,
  migration): kept mounted on every host that has them mounted, until the
  state ends; that errs on the side of not pulling a mount from under a user;
* the destination volume of a host-assisted migration (``migration_status``
  ``target:<source id>``), which Cinder attaches locally to copy into.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from oslo_config import cfg

from cinder import objects
from cinder.objects import fields

CONF = cfg.CONF

ACTIVE_ATTACH = (fields.VolumeAttachStatus.ATTACHING, fields.VolumeAttachStatus.ATTACHED,
                 fields.VolumeAttachStatus.ERROR_DETACHING)
LOCAL_DATA_STATUSES = ['backing-up', 'restoring-backup', 'downloading', 'uploading',
                       'retyping', 'maintenance']
MIGRATING = ['starting', 'migrating']


def host_names() -> set[str]:
    """Names a connector of this host carries (os-brick uses the hostname)."""
    return {name for name in (CONF.host, socket.gethostname()) if name}


def is_local(connector: dict | None) -> bool:
    connector = connector or {}
    return connector.get('ip') == CONF.my_ip or connector.get('host') in host_names()


def needed_exports(context) -> set[str]:
    """provider_location of every volume a local user of this host needs."""
    exports: set[str] = set()
    for host in host_names():
        for attachment in objects.VolumeAttachmentList.get_all_by_host(context, host):
            if attachment.attach_status in ACTIVE_ATTACH:
                exports.add(attachment.volume.provider_location)
    exports.update(_locations(objects.VolumeList.get_all(
        context, filters={'status': LOCAL_DATA_STATUSES})))
    migrating = objects.VolumeList.get_all(context, filters={'migration_status': MIGRATING})
    exports.update(_locations(migrating))
    if migrating:
        exports.update(_locations(objects.VolumeList.get_all(context, filters={
            'migration_status': [f'target:{volume.id}' for volume in migrating]})))
    exports.discard(None)
    return exports


def _locations(volumes: Iterable) -> set[str]:
    return {volume.provider_location for volume in volumes}
