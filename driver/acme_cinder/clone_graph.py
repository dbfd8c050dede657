"""Clones, and deletes that respect what clones depend on.

A clone share depends on its origin snapshot, which lives on the source share.
Cinder lets users delete a snapshot or a volume that other volumes were made
from (like its reference drivers do); the appliance refuses to delete what a
clone still needs. So the driver hides it instead (a reserved name, no NFS
access) and removes it, and whatever only it kept alive up the chain, as soon
as the last dependent share is gone. Each step changes one share under that
share's lock; no lock spans the graph.
"""

from __future__ import annotations

from typing import Any

from oslo_log import log as logging

from acme_cinder import acme_client, names
from acme_cinder.errors import backend_errors
from cinder import coordination, exception

LOG = logging.getLogger(__name__)
# A volume Cinder failed to manage: the share is still the operator's.
FAILED_MANAGE = ('error_managing', 'error_managing_deleting')


class CloneGraphMixin:
    """delete_volume, delete_snapshot and cloning for AcmeNfsDriver."""

    # ------------------------------------------------------------------
    # Cloning
    # ------------------------------------------------------------------
    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_volume_from_snapshot(self, volume: Any, snapshot: Any) -> dict:
        share = self._new_share(volume, self.client.snapshots.get(snapshot.provider_id))
        return self._fill_share(volume, share, self._clone_filler(volume, snapshot.volume.name))

    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_cloned_volume(self, volume: Any, src_vref: Any) -> dict:
        """A hidden snapshot of the source, cloned; the snapshot goes with its clone."""
        source = self.client.snapshots.create(
            self._share_id(src_vref), names.CLONE_SOURCE_SNAPSHOT + volume.id)
        try:
            share = self._new_share(volume, source)
            return self._fill_share(volume, share, self._clone_filler(volume, src_vref.name))
        except Exception:
            self._collect(source['id'])
            raise

    # ------------------------------------------------------------------
    # Deletes
    # ------------------------------------------------------------------
    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def delete_volume(self, volume: Any) -> None:
        if volume.provider_location:
            try:
                self._mounts.release(self._export(volume.provider_location))
            except Exception as error:
                LOG.warning('Volume %s stays: its share is busy on this host: %s',
                            volume.id, error)
                raise exception.VolumeIsBusy(volume_name=volume.name) from error
        share = self._find_share(volume)
        if share is None:
            LOG.info('Share of volume %s is already gone', volume.id)
            return
        if volume.status in FAILED_MANAGE and not volume.provider_id:
            LOG.warning('Volume %s failed to be managed: its share %s (%s) stays on the '
                        'appliance with its data', volume.id, share['name'], share['id'])
            return
        self._retire_share(share, self._names.deleted(volume.id))

    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def delete_snapshot(self, snapshot: Any) -> None:
        if self._delete_plain_snapshot(snapshot):
            return
        found = self._appliance_snapshot(snapshot)
        if found is None:
            LOG.info('Snapshot %s is already gone from the appliance', snapshot.id)
            return
        with self._share_lock(found['share_id']):
            if self._delete_or_keep(found):
                return
            self.client.snapshots.update(found['share_id'], found['id'],
                                         names.DELETED_SNAPSHOT + snapshot.id)
        LOG.info('Snapshot %s is deleted; the appliance keeps it hidden for volumes '
                 'made from it', snapshot.id)

    def _delete_plain_snapshot(self, snapshot: Any) -> bool:
        """The common case in one call: no clone needs it and it is where it was made."""
        share_id = snapshot.volume.provider_id
        if not (snapshot.provider_id and share_id):
            return False
        try:
            return self.client.snapshots.delete(share_id, snapshot.provider_id)
        except acme_client.InUse:
            return False

    def _appliance_snapshot(self, snapshot: Any) -> dict | None:
        """The appliance snapshot of a Cinder snapshot, wherever it lives now."""
        try:
            if snapshot.provider_id:
                return self.client.snapshots.get(snapshot.provider_id)
            return self.client.snapshots.find(self._share_id(snapshot.volume), snapshot.name)
        except acme_client.NotFound:
            return None

    def _delete_or_keep(self, snap: dict) -> bool:
        """Delete a snapshot, after its leftover temporary clones; False if clones need it."""
        if snap['clones'] and not self._discard_temporary_clones(snap):
            return False
        try:
            self.client.snapshots.delete(snap['share_id'], snap['id'])
        except acme_client.InUse:
            return False
        return True

    def _discard_temporary_clones(self, snap: dict) -> bool:
        """Delete clones left by an interrupted revert; True if no other clone remains."""
        others = 0
        for clone_id in snap['clones']:
            try:
                clone = self.client.shares.get(clone_id)
            except acme_client.NotFound:
                continue
            if self._names.is_temporary(clone['name']):
                LOG.info('Deleting %s, left over by an interrupted revert', clone['name'])
                self.client.shares.delete(clone_id, recursive=True)
            else:
                others += 1
        return others == 0

    def _retire_share(self, share: dict, hidden_name: str) -> None:
        """Delete a share; hide it while clones depend on its snapshots."""
        with self._share_lock(share['id']):
            if not self._delete_share_unless_needed(share):
                self._hide_share(share, hidden_name)
                return
        self._forget_share(share['id'])
        self._collect(share.get('origin_snapshot_id'))

    def _delete_share_unless_needed(self, share: dict) -> bool:
        try:
            self.client.shares.delete(share['id'], recursive=True)
            return True
        except acme_client.InUse:
            pass
        needed = [s for s in self.client.snapshots.list(share['id'])
                  if not self._delete_or_keep(s)]
        if needed:
            return False
        self.client.shares.delete(share['id'], recursive=True)
        return True

    def _hide_share(self, share: dict, hidden_name: str) -> None:
        """No NFS access and a reserved name until the last clone of it is gone."""
        self.client.shares.set_nfs(share['id'], False, [])
        if share['name'] != hidden_name:
            self.client.shares.update(share['id'], name=hidden_name)
        LOG.info('Share %s is kept hidden as %s: other volumes were made from it',
                 share['id'], hidden_name)

    def _collect(self, snapshot_id: str | None) -> None:
        """Remove hidden objects that nothing needs any more, walking up the chain."""
        while snapshot_id:
            snapshot_id = self._collect_one(snapshot_id)

    def _collect_one(self, snapshot_id: str) -> str | None:
        """Delete a hidden, unneeded snapshot (and its hidden share if now empty).

        Judged under the share's lock on a fresh read: another host may be
        hiding the snapshot right now, after this host's last clone of it went.
        Returns the next snapshot up the chain worth looking at, or None.
        """
        try:
            share_id = self.client.snapshots.get(snapshot_id)['share_id']
            with self._share_lock(share_id):
                share = self._collect_locked(self.client.snapshots.get(snapshot_id))
        except acme_client.NotFound:
            return None
        if share is None:
            return None
        LOG.info('Deleted hidden share %s: the last volume made from it is gone', share_id)
        self._forget_share(share_id)
        return share.get('origin_snapshot_id')

    def _collect_locked(self, snap: dict) -> dict | None:
        """The hidden share deleted after its last snapshot, or None (caller holds its lock)."""
        if snap['clones'] or not names.is_hidden_snapshot(snap['name']):
            return None
        if not self._delete_or_keep(snap):
            return None
        share = self.client.shares.get(snap['share_id'])
        if not self._names.is_hidden(share['name']) or self.client.snapshots.list(share['id']):
            return None
        self.client.shares.delete(share['id'], recursive=True)
        return share
