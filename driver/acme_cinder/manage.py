"""Manage and unmanage existing shares and snapshots."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any

from oslo_config import cfg
from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_utils import imageutils, units

from acme_cinder import acme_client, names, quotas
from acme_cinder.errors import backend_errors
from cinder import context as cinder_context
from cinder import coordination, exception, objects
from cinder.i18n import _
from cinder.volume import volume_utils

LOG = logging.getLogger(__name__)
CONF = cfg.CONF


def gib(size_bytes: int | float) -> int:
    """Whole GiB, rounded up."""
    return int(math.ceil(float(size_bytes) / units.Gi))


REFERENCE_KEYS = ('source-name', 'source-id')


def reference(existing_ref: dict) -> tuple[str, str]:
    """(key, value) of a reference naming exactly one of source-name or source-id.

    Anything else (neither, both, another key such as source-guid, an empty or
    non-string value) is refused: a lookup without a name could only ever
    match an arbitrary object.
    """
    given = [(k, existing_ref[k]) for k in REFERENCE_KEYS if k in (existing_ref or {})]
    if len(given) != 1 or not isinstance(given[0][1], str) or not given[0][1]:
        raise exception.ManageExistingInvalidReference(
            existing_ref=existing_ref,
            reason=_('give exactly one of source-name or source-id, a non-empty string'))
    return given[0]


class ManageMixin:
    """manage_existing*, unmanage* and the manageable lists."""

    # ------------------------------------------------------------------
    # Volumes
    # ------------------------------------------------------------------
    def _existing_share(self, volume: Any, existing_ref: dict) -> dict:
        """The referenced share, in the pool of the volume's host (host@backend#pool)."""
        pool = self._pool_of(volume)
        share = self._referenced_share(existing_ref, pool)
        if share is None or share['pool'] != pool:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('no share with this source-name or source-id in pool %s') % pool)
        if self._names.is_internal(share['name']):
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('share %s is internal to the driver') % share['name'])
        if self._backs_a_volume(share):
            raise exception.ManageExistingAlreadyManaged(volume_ref=share['name'])
        return share

    def _backs_a_volume(self, share: dict) -> bool:
        """Cinder's check_already_managed_volume, and by provider_id and name_id.

        After a migration a volume's name (and so its share's) carries its
        _name_id, not its id.
        """
        name = share['name']
        volume_id = volume_utils.extract_id_from_volume_name(name[len(self._names.prefix):]) \
            if name.startswith(self._names.prefix) else None
        if volume_utils.check_already_managed_volume(volume_id):
            return True
        ctx = cinder_context.get_admin_context()
        if objects.VolumeList.get_all(ctx, filters={'provider_id': share['id']}):
            return True
        return bool(volume_id) and bool(
            objects.VolumeList.get_all(ctx, filters={'_name_id': volume_id}))

    @contextlib.contextmanager
    def _inspecting(self, share: dict, keep_access: bool) -> Iterator[str]:
        """Mount a foreign share; put its NFS rules (and root) back unless it becomes ours."""
        before = self.client.shares.get_nfs(share['id'])
        try:
            with self._mounted_share(share) as mount_point:
                yield mount_point
        except Exception:
            self._restore(share, before)
            raise
        if not keep_access:
            self._restore(share, before)

    def _restore(self, share: dict, nfs: dict) -> None:
        with self._share_lock(share['id']):
            if self.client.shares.get_nfs(share['id']) != nfs:
                self.client.shares.set_nfs(share['id'], nfs.get('enabled', False),
                                           nfs.get('rules') or [])
        if self._root_ownership() and share.get('root'):
            self.client.shares.update(share['id'], root=share['root'])

    def _referenced_share(self, existing_ref: dict, pool: str) -> dict | None:
        key, value = reference(existing_ref)
        try:
            if key == 'source-id':
                return self.client.shares.get(value)
            return self.client.shares.find(value, pool)
        except acme_client.NotFound:
            return None

    def _existing_file(self, mount_point: str, existing_ref: dict) -> str:
        path, reason = self._volume_file(mount_point)
        if reason:
            raise exception.ManageExistingInvalidReference(existing_ref=existing_ref,
                                                           reason=reason)
        return path

    def _volume_file(self, mount_point: str) -> tuple[str, str | None]:
        """(path of the share's one file, None), or ('', why it cannot become a volume)."""
        files = [n for n in self._listdir(mount_point) if not n.startswith('.')]
        if len(files) != 1:
            return '', _('the share must hold exactly one file, it holds %d') % len(files)
        path = os.path.join(mount_point, files[0])
        owner = os.stat(path).st_uid
        if self._secure_operations() and owner != os.getuid():
            return '', (_('in secure NAS mode the file must belong to uid %(uid)d '
                          '(cinder-volume), %(name)s belongs to uid %(owner)d')
                        % {'uid': os.getuid(), 'name': files[0], 'owner': owner})
        return path, self._image_problem(path)

    def _image_problem(self, path: str) -> str | None:
        """Why the file is no raw image without a backing file (what Cinder's remotefs
        drivers check before a manage), by qemu-img; None when it is one."""
        try:
            out = self._run('env', 'LC_ALL=C', 'qemu-img', 'info', '--output=json', path)[0]
        except processutils.ProcessExecutionError as error:
            return _('qemu-img cannot read %(name)s: %(error)s') % {
                'name': os.path.basename(path), 'error': (error.stderr or '').strip()}
        info = imageutils.QemuImgInfo(out, format='json')
        if info.backing_file:
            return _('%s has a backing file') % os.path.basename(path)
        if info.file_format != 'raw':
            return _('%(name)s is %(format)s: only raw files become volumes') % {
                'name': os.path.basename(path), 'format': info.file_format}
        return None

    def _mounted_share(self, share: dict) -> Any:
        return self._mounts.mounted(
            self._location(share), prepare=lambda: self._grant(share['id'], CONF.my_ip))

    @backend_errors
    def manage_existing_get_size(self, volume: Any, existing_ref: dict) -> int:
        share = self._existing_share(volume, existing_ref)
        with self._inspecting(share, keep_access=False) as mount_point:
            return gib(os.path.getsize(self._existing_file(mount_point, existing_ref)))

    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def manage_existing(self, volume: Any, existing_ref: dict) -> dict:
        """Rename share and file to Cinder's names; whole GiB; rules reset.

        The checks run again, on a fresh read, under the share's manage lock:
        of two volumes managing one share at once, the second finds it taken.
        """
        share_id = self._existing_share(volume, existing_ref)['id']
        with self._share_lock(share_id, 'manage'):
            return self._take_over(volume, self._existing_share(volume, existing_ref),
                                   existing_ref)

    def _take_over(self, volume: Any, share: dict, existing_ref: dict) -> dict:
        """The share is renamed last: until then a failure leaves it under the
        operator's name (file name and rules restored), so deleting the volume
        Cinder marked error_managing can never delete the operator's data."""
        with self._inspecting(share, keep_access=True) as mount_point:
            path = self._existing_file(mount_point, existing_ref)
            size = max(gib(os.path.getsize(path)), volume.size or 0)
            if self._root_ownership():  # secure mode: this host must write the root
                self.client.shares.update(share['id'], **self._root_ownership())
            target = os.path.join(mount_point, volume.name)
            self._rename_in_share(path, target)
            try:
                self._resize_file(target, size)
                self._set_rw_permissions(target)
                self._reset_rules(share['id'], volume)
                share = self.client.shares.update(
                    share['id'], name=self._names.volume(volume.name),
                    quota_bytes=self._quota(size, share))
            except Exception:
                self._give_back(share, target, path)
                raise
        return {'provider_location': self._location(share), 'provider_id': share['id']}

    def _give_back(self, share: dict, target: str, path: str) -> None:
        """Undo a failed manage's renames (best effort: the failure is what Cinder hears)."""
        try:
            self.client.shares.update(share['id'], name=share['name'])
            self._rename_in_share(target, path)
        except Exception as error:
            LOG.error('Could not give share %s back its name %s after a failed manage: %s',
                      share['id'], share['name'], error)

    @backend_errors
    def unmanage(self, volume: Any) -> None:
        """The share stays as it is; a local mount goes (or the next reconcile ends it)."""
        self._release_or_warn(volume)

    # ------------------------------------------------------------------
    # Snapshots
    # ------------------------------------------------------------------
    def _find_existing_snapshot(self, snapshot: Any, existing_ref: dict,
                                share_id: str | None = None) -> dict:
        """The referenced appliance snapshot of the volume, if no Cinder snapshot has it."""
        key, value = reference(existing_ref)
        share_id = share_id or self._share_id(snapshot.volume)
        try:
            if key == 'source-id':
                found = self.client.snapshots.get(value)
                found = found if found['share_id'] == share_id else None
            else:
                found = self.client.snapshots.find(share_id, value)
        except acme_client.NotFound:
            found = None
        if found is None:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('no such snapshot of volume %s') % snapshot.volume.id)
        if self._backs_a_snapshot(found, snapshot):
            raise exception.ManageExistingAlreadyManaged(volume_ref=found['name'])
        return found

    @staticmethod
    def _backs_a_snapshot(found: dict, snapshot: Any) -> bool:
        """Whether another Cinder snapshot already stands for ``found``: by provider_id,
        or by its name (a Cinder snapshot's name carries its id)."""
        ctx = cinder_context.get_admin_context()
        by_id = objects.SnapshotList.get_all(ctx, filters={'provider_id': found['id']})
        if any(other.id != snapshot.id for other in by_id):
            return True
        named = volume_utils.extract_id_from_snapshot_name(found['name'])
        if not named or named == snapshot.id:
            return False
        try:
            objects.Snapshot.get_by_id(ctx, named)
        except exception.SnapshotNotFound:
            return False
        return True

    @backend_errors
    def manage_existing_snapshot(self, snapshot: Any, existing_ref: dict) -> dict:
        """Rename to Cinder's snapshot name: never a name the driver collects.

        Found, checked and renamed under the share's lock: of two Cinder
        snapshots managing one appliance snapshot at once, the second is refused.
        """
        share_id = self._share_id(snapshot.volume)
        with self._share_lock(share_id):
            found = self._find_existing_snapshot(snapshot, existing_ref, share_id)
            if found['name'] != snapshot.name:
                found = self.client.snapshots.update(share_id, found['id'], snapshot.name)
        return {'provider_id': found['id']}

    @backend_errors
    def manage_existing_snapshot_get_size(self, snapshot: Any, existing_ref: dict) -> int:
        self._find_existing_snapshot(snapshot, existing_ref)
        return snapshot.volume.size

    def unmanage_snapshot(self, snapshot: Any) -> None:
        """Nothing to do: the appliance snapshot stays as it is."""

    # ------------------------------------------------------------------
    # Manageable lists
    # ------------------------------------------------------------------
    @backend_errors
    def get_manageable_volumes(self, cinder_volumes: list, marker: Any, limit: int,
                               offset: int, sort_keys: list, sort_dirs: list) -> list:
        managed = {v.provider_id: v.id for v in cinder_volumes if v.provider_id}
        entries = [self._manageable_volume(share, managed.get(share['id']))
                   for share in self._pool_shares()]
        return volume_utils.paginate_entries_list(entries, marker, limit, offset,
                                                  sort_keys, sort_dirs)

    def _pool_shares(self) -> list[dict]:
        return [share for pool in self._pools() for share in self.client.shares.list(pool=pool)]

    def _quota_size(self, share: dict) -> int:
        """Whole GiB of the volume a share's quota stands for (0: no quota)."""
        return quotas.volume_size(share.get('quota_bytes') or 0,
                                  self.configuration.acme_share_quota_headroom)

    def _manageable_volume(self, share: dict, cinder_id: str | None) -> dict:
        size = self._quota_size(share) or gib(share.get('used_bytes') or 0)
        reason = None
        if cinder_id:
            reason = _('already managed')
        elif self._names.is_internal(share['name']):
            reason = _('internal share of the driver')
        elif self._backs_a_volume(share):
            reason = _('already managed by another backend')
        else:
            size, reason = self._inspected_size(share, size)
        return {
            'reference': {'source-name': share['name']},
            'size': size,
            'safe_to_manage': reason is None, 'reason_not_safe': reason,
            'cinder_id': cinder_id, 'extra_info': {'pool': share['pool']}}

    def _inspected_size(self, share: dict, size: int) -> tuple[int, str | None]:
        """(the size a manage would give, None) from the share's file, seen through a mount
        as manage sees it; or (``size``, why a manage would refuse the share)."""
        try:
            with self._inspecting(share, keep_access=False) as mount_point:
                path, reason = self._volume_file(mount_point)
                return (size, reason) if reason else (gib(os.path.getsize(path)), None)
        except Exception as error:
            LOG.warning('Could not look into share %s for the manageable list: %s',
                        share['name'], error)
            return size, _('could not be inspected: %s') % error

    @backend_errors
    def get_manageable_snapshots(self, cinder_snapshots: list, marker: Any, limit: int,
                                 offset: int, sort_keys: list, sort_dirs: list) -> list:
        managed = {s.provider_id: s.id for s in cinder_snapshots if s.provider_id}
        entries = []
        for share in self._pool_shares():
            for snap in self.client.snapshots.list(share['id']):
                entries.append(self._manageable_snapshot(snap, share, managed))
        return volume_utils.paginate_entries_list(entries, marker, limit, offset,
                                                  sort_keys, sort_dirs)

    def _manageable_snapshot(self, snap: dict, share: dict, managed: dict) -> dict:
        cinder_id = managed.get(snap['id'])
        reason = None
        if cinder_id:
            reason = _('already managed')
        elif names.is_hidden_snapshot(snap['name']):
            reason = _('internal snapshot of the driver')
        return {
            'reference': {'source-name': snap['name']},
            'size': self._quota_size(share),
            'safe_to_manage': reason is None, 'reason_not_safe': reason,
            'cinder_id': cinder_id, 'extra_info': {'pool': share['pool']},
            'source_reference': {'source-name': share['name']}}
