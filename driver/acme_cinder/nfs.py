"""Cinder volume driver for the ACME NAS appliance: one NFS share per volume.

Every volume is a share of its own, named after the volume, holding one raw
file named ``volume.name``. Snapshots and clones are the appliance's (no data
passes through the cinder-volume host). The REST calls go through the one
appliance client (``acme_cinder.acme_client``); this package only decides.

The class is composed by capability, like Cinder's remotefs drivers:
``clone_graph`` (clones and the deletes that respect them), ``connections``
(exports, attaches and the mounts they imply) and ``manage``. This module
keeps set-up, volumes, snapshots, revert, images and stats, and what the
mixins build on (shares, this host's NFS rule, mounts): the mixins call down
into it, never the other way round.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from os_brick.remotefs import remotefs as remotefs_brick
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import netutils, units

from acme_cinder import __version__, acme_client, local_users, names, options, quotas
from acme_cinder.clone_graph import CloneGraphMixin
from acme_cinder.connections import ConnectionsMixin
from acme_cinder.errors import backend_errors
from acme_cinder.manage import ManageMixin
from acme_cinder.mounts import ShareMounts
from cinder import context as cinder_context
from cinder import coordination, exception, interface, utils
from cinder.common import constants
from cinder.i18n import _
from cinder.image import image_utils
from cinder.objects import fields
from cinder.privsep import fs as privsep_fs
from cinder.volume.drivers import remotefs
from cinder.volume import volume_utils

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

VENDOR = 'ACME STORAGE, Inc'
SECURE_INDICATOR = '.cinderSecureEnvIndicator'  # Cinder's file name


@interface.volumedriver
class AcmeNfsDriver(CloneGraphMixin, ConnectionsMixin, ManageMixin, remotefs.RemoteFSDriver):
    """ACME NAS appliance: one NFS share (with a quota) per Cinder volume.

    RemoteFSDriver is the base for Cinder's NAS security semantics
    (nas_secure_file_*), file creation and the local-path image copies; its
    share-list handling (mount every configured share at start) is replaced by
    mounts only while this host needs the data.
    """

    VERSION = __version__
    CI_WIKI_NAME = 'ACME_CI'
    SUPPORTS_ACTIVE_ACTIVE = True
    driver_volume_type = 'nfs'
    driver_prefix = 'acme'
    volume_backend_name = 'ACME_NFS'
    vendor_name = VENDOR

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for opts in (options.ACME_CONNECTION_OPTS, options.ACME_SHARE_OPTS,
                     options.ACME_SECURE_OPTS, options.ACME_NFS_OPTS):
            self.configuration.append_config_values(opts)
        conf = self.configuration
        self.client: acme_client.AcmeClient | None = None
        self._setup_error_logged: str | None = None
        self._names = names.ShareNames(conf.acme_share_prefix)
        self.base = os.path.realpath(conf.nfs_mount_point_base)
        self.mount_options = conf.nfs_mount_options or options.DEFAULT_NFS_MOUNT_OPTIONS
        self._remotefsclient = remotefs_brick.RemoteFsClient(
            'nfs', utils.get_root_helper(), execute=self._execute,
            nfs_mount_point_base=self.base, nfs_mount_options=self.mount_options)
        self._data_addresses = {conf.acme_nfs_address, urlsplit(conf.acme_url or '').hostname}
        self._mounts = ShareMounts(self._remotefsclient, umount=privsep_fs.umount,
                                   attempts=conf.nfs_mount_attempts, owns=self._owns_export)

    @staticmethod
    def get_driver_options() -> list[cfg.Opt]:
        return list(options.ACME_OPTS)

    @classmethod
    def clean_volume_file_locks(cls, volume_id: str) -> None:
        coordination.synchronized_remove(f'{cls.driver_prefix}-{volume_id}')

    # ------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------
    def do_setup(self, context: Any) -> None:
        super().do_setup(context)  # validates nas_secure_file_* values
        conf = self.configuration
        for name, problem in options.setting_problems(conf.safe_get):
            LOG.error('ACME backend %s: %s %s', conf.config_group, name, problem)
            raise exception.InvalidConfigurationValue(
                option=name, value='' if name == 'nas_password' else conf.safe_get(name))
        if conf.acme_ca_file and not os.path.isfile(conf.acme_ca_file):
            raise exception.InvalidConfigurationValue(
                option='acme_ca_file', value=conf.acme_ca_file)
        try:
            self.client = self._make_client()  # e.g. too old urllib3
            # 'auto' may need the appliance; on failure it stays 'auto' for the re-init
            self.set_nas_security_options(bool(self._is_voldb_empty_at_startup))
        except acme_client.AcmeError as error:
            reason = self._setup_reason(error)
            self._log_setup_error(reason)
            raise exception.VolumeBackendAPIException(data=reason) from None
        self._reconcile_mounts(context)

    def _login(self) -> str:
        """nas_login, or the deprecated nas_user when it is set."""
        return self.configuration.nas_user or self.configuration.nas_login

    def _make_client(self) -> acme_client.AcmeClient:
        conf = self.configuration
        verify: bool | str = conf.acme_tls_verify
        if verify and conf.acme_ca_file:
            verify = conf.acme_ca_file
        return acme_client.AcmeClient(
            conf.acme_url, self._login(), conf.nas_password, verify=verify,
            timeout=(conf.acme_connect_timeout, conf.acme_read_timeout),
            retries=conf.acme_retries, backoff=conf.acme_backoff,
            retry_after_max=conf.acme_retry_after_max)

    def check_for_setup_error(self) -> None:
        """Reach the appliance and find the pools; one clear message if not."""
        conf = self.configuration
        try:
            system = self.client.system.get()
            for pool in self._pools():
                self._pool_info(pool)
        except acme_client.AcmeError as error:
            reason = self._setup_reason(error)
            self._log_setup_error(reason)
            raise exception.VolumeBackendAPIException(data=reason) from None
        LOG.info('ACME backend %s: %s %s %s, pools %s', conf.config_group,
                 system.get('vendor'), system.get('model'), system.get('version'),
                 ', '.join(self._pools()))

    def _pool_info(self, pool: str) -> dict:
        try:
            return self.client.pools.get(pool)
        except acme_client.NotFound as error:
            raise acme_client.NotFound(
                f'pool {pool!r} does not exist on {self.configuration.acme_url}') from error

    def _setup_reason(self, error: acme_client.AcmeError) -> str:
        conf = self.configuration
        if isinstance(error, acme_client.Unauthorized):
            return f'the appliance at {conf.acme_url} refused user {self._login()!r}'
        return str(error)

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
        if not is_new_cinder_install and self.client and self._auto_without_indicator():
            is_new_cinder_install = self._backend_runs_secure()
        for name in ('nas_secure_file_permissions', 'nas_secure_file_operations'):
            value = self._determine_nas_security_option_setting(
                getattr(conf, name), self.base, is_new_cinder_install)
            setattr(conf, name, value)
            if value == 'false':
                LOG.warning('%s is false: this is an insecure NAS environment', name)
        self._execute_as_root = not self._secure_operations()

    def _auto_without_indicator(self) -> bool:
        conf = self.configuration
        return 'auto' in (conf.nas_secure_file_operations, conf.nas_secure_file_permissions) \
            and not os.path.isfile(os.path.join(self.base, SECURE_INDICATOR))

    def _backend_runs_secure(self) -> bool:
        """Cinder keeps its 'auto' indicator on the shared NFS share; here the shares are.

        A host without the indicator (a new host of a cluster, a new state
        directory) looks at this backend's shares: none yet, or made for a
        non-root owner (secure mode), means secure; only shares all owned by
        root mean an existing insecure installation.
        """
        shares = [s for pool in self._pools() for s in self.client.shares.list(pool=pool)
                  if s['name'].startswith(self._names.prefix)]
        return not shares or any((s.get('root') or {}).get('uid') for s in shares)

    def _secure_operations(self) -> bool:
        return self.configuration.nas_secure_file_operations == 'true'

    def _root_ownership(self) -> dict:
        """``root=`` of a new share: owned by cinder-volume's user in secure mode."""
        if not self._secure_operations():
            return {}
        conf = self.configuration
        uid = os.getuid() if conf.acme_share_root_uid is None else conf.acme_share_root_uid
        gid = os.getgid() if conf.acme_share_root_gid is None else conf.acme_share_root_gid
        mode = conf.acme_share_root_mode.rjust(4, '0')
        return {'root': {'uid': uid, 'gid': gid, 'mode': mode}}

    # ------------------------------------------------------------------
    # Names, locations, locks
    # ------------------------------------------------------------------
    def _share_lock_name(self, share_id: str, purpose: str = 'share') -> str:
        return f'{self.driver_prefix}-{purpose}-{share_id}'

    @contextlib.contextmanager
    def _share_lock(self, share_id: str, purpose: str = 'share') -> Iterator[None]:
        """Changes of one share that must not interleave (rules, hide, collect);
        ``purpose`` 'manage': a manage of the share, which takes the share lock inside.

        The wait and the hold are logged at debug level, as Cinder logs its own
        locks': in a cluster they show one host waiting for another.
        """
        name = self._share_lock_name(share_id, purpose)
        asked = time.monotonic()
        with coordination.COORDINATOR.get_lock(name):
            got = time.monotonic()
            LOG.debug('Lock "%s" acquired :: waited %.3fs', name, got - asked)
            try:
                yield
            finally:
                LOG.debug('Lock "%s" released :: held %.3fs', name, time.monotonic() - got)

    def _pools(self) -> list[str]:
        """The appliance pools of this backend, the first one the default."""
        conf = self.configuration
        return list(conf.acme_pools or []) or [conf.acme_pool]

    def _pool_of(self, volume: Any) -> str:
        """The appliance pool of a volume: its share's (from provider_location), else
        _scheduled_pool's (single-pool backends and volumes from before acme_pools:
        #<backend name>, so the first pool)."""
        if volume.provider_location:
            return volume.provider_location.rsplit(':', 1)[1].strip('/').split('/', 1)[0]
        return self._scheduled_pool(volume)

    def _scheduled_pool(self, volume: Any) -> str:
        """The pool of a share this backend makes now: the scheduler's (host#pool) when that is
        one of this backend's, else the first. Never the volume's provider_location: Cinder's
        generic migration makes the destination volume with the source's fields, that one
        included, which names the source backend's pool."""
        chosen = volume_utils.extract_host(volume.host, 'pool')
        return chosen if chosen in self._pools() else self._pools()[0]

    def get_pool(self, volume: Any) -> str | None:
        """The pool Cinder should name in the volume's host: its appliance pool when this
        backend reports several (acme_pools), else None (Cinder's single-pool name)."""
        return self._pool_of(volume) if self.configuration.acme_pools else None

    def _quota(self, size_gib: int, data: dict | None = None) -> int:
        """Share quota of a volume: its size plus headroom, and at least the used bytes of
        ``data`` (the snapshot a clone starts from, the share a manage takes over)."""
        used = (data or {}).get('used_bytes') or 0
        return quotas.share_quota(size_gib, self.configuration.acme_share_quota_headroom, used)

    def _location(self, share: dict) -> str:
        """ADDR:/PATH of a share; acme_nfs_address replaces the address (IPv6 in brackets)."""
        exports = share.get('exports') or []
        if exports:
            address, path = exports[0].split(':/', 1)
            path = '/' + path
        else:
            address, path = urlsplit(self.configuration.acme_url).hostname, share['path']
        address = self.configuration.acme_nfs_address or address
        self._data_addresses.add(address)
        if netutils.is_valid_ipv6(address):
            address = f'[{address}]'
        return f'{address}:{path}'

    def _export(self, location: str | None) -> str | None:
        """A volume's export now: its ``provider_location`` with ``acme_nfs_address`` as the
        address when that is set, so that after the appliance's data address changed (and the
        option with it) the export given to compute nodes, this host's mounts and the
        reconcile's view of what is needed all follow it (Cinder keeps the stored location:
        update_provider_info can only change provider_id)."""
        address = self.configuration.acme_nfs_address
        if not location or not address:
            return location
        if netutils.is_valid_ipv6(address):
            address = f'[{address}]'
        return f"{address}:{location.rsplit(':', 1)[1]}"

    def _owns_export(self, export: str) -> bool:
        """Whether a mount's export is this backend's: a share of its pool with its
        share prefix at this appliance's location of it, or a share of its pool and data
        address that is gone (deleted, or renamed by a manage). Other backends' mounts,
        under the same mount base, are never this backend's to judge."""
        address, _colon, path = export.rpartition(':')
        pool, _slash, name = path.strip('/').partition('/')
        if pool not in self._pools() or not name or '/' in name:
            return False
        try:
            share = self.client.shares.find(name, pool)
        except acme_client.AcmeError:
            return False
        if share is None:
            return address.strip('[]') in self._data_addresses
        return name.startswith(self._names.prefix) and self._location(share) == export

    def _find_share(self, volume: Any) -> dict | None:
        try:
            if volume.provider_id:
                return self.client.shares.get(volume.provider_id)
            return self.client.shares.find(self._names.volume(volume.name),
                                           self._pool_of(volume))
        except acme_client.NotFound:
            return None

    def _share_id(self, volume: Any) -> str:
        if volume.provider_id:
            return volume.provider_id
        share = self._find_share(volume)
        if share is None:
            raise acme_client.NotFound(f'no share for volume {volume.id}')
        return share['id']

    def _grant(self, share_id: str, ip: str, squash: bool | None = None) -> None:
        with self._share_lock(share_id):
            self._grant_locked(share_id, ip, squash)

    def _mounted(self, volume: Any) -> Any:
        share_id = self._share_id(volume)
        return self._mounts.mounted(self._export(volume.provider_location),
                                    prepare=lambda: self._grant(share_id, CONF.my_ip))

    # ------------------------------------------------------------------
    # Shares and their NFS rules (what the mixins build on)
    # ------------------------------------------------------------------
    def _new_share(self, volume: Any, origin: dict | None = None) -> dict:
        """POST the share (a clone of snapshot ``origin``): quota, root ownership and this
        host's export in one call."""
        name, pool = self._names.volume(volume.name), self._scheduled_pool(volume)
        try:
            return self.client.shares.create(
                name, pool, quota_bytes=self._quota(volume.size, origin),
                origin_snapshot_id=origin and origin['id'], nfs=self._host_nfs(),
                **self._root_ownership())
        except acme_client.AcmeError as error:
            # A create whose answer was lost may still have made the share.
            self._discard_share(None, name, pool)
            raise exception.VolumeBackendAPIException(
                data=f'cannot create volume {volume.id}: {error}') from error

    def _discard_share(self, share_id: str | None, name: str, pool: str) -> None:
        """Best-effort removal of a half-made share (cleanup after a failure); without
        ``share_id`` the share named ``name`` in ``pool``, if any."""
        try:
            if share_id is None:
                found = self.client.shares.find(name, pool)
                share_id = found and found['id']
            if share_id:
                self.client.shares.delete(share_id, recursive=True)
                self._forget_share(share_id)
        except acme_client.AcmeError as error:
            LOG.error('Could not delete the temporary or half-made share %s: %s', name, error)

    def _forget_share(self, share_id: str) -> None:
        """Remove the share's lock files (tooz file backend; others clean up themselves)."""
        for purpose in ('share', 'manage'):
            coordination.synchronized_remove(self._share_lock_name(share_id, purpose))

    def _rule(self, ip: str, squash: bool | None = None) -> dict:
        """rw for ``ip``; root squashed in secure NAS mode (no root on the share) unless
        ``squash`` says otherwise."""
        squash = self._secure_operations() if squash is None else squash
        return {'clients': ip, 'access': 'rw', 'root_squash': squash}

    def _host_nfs(self) -> dict:
        return {'enabled': True, 'rules': [self._rule(CONF.my_ip)]}

    def _grant_locked(self, share_id: str, ip: str, squash: bool | None = None) -> None:
        """Make sure ``ip`` has a rule; with ``squash``, one that squashes root or not."""
        nfs = self.client.shares.get_nfs(share_id)
        rules = nfs.get('rules') or []
        current = [r for r in rules if r['clients'] == ip]
        if nfs.get('enabled') and current and squash in (None, current[0]['root_squash']):
            return
        others = [r for r in rules if r['clients'] != ip]
        self.client.shares.set_nfs(share_id, True, others + [self._rule(ip, squash)])

    def _release_or_warn(self, volume: Any) -> None:
        """Unmount the volume's share here if idle; a failure is logged, not raised."""
        if not volume.provider_location:
            return
        try:
            self._mounts.release(self._export(volume.provider_location))
        except Exception as error:
            LOG.warning('Share of volume %s stays mounted on this host until the next '
                        'reconcile: %s', volume.id, error)

    def _reconcile_mounts(self, context: Any) -> list[str]:
        try:
            return self._mounts.reconcile(
                lambda: {self._export(e) for e in local_users.needed_exports(context)})
        except Exception as error:
            LOG.warning('Could not check the mounts under %s: %s', self.base, error)
            return []

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
            self._run('truncate', '-s', str(wanted), path)
        else:  # whole MiB appended, then trimmed to the exact size
            self._run('dd', 'if=/dev/zero', f'of={path}', 'bs=1M',
                      f'count={-(-(wanted - current) // units.Mi)}',
                      'oflag=append', 'conv=notrunc')
            self._run('truncate', '-s', str(wanted), path)

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

    def _rename_in_share(self, src: str, dst: str) -> None:
        if src != dst:
            self._run('mv', src, dst)

    # ------------------------------------------------------------------
    # Volumes
    # ------------------------------------------------------------------
    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def create_volume(self, volume: Any) -> dict:
        if volume.encryption_key_id:
            raise exception.VolumeDriverException(
                message=_('Encrypted volumes are not supported by this driver.'))
        share = self._new_share(volume)
        return self._fill_share(
            volume, share, lambda path: self._create_volume_file(path, volume.size))

    def _fill_share(self, volume: Any, share: dict, fill: Callable[[str], None]) -> dict:
        """Mount the new share and ``fill`` the volume file; delete the share on failure."""
        location = self._location(share)
        try:
            with self._mounts.mounted(location) as mount_point:
                fill(os.path.join(mount_point, volume.name))
        except Exception as error:
            self._discard_share(share['id'], share['name'], share['pool'])
            raise exception.VolumeBackendAPIException(
                data=f'cannot create volume {volume.id}: {error}') from error
        return {'provider_location': location, 'provider_id': share['id']}

    def _clone_filler(self, volume: Any, source_name: str) -> Callable[[str], None]:
        """Rename the clone's file to the new volume's name; grow it if needed."""
        def fill(path: str) -> None:
            found = self._wait_for_file(os.path.dirname(path), source_name)
            self._rename_in_share(found, path)
            self._resize_file(path, volume.size)  # also a file older than a manage
            self._set_rw_permissions(path)

        return fill

    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def extend_volume(self, volume: Any, new_size: int) -> None:
        if volume.attach_status == fields.VolumeAttachStatus.ATTACHED:
            # Like Cinder's NFS driver (bug 1870367): the hypervisor does not
            # resize an NFS-backed disk online.
            raise exception.ExtendVolumeError(
                reason=_('volume %s is attached; detach it to extend it') % volume.id)
        share_id = self._share_id(volume)
        self.client.shares.update(share_id, quota_bytes=self._quota(new_size))
        try:
            with self._mounted(volume) as mount_point:
                self._resize_file(os.path.join(mount_point, volume.name), new_size)
        except Exception:
            self.client.shares.update(share_id, quota_bytes=self._quota(volume.size))
            raise

    # ------------------------------------------------------------------
    # Snapshots and revert
    # ------------------------------------------------------------------
    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def create_snapshot(self, snapshot: Any) -> dict:
        created = self.client.snapshots.create(
            self._share_id(snapshot.volume), snapshot.name)
        return {'provider_id': created['id']}

    def backup_use_temp_snapshot(self) -> bool:
        """False: a snapshot cannot be attached locally here. Cinder then backs up an in-use
        volume, or a snapshot, through a temporary volume cloned on the appliance (no data
        through this host either); BaseVD asks for a warning when the option says True."""
        if self.configuration.safe_get('backup_use_temp_snapshot'):
            LOG.warning('backup_use_temp_snapshot = True is not supported by the ACME driver '
                        '(backend %s): backups use a temporary appliance clone instead',
                        self.configuration.config_group)
        return False

    def snapshot_revert_use_temp_snapshot(self) -> bool:
        # A temporary snapshot would be newer than the one reverted to and
        # turn every appliance rollback into a file copy.
        return False

    @backend_errors
    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def revert_to_snapshot(self, context: Any, volume: Any, snapshot: Any) -> None:
        share_id = self._share_id(volume)
        try:
            share = self.client.snapshots.rollback(share_id, snapshot.provider_id)
        except acme_client.InUse:
            LOG.info('Newer snapshots exist; reverting volume %s file by file', volume.id)
            self._revert_by_copy(volume, snapshot)
            return
        self._settle_after_rollback(volume, share)

    def _settle_after_rollback(self, volume: Any, share: dict | None) -> None:
        """Root, name and size as Cinder expects them after a rollback.

        A snapshot taken before the share was managed holds the file under its
        old name and size, and the old root ownership.
        """
        wanted = self._root_ownership()
        if wanted and share and not _same_root(share.get('root'), wanted['root']):
            self.client.shares.update(share['id'], **wanted)
        with self._mounted(volume) as mount_point:
            path = os.path.join(mount_point, volume.name)
            self._rename_in_share(self._wait_for_file(mount_point, volume.name), path)
            self._resize_file(path, volume.size)

    def _revert_by_copy(self, volume: Any, snapshot: Any) -> None:
        """Copy the file from a temporary clone of the snapshot (keeps newer snapshots)."""
        name, pool = self._names.revert(volume.id), self._pool_of(volume)
        self._discard_share(None, name, pool)  # left over by an interrupted revert
        # No quota (0): inherited, the volume's could be below the snapshot's used bytes.
        temp = self.client.shares.create(
            name, pool, quota_bytes=0, origin_snapshot_id=snapshot.provider_id,
            nfs=self._host_nfs(), **self._root_ownership())
        try:
            with self._mounts.mounted(self._location(temp)) as source_dir, \
                    self._mounted(volume) as target_dir:
                source = self._wait_for_file(source_dir, snapshot.volume.name)
                sparse = 'always' if self.configuration.nfs_sparsed_volumes else 'never'
                self._run('cp', f'--sparse={sparse}', '-f', source,
                          os.path.join(target_dir, volume.name))
        finally:
            self._discard_share(temp['id'], name, pool)

    # ------------------------------------------------------------------
    # Images (the inherited local-path copies, with the share mounted)
    # ------------------------------------------------------------------
    @backend_errors
    def copy_image_to_volume(self, context: Any, volume: Any, image_service: Any,
                             image_id: str, disable_sparse: bool = False) -> None:
        with self._mounted(volume):
            path = self.local_path(volume)
            image_utils.fetch_to_raw(context, image_service, image_id, path,
                                     self.configuration.volume_dd_blocksize, size=volume.size,
                                     run_as_root=self._execute_as_root,
                                     disable_sparse=disable_sparse)
            image_utils.resize_image(path, volume.size, run_as_root=self._execute_as_root)
            self._check_image_size(path, volume, image_id)

    def _check_image_size(self, path: str, volume: Any, image_id: str) -> None:
        # As remotefs checks it, but told that the file is raw (it is, fetch_to_raw wrote it):
        # without the format Cinder asks its format inspector, which reads the file in its
        # privsep daemon as root, and root is squashed on a secure-mode share (EACCES).
        data = image_utils.qemu_img_info(path, run_as_root=self._execute_as_root,
                                         img_format='raw')
        if data.virtual_size // units.Gi != volume.size:
            raise exception.ImageUnacceptable(
                image_id=image_id, reason=_('Expected volume size was %(want)d but size is '
                                            'now %(got)d') % {
                    'want': volume.size, 'got': data.virtual_size // units.Gi})

    @backend_errors
    def copy_volume_to_image(self, context: Any, volume: Any, image_service: Any,
                             image_meta: dict) -> None:
        with self._mounted(volume):
            super().copy_volume_to_image(context, volume, image_service, image_meta)

    def local_path(self, volume: Any) -> str:
        return os.path.join(self._mounts.mount_point(self._export(volume.provider_location)),
                            volume.name)

    def _ensure_shares_mounted(self) -> None:
        """RemoteFSDriver mounts every configured share here; this driver never does."""

    def _get_mount_point_for_share(self, share: str) -> str:
        return self._mounts.mount_point(share)

    def _get_mount_point_base(self) -> str:
        return self.base

    # ------------------------------------------------------------------
    # Retype and migration: nothing on the appliance depends on the type.
    # ------------------------------------------------------------------
    def retype(self, context: Any, volume: Any, new_type: Any, diff: Any,
               host: dict) -> tuple[bool, None]:
        """In place when the destination is this backend and, with acme_pools, the
        volume's pool; another pool is Cinder's migration (a copy by this host: shares do
        not move between appliance pools). In an active-active cluster Cinder names the
        cluster's first host, not necessarily this one: the cluster's name decides then."""
        if volume.cluster_name and host.get('cluster_name'):
            mine, theirs = volume.cluster_name, host['cluster_name']
        else:
            mine, theirs = volume.host, host['host']
        same_backend = volume_utils.extract_host(mine, 'backend') == \
            volume_utils.extract_host(theirs, 'backend')
        same_pool = not self.configuration.acme_pools or \
            volume_utils.extract_host(theirs, 'pool') == self._pool_of(volume)
        return same_backend and same_pool, None

    # ------------------------------------------------------------------
    # Stats: one pool request, whatever the number of volumes; also the
    # periodic reconcile of mounts no local user needs any more.
    # ------------------------------------------------------------------
    @backend_errors
    def _update_volume_stats(self) -> None:
        self._reconcile_mounts(self._admin_context())
        conf = self.configuration
        stats = {
            'volume_backend_name': conf.safe_get('volume_backend_name')
            or self.volume_backend_name,
            'vendor_name': VENDOR,
            'driver_version': self.VERSION,
            'storage_protocol': constants.NFS,
        }
        if conf.acme_pools:
            stats['pools'] = [{'pool_name': name, **self._pool_stats(self._pool_info(name))}
                              for name in conf.acme_pools]
        else:
            stats.update(self._pool_stats(self._pool_info(conf.acme_pool)))
        self._stats = stats

    def _pool_stats(self, pool: dict) -> dict:
        """What Cinder's scheduler weighs of one pool."""
        conf = self.configuration
        thin = conf.nfs_sparsed_volumes
        return {
            'total_capacity_gb': round(pool['total_bytes'] / units.Gi, 2),
            'free_capacity_gb': round(pool['free_bytes'] / units.Gi, 2),
            'provisioned_capacity_gb': round(pool['provisioned_bytes'] / units.Gi, 2),
            'reserved_percentage': conf.reserved_percentage,
            # 'auto' is passed on: the scheduler computes it from these capacities.
            'max_over_subscription_ratio': volume_utils.get_max_over_subscription_ratio(
                conf.max_over_subscription_ratio, supports_auto=True),
            'thin_provisioning_support': thin,
            'thick_provisioning_support': not thin,
            'sparse_copy_volume': True,
            'multiattach': True,
            'online_extend_support': False,
            'QoS_support': False,
        }

    @staticmethod
    def _admin_context() -> Any:
        return cinder_context.get_admin_context()


def _same_root(current: dict | None, wanted: dict) -> bool:
    current = current or {}
    return (current.get('uid'), current.get('gid'), int(str(current.get('mode', '0')), 8)) == \
        (wanted['uid'], wanted['gid'], int(wanted['mode'], 8))
