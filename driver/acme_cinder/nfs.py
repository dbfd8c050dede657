"""Cinder volume driver for the ACME NAS appliance: one NFS share per volume.

Every volume is a share of its own, named after the volume, holding one raw
file named ``volume.name``. Snapshots and clones are the appliance's (no data
passes through the cinder-volume host). The REST calls go through the one
appliance client (``acme_cinder.acme_client``); this module only decides.

Mount-on-demand: a share is mounted on the cinder-volume host only while an
operation needs its file or while it is exported (``create_export`` until
``remove_export``); see ``acme_cinder.mounts``.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from os_brick.remotefs import remotefs as remotefs_brick
from oslo_concurrency import processutils as putils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import units

from acme_cinder import __version__, acme_client, options
from acme_cinder.mounts import MountError, ShareMounts
from cinder import coordination, exception, interface, utils
from cinder.common import constants
from cinder.i18n import _
from cinder.objects import fields
from cinder.privsep import fs as privsep_fs
from cinder.volume.drivers import remotefs
from cinder.volume import volume_utils

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

VENDOR = 'ACME STORAGE, Inc'
# Snapshots the driver takes for create_cloned_volume; Cinder never sees them
# and they are deleted as soon as no clone depends on them.
HIDDEN_SNAPSHOT_PREFIX = 'cinder-clone-'
TEMP_SHARE_INFIX = 'revert-'


def _backend_errors(method: Callable) -> Callable:
    """Report appliance, mount and file failures as VolumeBackendAPIException."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (acme_client.AcmeError, MountError, putils.ProcessExecutionError,
                OSError) as error:
            raise exception.VolumeBackendAPIException(
                data=f'{method.__name__}: {error}') from error

    return wrapper


def _gib(size_bytes: int | float) -> int:
    return int(math.ceil(float(size_bytes) / units.Gi))


@interface.volumedriver
class AcmeNfsDriver(remotefs.RemoteFSDriver):
    """ACME NAS appliance: one NFS share (with a quota) per Cinder volume.

    RemoteFSDriver is the base for Cinder's NAS security semantics
    (nas_secure_file_*), file creation and the local-path image copies; its
    share-list handling (mount every configured share at start) is replaced by
    mount-on-demand, and nothing of the qcow2 snapshot drivers is used.
    """

    VERSION = __version__
    CI_WIKI_NAME = 'ACME_CI'
    SUPPORTS_ACTIVE_ACTIVE = True
    driver_volume_type = 'nfs'
    driver_prefix = 'acme'
    volume_backend_name = 'ACME_NFS'
    vendor_name = VENDOR
    _thin_provisioning_support = True
    _thick_provisioning_support = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for opts in (options.ACME_CONNECTION_OPTS, options.ACME_SHARE_OPTS,
                     options.ACME_NFS_OPTS):
            self.configuration.append_config_values(opts)
        conf = self.configuration
        self.client: acme_client.AcmeClient | None = None
        self._setup_error_logged: str | None = None
        self.base = os.path.realpath(conf.nfs_mount_point_base)
        self.mount_options = conf.nfs_mount_options or options.DEFAULT_NFS_MOUNT_OPTIONS
        self._remotefsclient = remotefs_brick.RemoteFsClient(
            'nfs', utils.get_root_helper(), execute=self._execute,
            nfs_mount_point_base=self.base, nfs_mount_options=self.mount_options)
        self._mounts = ShareMounts(
            self._remotefsclient, lock=self._lock, umount=privsep_fs.umount,
            attempts=conf.nfs_mount_attempts)

    @staticmethod
    def get_driver_options() -> list[cfg.Opt]:
        return list(options.ACME_OPTS)

    # ------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------
    def do_setup(self, context: Any) -> None:
        super().do_setup(context)  # validates nas_secure_file_* values
        conf = self.configuration
        for name in ('acme_url', 'acme_pool', 'nas_user', 'nas_password'):
            if not conf.safe_get(name):
                raise exception.InvalidConfigurationValue(
                    option=name, value='' if name == 'nas_password' else conf.safe_get(name))
        if conf.acme_ca_file and not os.path.isfile(conf.acme_ca_file):
            raise exception.InvalidConfigurationValue(
                option='acme_ca_file', value=conf.acme_ca_file)
        self.client = self._make_client()
        self.set_nas_security_options(bool(self._is_voldb_empty_at_startup))

    def _make_client(self) -> acme_client.AcmeClient:
        conf = self.configuration
        verify: bool | str = conf.acme_tls_verify
        if verify and conf.acme_ca_file:
            verify = conf.acme_ca_file
        return acme_client.AcmeClient(
            conf.acme_url, conf.nas_user, conf.nas_password, verify=verify,
            timeout=(conf.acme_connect_timeout, conf.acme_read_timeout),
            retries=conf.acme_retries, backoff=conf.acme_backoff)

    def check_for_setup_error(self) -> None:
        """Reach the appliance and find the pool; one clear message if not."""
        conf = self.configuration
        try:
            system = self.client.system.get()
            self.client.pools.get(conf.acme_pool)
        except acme_client.Unauthorized:
            reason = f'the appliance at {conf.acme_url} refused user {conf.nas_user!r}'
        except acme_client.NotFound:
            reason = f'pool {conf.acme_pool!r} does not exist on {conf.acme_url}'
        except acme_client.AcmeError as error:
            reason = str(error)
        else:
            LOG.info('ACME backend %s: %s %s %s, pool %s', conf.config_group,
                     system.get('vendor'), system.get('model'), system.get('version'),
                     conf.acme_pool)
            return
        self._log_setup_error(reason)
        raise exception.VolumeBackendAPIException(data=reason) from None

    def _log_setup_error(self, reason: str) -> None:
        """Say why once: Cinder retries a failed set-up (reinit_driver_count)."""
        log = LOG.debug if reason == self._setup_error_logged else LOG.error
        log('ACME backend %s cannot start: %s', self.configuration.config_group, reason)
        self._setup_error_logged = reason

    def set_nas_security_options(self, is_new_cinder_install: bool) -> None:
        """Resolve nas_secure_file_* 'auto' the way Cinder's NFS driver does.

        There is no permanently mounted share here, so the indicator file
        lives in nfs_mount_point_base on this host.
        """
        conf = self.configuration
        os.makedirs(self.base, exist_ok=True)
        for name in ('nas_secure_file_permissions', 'nas_secure_file_operations'):
            value = self._determine_nas_security_option_setting(
                getattr(conf, name), self.base, is_new_cinder_install)
            setattr(conf, name, value)
            if value == 'false':
                LOG.warning('%s is false: this is an insecure NAS environment', name)
        self._execute_as_root = conf.nas_secure_file_operations != 'true'

    # ------------------------------------------------------------------
    # Names, locations, locks
    # ------------------------------------------------------------------
    def _lock(self, name: str) -> Any:
        return coordination.COORDINATOR.get_lock(name)

    def _pool(self) -> str:
        return self.configuration.acme_pool

    def _share_name(self, volume: Any) -> str:
        return self.configuration.acme_share_prefix + volume.name

    def _location(self, share: dict) -> str:
        """ADDR:/PATH of a share; acme_nfs_address replaces the address."""
        exports = share.get('exports') or []
        if exports:
            address, _sep, path = exports[0].partition(':')
        else:
            address, path = urlsplit(self.configuration.acme_url).hostname, share['path']
        return f'{self.configuration.acme_nfs_address or address}:{path}'

    def _share_id(self, volume: Any) -> str:
        if volume.provider_id:
            return volume.provider_id
        share = self.client.shares.find(self._share_name(volume), self._pool())
        if share is None:
            raise acme_client.NotFound(f'no share for volume {volume.id}')
        return share['id']

    @staticmethod
    def _rule(ip: str) -> dict:
        return {'clients': ip, 'access': 'rw', 'root_squash': False}

    def _host_nfs(self) -> dict:
        return {'enabled': True, 'rules': [self._rule(CONF.my_ip)]}

    def _topology_lock(self) -> Any:
        """Serialises changes of the clone graph (clone, promote, delete)."""
        return self._lock(f'acme-{self._pool()}-clones')

    # ------------------------------------------------------------------
    # Mount-on-demand helpers
    # ------------------------------------------------------------------
    def _mounted(self, volume: Any) -> Any:
        share_id = self._share_id(volume)
        return self._mounts.mounted(
            volume.provider_location,
            prepare=lambda: self._grant_locked(share_id, CONF.my_ip))

    def _grant_locked(self, share_id: str, ip: str) -> None:
        """Add an rw rule for ``ip`` (caller holds the share's lock)."""
        nfs = self.client.shares.get_nfs(share_id)
        rules = nfs.get('rules') or []
        if nfs.get('enabled') and any(r['clients'] == ip for r in rules):
            return
        self.client.shares.set_nfs(share_id, True, rules + [self._rule(ip)])

    def _revoke_locked(self, share_id: str, keep: Callable[[str], bool]) -> None:
        nfs = self.client.shares.get_nfs(share_id)
        rules = nfs.get('rules') or []
        wanted = [r for r in rules if keep(r['clients'])]
        if wanted != rules:
            self.client.shares.set_nfs(share_id, True, wanted)

    # ------------------------------------------------------------------
    # File operations (as root only in insecure mode)
    # ------------------------------------------------------------------
    def _run(self, *cmd: str) -> tuple[str, str]:
        return self._execute(*cmd, run_as_root=self._execute_as_root)

    def _create_volume_file(self, path: str, size_gb: int) -> None:
        if self.configuration.nfs_sparsed_volumes:
            self._create_sparsed_file(path, size_gb)
        else:
            self._create_regular_file(path, size_gb)
        self._set_rw_permissions(path)

    def _resize_file(self, path: str, size_gb: int) -> None:
        current = int(self._run('stat', '-c', '%s', path)[0].strip())
        wanted = size_gb * units.Gi
        if current >= wanted:
            return
        if self.configuration.nfs_sparsed_volumes:
            self._run('truncate', '-s', f'{size_gb}G', path)
        else:
            self._run('dd', 'if=/dev/zero', f'of={path}', 'bs=1M',
                      f'count={(wanted - current) // units.Mi}',
                      'oflag=append', 'conv=notrunc')

    def _wait_for_file(self, directory: str, expected: str) -> str:
        """The volume file in a fresh clone: ``expected`` or the only file.

        Bounded polling, because an NFS client's attribute cache may not show
        the clone's files at once.
        """
        deadline = time.monotonic() + self.configuration.acme_file_wait_timeout
        delay = 0.1
        while True:
            path = os.path.join(directory, expected)
            if os.path.isfile(path):
                return path
            candidates = [n for n in self._listdir(directory) if not n.startswith('.')]
            if len(candidates) == 1:
                return os.path.join(directory, candidates[0])
            if time.monotonic() >= deadline:
                raise exception.VolumeBackendAPIException(
                    data=f'volume file {expected} did not appear in {directory}')
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    @staticmethod
    def _listdir(directory: str) -> list[str]:
        try:
            return [n for n in os.listdir(directory)
                    if os.path.isfile(os.path.join(directory, n))]
        except OSError:
            return []

    def _rename_in_share(self, location: str, src: str, dst: str) -> None:
        if src == dst:
            return
        with self._mounts.locked(location):
            self._run('mv', src, dst)

    # ------------------------------------------------------------------
    # Volumes
    # ------------------------------------------------------------------
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_volume(self, volume: Any) -> dict:
        if volume.encryption_key_id:
            raise exception.VolumeDriverException(
                message=_('Encrypted volumes are not supported by this driver.'))
        return self._create_share_with_file(
            volume, lambda path, _location: self._create_volume_file(path, volume.size))

    def _create_share_with_file(self, volume: Any, fill: Callable[[str, str], None],
                                origin_snapshot_id: str | None = None) -> dict:
        """Create the share (exported to this host), mount it, ``fill`` the file."""
        share = self._new_share(volume, origin_snapshot_id)
        return self._fill_share(volume, share, fill)

    def _new_share(self, volume: Any, origin_snapshot_id: str | None = None) -> dict:
        """POST the share: quota and this host's export in the same call."""
        name = self._share_name(volume)
        try:
            return self.client.shares.create(
                name, self._pool(), quota_bytes=volume.size * units.Gi,
                origin_snapshot_id=origin_snapshot_id, nfs=self._host_nfs())
        except acme_client.AcmeError as error:
            # A create whose answer was lost may still have made the share.
            self._discard_share(None, name)
            raise exception.VolumeBackendAPIException(
                data=f'cannot create volume {volume.id}: {error}') from error

    def _fill_share(self, volume: Any, share: dict, fill: Callable[[str, str], None]) -> dict:
        """Mount the new share and ``fill`` the volume file; delete the share on failure."""
        location = self._location(share)
        try:
            with self._mounts.mounted(location) as mount_point:
                fill(os.path.join(mount_point, volume.name), location)
        except Exception as error:
            self._discard_share(share['id'], share['name'])
            raise exception.VolumeBackendAPIException(
                data=f'cannot create volume {volume.id}: {error}') from error
        return {'provider_location': location, 'provider_id': share['id']}

    def _discard_share(self, share_id: str | None, name: str) -> None:
        """Best-effort removal of a half-made share (cleanup after a failure)."""
        try:
            if share_id is None:
                found = self.client.shares.find(name, self._pool())
                share_id = found and found['id']
            if share_id:
                self.client.shares.delete(share_id, recursive=True)
        except acme_client.AcmeError as error:
            LOG.error('Could not delete the temporary or half-made share %s: %s', name, error)

    @_backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def delete_volume(self, volume: Any) -> None:
        if volume.provider_location and not self._mounts.unexport(
                volume.id, volume.provider_location):
            raise exception.VolumeIsBusy(volume_name=volume.name)
        try:
            share_id = self._share_id(volume)
        except acme_client.NotFound:
            LOG.info('Share of volume %s is already gone', volume.id)
            return
        with self._topology_lock():
            self._delete_share(share_id)

    def _delete_share(self, share_id: str) -> None:
        """Delete a share and what only it needed; promote clones that need it.

        A snapshot with dependent clones is never deleted: the clone of the
        newest such snapshot is promoted (it takes over that snapshot and the
        older ones), after which the share depends on it and can go. Hidden
        clone snapshots left without clones are garbage-collected.
        """
        try:
            share = self.client.shares.get(share_id)
        except acme_client.NotFound:
            return
        try:
            self.client.shares.delete(share_id, recursive=True)
        except acme_client.InUse:
            share = self._promote_dependents(share)
            self.client.shares.delete(share_id, recursive=True)
        if share.get('origin_snapshot_id'):
            self._collect_hidden_snapshot(share['origin_snapshot_id'])

    def _promote_dependents(self, share: dict) -> dict:
        snapshots = self.client.snapshots.list(share['id'])
        cloned = [s for s in snapshots if s.get('clones')]
        if not cloned:
            raise acme_client.InUse(f"share {share['id']} is in use")
        newest = max(cloned, key=lambda s: s['created_at'])
        LOG.info('Promoting share %s so that share %s can be deleted',
                 newest['clones'][0], share['id'])
        self.client.shares.promote(newest['clones'][0])
        return self.client.shares.get(share['id'])

    def _collect_hidden_snapshot(self, snapshot_id: str) -> None:
        try:
            snapshot = self.client.snapshots.get(snapshot_id)
            if snapshot['name'].startswith(HIDDEN_SNAPSHOT_PREFIX) and not snapshot['clones']:
                self.client.snapshots.delete(snapshot['share_id'], snapshot_id)
        except (acme_client.NotFound, acme_client.InUse):
            pass

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_volume_from_snapshot(self, volume: Any, snapshot: Any) -> dict:
        share = self._new_share(volume, snapshot.provider_id)
        return self._fill_share(volume, share, self._clone_filler(
            volume, snapshot.volume.name, snapshot.volume_size))

    def _clone_filler(self, volume: Any, source_name: str,
                      source_size: int) -> Callable[[str, str], None]:
        """Rename the clone's file to the new volume's name; grow it if needed."""
        def fill(path: str, location: str) -> None:
            found = self._wait_for_file(os.path.dirname(path), source_name)
            self._rename_in_share(location, found, path)
            if volume.size > source_size:
                self._resize_file(path, volume.size)
            self._set_rw_permissions(path)

        return fill

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_cloned_volume(self, volume: Any, src_vref: Any) -> dict:
        """Hidden snapshot + clone; the snapshot goes when nothing depends on it."""
        with self._topology_lock():
            try:
                hidden = self.client.snapshots.create(
                    self._share_id(src_vref), HIDDEN_SNAPSHOT_PREFIX + volume.id)
            except acme_client.AcmeError as error:
                raise exception.VolumeBackendAPIException(
                    data=f'cannot snapshot volume {src_vref.id}: {error}') from error
            try:
                share = self._new_share(volume, hidden['id'])
            except Exception:
                self._collect_hidden_snapshot(hidden['id'])
                raise
        try:
            return self._fill_share(volume, share, self._clone_filler(
                volume, src_vref.name, src_vref.size))
        except Exception:
            with self._topology_lock():
                self._collect_hidden_snapshot(hidden['id'])
            raise

    @_backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def extend_volume(self, volume: Any, new_size: int) -> None:
        if volume.attach_status == fields.VolumeAttachStatus.ATTACHED:
            # Like Cinder's NFS drivers: no extend while attached (the
            # hypervisor does not resize an NFS-backed disk online).
            raise exception.ExtendVolumeError(
                reason=_('volume %s is attached') % volume.id)
        share_id = self._share_id(volume)
        self.client.shares.update(share_id, quota_bytes=new_size * units.Gi)
        try:
            with self._mounted(volume) as mount_point:
                self._resize_file(os.path.join(mount_point, volume.name), new_size)
        except Exception:
            self.client.shares.update(share_id, quota_bytes=volume.size * units.Gi)
            raise

    # ------------------------------------------------------------------
    # Snapshots
    # ------------------------------------------------------------------
    @_backend_errors
    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def create_snapshot(self, snapshot: Any) -> dict:
        created = self.client.snapshots.create(
            self._share_id(snapshot.volume), snapshot.name)
        return {'provider_id': created['id']}

    @_backend_errors
    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def delete_snapshot(self, snapshot: Any) -> None:
        snapshot_id = snapshot.provider_id or self._find_snapshot_id(snapshot)
        if snapshot_id is None:
            return
        try:
            with self._topology_lock():
                self._delete_appliance_snapshot(snapshot, snapshot_id)
        except acme_client.InUse:
            raise exception.SnapshotIsBusy(snapshot_name=snapshot.name) from None

    def _find_snapshot_id(self, snapshot: Any) -> str | None:
        try:
            found = self.client.snapshots.find(self._share_id(snapshot.volume), snapshot.name)
        except acme_client.NotFound:
            return None
        return found and found['id']

    def _delete_appliance_snapshot(self, snapshot: Any, snapshot_id: str) -> None:
        try:
            share_id = self._share_id(snapshot.volume)
        except acme_client.NotFound:
            share_id = None
        if share_id and self.client.snapshots.delete(share_id, snapshot_id):
            return
        # Not under the volume's share (a promote moved it) or already gone.
        try:
            moved = self.client.snapshots.get(snapshot_id)
        except acme_client.NotFound:
            return
        self.client.snapshots.delete(moved['share_id'], snapshot_id)

    def snapshot_revert_use_temp_snapshot(self) -> bool:
        # A temporary snapshot would be newer than the one reverted to and
        # turn every appliance rollback into a file copy.
        return False

    @_backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def revert_to_snapshot(self, context: Any, volume: Any, snapshot: Any) -> None:
        share_id = self._share_id(volume)
        try:
            self.client.snapshots.rollback(share_id, snapshot.provider_id)
        except acme_client.InUse:
            LOG.info('Newer snapshots exist; reverting volume %s file by file', volume.id)
            self._revert_by_copy(volume, snapshot)

    def _revert_by_copy(self, volume: Any, snapshot: Any) -> None:
        """Copy the file from a temporary clone of the snapshot (keeps newer snapshots)."""
        name = f'{self.configuration.acme_share_prefix}{TEMP_SHARE_INFIX}{volume.id}'
        self._discard_share(None, name)  # left over by an interrupted revert
        temp = self.client.shares.create(
            name, self._pool(), origin_snapshot_id=snapshot.provider_id,
            nfs=self._host_nfs())
        try:
            with self._mounts.mounted(self._location(temp)) as source_dir, \
                    self._mounted(volume) as target_dir:
                source = self._wait_for_file(source_dir, snapshot.volume.name)
                self._run('cp', '--sparse=always', '-f', source,
                          os.path.join(target_dir, volume.name))
        finally:
            self._discard_share(temp['id'], name)

    # ------------------------------------------------------------------
    # Exports and connections
    # ------------------------------------------------------------------
    @_backend_errors
    def create_export(self, context: Any, volume: Any, connector: dict) -> None:
        self._export(volume)

    @_backend_errors
    def ensure_export(self, context: Any, volume: Any) -> None:
        self._export(volume)

    def _export(self, volume: Any) -> None:
        share_id = self._share_id(volume)
        self._mounts.export(volume.id, volume.provider_location,
                            prepare=lambda: self._grant_locked(share_id, CONF.my_ip))

    @_backend_errors
    def remove_export(self, context: Any, volume: Any) -> None:
        if volume.provider_location:
            self._mounts.unexport(volume.id, volume.provider_location)

    @_backend_errors
    def initialize_connection(self, volume: Any, connector: dict,
                              initiator_data: dict | None = None) -> dict:
        ip = (connector or {}).get('ip')
        if ip:
            share_id = self._share_id(volume)
            with self._mounts.locked(volume.provider_location):
                self._grant_locked(share_id, ip)
        return {
            'driver_volume_type': self.driver_volume_type,
            'data': {'export': volume.provider_location, 'name': volume.name,
                     'options': f'-o {self.mount_options}'},
            'mount_point_base': self.base,
        }

    @_backend_errors
    def terminate_connection(self, volume: Any, connector: dict | None,
                             **kwargs: Any) -> bool:
        """Revoke the connector's access unless another attachment needs it.

        Returns whether other attachments of the volume remain (Cinder keeps
        the export then). This host's own rule is never revoked.
        """
        attached = [a for a in (volume.volume_attachment or [])
                    if a.attach_status == fields.VolumeAttachStatus.ATTACHED]
        if connector is None:  # force detach of every attachment
            self._keep_access(volume, lambda clients: clients == CONF.my_ip)
            return False
        ip = connector.get('ip')
        if ip and ip != CONF.my_ip and self._same_host_count(attached, connector) <= 1:
            self._keep_access(volume, lambda clients: clients != ip)
        return len(attached) > 1

    def _keep_access(self, volume: Any, keep: Callable[[str], bool]) -> None:
        share_id = self._share_id(volume)
        with self._mounts.locked(volume.provider_location):
            self._revoke_locked(share_id, keep)

    @staticmethod
    def _same_host_count(attachments: list, connector: dict) -> int:
        ip, host = connector.get('ip'), connector.get('host')
        return sum(1 for a in attachments
                   if (a.connector or {}).get('ip') == ip
                   or (host and a.attached_host == host))

    # ------------------------------------------------------------------
    # Images (the inherited local-path copies, with the share mounted)
    # ------------------------------------------------------------------
    def copy_image_to_volume(self, context: Any, volume: Any, image_service: Any,
                             image_id: str, disable_sparse: bool = False) -> None:
        with self._mounted(volume):
            super().copy_image_to_volume(context, volume, image_service, image_id,
                                         disable_sparse=disable_sparse)

    def copy_volume_to_image(self, context: Any, volume: Any, image_service: Any,
                             image_meta: dict) -> None:
        with self._mounted(volume):
            super().copy_volume_to_image(context, volume, image_service, image_meta)

    def local_path(self, volume: Any) -> str:
        return os.path.join(self._mounts.mount_point(volume.provider_location), volume.name)

    def _ensure_shares_mounted(self) -> None:
        """RemoteFSDriver mounts every configured share here; mount-on-demand never does."""

    def _get_mount_point_for_share(self, share: str) -> str:
        return self._mounts.mount_point(share)

    def _get_mount_point_base(self) -> str:
        return self.base

    # ------------------------------------------------------------------
    # Retype and migration: nothing on the appliance depends on the type.
    # ------------------------------------------------------------------
    def retype(self, context: Any, volume: Any, new_type: Any, diff: Any,
               host: dict) -> tuple[bool, None]:
        same_backend = volume_utils.extract_host(volume.host, 'backend') == \
            volume_utils.extract_host(host['host'], 'backend')
        return same_backend, None

    # ------------------------------------------------------------------
    # Stats: one pool request, whatever the number of volumes.
    # ------------------------------------------------------------------
    @_backend_errors
    def _update_volume_stats(self) -> None:
        conf = self.configuration
        pool = self.client.pools.get(conf.acme_pool)
        thin = conf.nfs_sparsed_volumes
        self._stats = {
            'volume_backend_name': conf.safe_get('volume_backend_name')
            or self.volume_backend_name,
            'vendor_name': VENDOR,
            'driver_version': self.VERSION,
            'storage_protocol': constants.NFS,
            'total_capacity_gb': round(pool['total_bytes'] / units.Gi, 2),
            'free_capacity_gb': round(pool['free_bytes'] / units.Gi, 2),
            'provisioned_capacity_gb': round(pool['provisioned_bytes'] / units.Gi, 2),
            'reserved_percentage': conf.reserved_percentage,
            'max_over_subscription_ratio': volume_utils.get_max_over_subscription_ratio(
                conf.max_over_subscription_ratio, supports_auto=False),
            'thin_provisioning_support': thin,
            'thick_provisioning_support': not thin,
            'sparse_copy_volume': True,
            'multiattach': True,
            'online_extend_support': False,
            'QoS_support': False,
        }

    # ------------------------------------------------------------------
    # Manage / unmanage
    # ------------------------------------------------------------------
    def _existing_share(self, existing_ref: dict) -> dict:
        try:
            if existing_ref.get('source-id'):
                share = self.client.shares.get(existing_ref['source-id'])
            elif existing_ref.get('source-name'):
                share = self.client.shares.find(existing_ref['source-name'], self._pool())
            else:
                share = None
        except acme_client.NotFound:
            share = None
        if share is None or share['pool'] != self._pool():
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('no share with this source-name or source-id in pool %s')
                % self._pool())
        return share

    def _existing_file(self, mount_point: str, existing_ref: dict) -> str:
        files = [n for n in self._listdir(mount_point) if not n.startswith('.')]
        if len(files) != 1:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('the share must hold exactly one file, it holds %d') % len(files))
        return os.path.join(mount_point, files[0])

    @_backend_errors
    def manage_existing_get_size(self, volume: Any, existing_ref: dict) -> int:
        share = self._existing_share(existing_ref)
        with self._mounts.mounted(self._location(share),
                                  prepare=lambda: self._grant_locked(share['id'], CONF.my_ip)
                                  ) as mount_point:
            path = self._existing_file(mount_point, existing_ref)
            return _gib(int(self._run('stat', '-c', '%s', path)[0].strip()))

    @_backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def manage_existing(self, volume: Any, existing_ref: dict) -> dict:
        share = self._existing_share(existing_ref)
        location = self._location(share)
        with self._mounts.mounted(
                location, prepare=lambda: self._grant_locked(share['id'], CONF.my_ip)
        ) as mount_point:
            path = self._existing_file(mount_point, existing_ref)
            size = _gib(int(self._run('stat', '-c', '%s', path)[0].strip()))
            self._rename_in_share(location, path, os.path.join(mount_point, volume.name))
            self._set_rw_permissions(os.path.join(mount_point, volume.name))
        share = self.client.shares.update(
            share['id'], name=self._share_name(volume),
            quota_bytes=max(size, volume.size or 0) * units.Gi)
        return {'provider_location': self._location(share), 'provider_id': share['id']}

    @_backend_errors
    def unmanage(self, volume: Any) -> None:
        if volume.provider_location:
            self._mounts.unexport(volume.id, volume.provider_location)

    def _find_existing_snapshot(self, snapshot: Any, existing_ref: dict) -> dict:
        share_id = self._share_id(snapshot.volume)
        try:
            if existing_ref.get('source-id'):
                found = self.client.snapshots.get(existing_ref['source-id'])
                found = found if found['share_id'] == share_id else None
            else:
                found = self.client.snapshots.find(share_id, existing_ref.get('source-name'))
        except acme_client.NotFound:
            found = None
        if found is None:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('no such snapshot of volume %s') % snapshot.volume.id)
        return found

    @_backend_errors
    def manage_existing_snapshot(self, snapshot: Any, existing_ref: dict) -> dict:
        return {'provider_id': self._find_existing_snapshot(snapshot, existing_ref)['id']}

    @_backend_errors
    def manage_existing_snapshot_get_size(self, snapshot: Any, existing_ref: dict) -> int:
        self._find_existing_snapshot(snapshot, existing_ref)
        return snapshot.volume.size

    def unmanage_snapshot(self, snapshot: Any) -> None:
        """Nothing to do: the appliance snapshot stays as it is."""

    @_backend_errors
    def get_manageable_volumes(self, cinder_volumes: list, marker: Any, limit: int,
                               offset: int, sort_keys: list, sort_dirs: list) -> list:
        managed = {v.provider_id: v.id for v in cinder_volumes if v.provider_id}
        entries = []
        for share in self.client.shares.list(pool=self._pool()):
            cinder_id = managed.get(share['id'])
            reason = None
            if cinder_id:
                reason = _('already managed')
            elif TEMP_SHARE_INFIX in share['name']:
                reason = _('temporary share of the driver')
            entries.append({
                'reference': {'source-name': share['name']},
                'size': _gib(share.get('quota_bytes') or share.get('used_bytes') or 0),
                'safe_to_manage': reason is None, 'reason_not_safe': reason,
                'cinder_id': cinder_id, 'extra_info': None})
        return volume_utils.paginate_entries_list(entries, marker, limit, offset,
                                                  sort_keys, sort_dirs)

    @_backend_errors
    def get_manageable_snapshots(self, cinder_snapshots: list, marker: Any, limit: int,
                                 offset: int, sort_keys: list, sort_dirs: list) -> list:
        managed = {s.provider_id: s.id for s in cinder_snapshots if s.provider_id}
        volumes = {s.volume.provider_id: s.volume for s in cinder_snapshots
                   if s.volume and s.volume.provider_id}
        entries = []
        for share in self.client.shares.list(pool=self._pool()):
            for snap in self.client.snapshots.list(share['id']):
                entries.append(self._manageable_snapshot(snap, share, managed, volumes))
        return volume_utils.paginate_entries_list(entries, marker, limit, offset,
                                                  sort_keys, sort_dirs)

    @staticmethod
    def _manageable_snapshot(snap: dict, share: dict, managed: dict, volumes: dict) -> dict:
        cinder_id = managed.get(snap['id'])
        reason = None
        if cinder_id:
            reason = _('already managed')
        elif snap['name'].startswith(HIDDEN_SNAPSHOT_PREFIX):
            reason = _('internal clone snapshot of the driver')
        return {
            'reference': {'source-name': snap['name']},
            'size': _gib(share.get('quota_bytes') or 0),
            'safe_to_manage': reason is None, 'reason_not_safe': reason,
            'cinder_id': cinder_id, 'extra_info': None,
            'source_reference': {'source-name': share['name']}}
