"""Exports, connections and the mounts they imply on the cinder-volume host.

The share is exported (an NFS rule) to every connector's address while it is
attached; the connector's host mounts it itself with os-brick. The
cinder-volume host mounts nothing for an attach: for a local attach (backup,
image, migration) os-brick mounts at the driver's mount point and
``remove_export`` unmounts it when Cinder says that connection has ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging

from acme_cinder import local_users
from acme_cinder.errors import backend_errors
from cinder import exception
from cinder.objects import fields

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
# Attachments that still need their host's NFS rule: not yet detached.
LIVE_ATTACH = (fields.VolumeAttachStatus.RESERVED, fields.VolumeAttachStatus.ATTACHING,
               fields.VolumeAttachStatus.ATTACHED)


class ConnectionsMixin:
    """create/ensure/remove_export and initialize/terminate_connection."""

    def create_export(self, context: Any, volume: Any, connector: dict) -> None:
        """Nothing to create: the rule comes with initialize_connection, the mount with os-brick."""

    def ensure_export(self, context: Any, volume: Any) -> None:
        """Nothing to mount at service start; an in-use volume stays as it is."""

    @backend_errors
    def remove_export(self, context: Any, volume: Any) -> None:
        """The last connection of the volume ended: unmount it here if mounted and idle."""
        self._release_or_warn(volume)  # a detach must not fail for a local unmount

    def validate_connector(self, connector: dict) -> None:
        """The share is exported to the connector's address: without one, no attach."""
        if not (connector or {}).get('ip'):
            raise exception.InvalidConnectorException(missing='ip')

    @backend_errors
    def initialize_connection(self, volume: Any, connector: dict,
                              initiator_data: dict | None = None) -> dict:
        ip = (connector or {}).get('ip')
        if ip:
            share_id = self._share_id(volume)
            with self._share_lock(share_id):
                self._grant_locked(share_id, ip, False if self._copied_as_root(volume) else None)
        return {
            'driver_volume_type': self.driver_volume_type,
            'data': {'export': self._export(volume.provider_location), 'name': volume.name,
                     'options': f'-o {self.mount_options}'},
            'mount_point_base': self.base,
        }

    @backend_errors
    def terminate_connection(self, volume: Any, connector: dict | None,
                             **kwargs: Any) -> bool:
        """Revoke the connector's access unless another attachment from its host needs it.

        Every attachment not yet detached (reserved, attaching, attached)
        counts, the one ending included. Returns whether other attachments of
        the volume remain (Cinder keeps the export then). This host's own rule
        stays: the driver's own operations use it. A force detach without a
        connector keeps the rules of the attachments that remain and ends the
        others.
        """
        live = [a for a in (volume.volume_attachment or []) if a.attach_status in LIVE_ATTACH]
        if connector is None:
            needed = {CONF.my_ip} | {(a.connector or {}).get('ip') for a in live}
            self._keep_access(volume, lambda clients: clients in needed)
            return False
        ip = connector.get('ip')
        if ip and ip != CONF.my_ip and self._same_host_count(live, connector) <= 1:
            self._keep_access(volume, lambda clients: clients != ip)
        elif ip and self._copied_as_root(volume):  # the copy is over: root squashed again
            self._grant(self._share_id(volume), ip, self._secure_operations())
        return len(live) > 1

    @staticmethod
    def _copied_as_root(volume: Any) -> bool:
        """Whether Cinder copies the volume's data as root through this connection: a
        host-assisted migration (source ``migrating``, destination ``target:<id>``) runs
        dd as root (volume_utils.copy_volume), which a root-squashed rule refuses on the
        cinder-owned file of secure NAS mode."""
        status = volume.migration_status or ''
        return status in local_users.MIGRATING or status.startswith('target:')

    def _keep_access(self, volume: Any, keep: Callable[[str], bool]) -> None:
        share_id = self._share_id(volume)
        with self._share_lock(share_id):
            self._revoke_locked(share_id, keep)

    @staticmethod
    def _same_host_count(attachments: list, connector: dict) -> int:
        ip, host = connector.get('ip'), connector.get('host')
        return sum(1 for a in attachments
                   if (a.connector or {}).get('ip') == ip
                   or (host and a.attached_host == host))

    # ------------------------------------------------------------------
    # NFS rules (caller holds the share's lock)
    # ------------------------------------------------------------------
    def _revoke_locked(self, share_id: str, keep: Callable[[str], bool]) -> None:
        nfs = self.client.shares.get_nfs(share_id)
        rules = nfs.get('rules') or []
        wanted = [r for r in rules if keep(r['clients'])]
        if wanted != rules:
            self.client.shares.set_nfs(share_id, True, wanted)

    def _reset_rules(self, share_id: str, volume: Any) -> None:
        """This host and the connectors of the volume's attachments, nothing else."""
        ips = [CONF.my_ip] + [(a.connector or {}).get('ip')
                              for a in (volume.volume_attachment or [])]
        rules = [self._rule(ip) for ip in dict.fromkeys(ip for ip in ips if ip)]
        with self._share_lock(share_id):
            self.client.shares.set_nfs(share_id, True, rules)
