"""Mounts on the cinder-volume host: only while this host itself needs the data.

Who mounts a share here:

* an operation of the driver (``with mounts.mounted(export) as path``): counted
  in this process, so that nested and concurrent operations share one mount;
  the operation that mounted it unmounts it when the count drops to zero;
* os-brick, for a local attach (backup, image copy, migration): the mount point
  is the same (``RemoteFsClient.get_mount_point``), so an operation finds it
  mounted and leaves it alone; ``remove_export`` on this host ends it.

Several cinder-volume processes of one host may share the mount base (every
backend of a host is a process of its own; other ACME backends and Cinder's
own NFS drivers default to ``$state_path/mnt``). So what an operation uses is
recorded on disk, in ``<base>/.acme-mount-users``: one marker per process and
export while it uses it, and one flag per export the driver mounted itself;
mount, unmount and those records are serialised by an inter-process lock in
the same directory. Only mounts of this backend's own exports (``owns``) are
ever judged, and a mount is only ended when no process of the host uses it.

What survives a restart, or a detach handled by another host of an
active-active cluster, is read again from /proc/mounts and compared with what
local users still need (``reconcile``), again under the mount's lock with a
fresh read of what is needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from oslo_concurrency import lockutils

LOG = logging.getLogger(__name__)


USERS_DIR = '.acme-mount-users'


class MountError(Exception):
    """A share could not be mounted or unmounted."""


def _key(export: str) -> str:
    return 'acme-mount-' + hashlib.md5(export.encode(), usedforsecurity=False).hexdigest()


def _boot_id() -> str:
    """This boot of the host: a record older than it is stale (mounts do not survive a boot)."""
    try:
        with open('/proc/sys/kernel/random/boot_id') as boot:
            return boot.read().strip()
    except OSError:
        return ''


def _process_id(pid: int) -> str | None:
    """``pid.start-time``: a process, not a reused pid; None when it is gone."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return f'{pid}.{fields[19]}'


class MountUsers:
    """The on-disk record of one mount base: who uses which export, who mounted it."""

    def __init__(self, base: str):
        self.directory = os.path.join(base, USERS_DIR)

    @property
    def _me(self) -> str | None:
        """The process using the record now. Not fixed at construction: cinder-volume builds
        every backend's driver in its parent, then forks one process per backend, and those
        must not pass for one another (one's reconcile would unmount the other's share)."""
        return _process_id(os.getpid())

    def lock(self, export: str) -> Any:
        """Threads of this process and the other processes of the host."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        return lockutils.lock(_key(export), external=True, lock_path=self.directory)

    def _path(self, export: str, suffix: str) -> str:
        return os.path.join(self.directory, f'{_key(export)}.{suffix}')

    def begin(self, export: str) -> None:
        with open(self._path(export, f'user.{self._me}'), 'w'):
            pass

    def end(self, export: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(export, f'user.{self._me}'))

    def others(self, export: str) -> bool:
        """Whether another live process of this host uses ``export``."""
        prefix = f'{_key(export)}.user.'
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return False
        for name in names:
            if not name.startswith(prefix) or name == prefix + str(self._me):
                continue
            pid = name[len(prefix):].split('.', 1)[0]
            if pid.isdigit() and _process_id(int(pid)) == name[len(prefix):]:
                return True
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.directory, name))  # its process has ended
        return False

    def set_ours(self, export: str, ours: bool) -> None:
        """Whether the driver (any process of it) mounted ``export``, not os-brick; noted
        with the boot, so that after a reboot os-brick's new mount is never taken for it."""
        if ours:
            with open(self._path(export, 'mounted'), 'w') as flag:
                flag.write(_boot_id())
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(export, 'mounted'))

    def ours(self, export: str) -> bool:
        try:
            with open(self._path(export, 'mounted')) as flag:
                return flag.read() == _boot_id()
        except FileNotFoundError:
            return False


class ShareMounts:
    """The mounts of one backend's shares on this host."""

    def __init__(self, remotefs_client: Any, umount: Callable[[str], None],
                 attempts: int = 3, flags: list[str] | None = None,
                 retry_delay: float = 1.0, owns: Callable[[str], bool] | None = None):
        self._client = remotefs_client
        self._umount = umount
        self._attempts = max(1, attempts)
        self._flags = flags or []
        self._retry_delay = retry_delay
        self._owns = owns or (lambda export: True)
        self._users: dict[str, int] = {}
        self._record = MountUsers(remotefs_client.get_mount_base())

    # -- queries -----------------------------------------------------------
    def mount_point(self, export: str) -> str:
        return self._client.get_mount_point(export)

    def is_mounted(self, export: str) -> bool:
        return self.mount_point(export) in self._client._read_mounts()

    def mounted_under_base(self) -> dict[str, str]:
        """{mount point: export} of every mount in this backend's mount base."""
        base = self._client.get_mount_base().rstrip('/') + '/'
        return {path: device for path, device in self._client._read_mounts().items()
                if path.startswith(base)}

    def in_use(self, export: str) -> bool:
        """Whether an operation of this process uses the share now."""
        return self._users.get(export, 0) > 0

    def _used_here(self, export: str) -> bool:
        """Whether an operation of any process of this host uses it (caller holds its lock)."""
        return self.in_use(export) or self._record.others(export)

    # -- operations ----------------------------------------------------------
    @contextlib.contextmanager
    def mounted(self, export: str, prepare: Callable[[], None] | None = None
                ) -> Iterator[str]:
        """Mount ``export`` for the block (unless already mounted); yield its mount point.

        ``prepare`` runs before each mount attempt (e.g. to make sure this
        host has access); not at all when the share is mounted already. A
        failed unmount at the end is logged, not raised: the operation itself
        succeeded.
        """
        self._acquire(export, prepare)
        try:
            yield self.mount_point(export)
        finally:
            self._release(export)

    def release(self, export: str) -> None:
        """Unmount ``export`` here unless an operation of this host uses it.

        For the end of a local attach (``remove_export``) and for delete: the
        mount may be os-brick's or a leftover of an earlier run.
        """
        with self._record.lock(export):
            if self._used_here(export) or not self.is_mounted(export):
                return
            self._unmount(export)

    def reconcile(self, needed_exports: Callable[[], Iterable[str]]) -> list[str]:
        """Unmount this backend's mounts that no local user needs; return them.

        ``needed_exports`` (a Cinder DB query) is asked only when there is an
        idle mount of this backend to judge, so a host at rest pays one read of
        /proc/mounts; it is asked again under each mount's lock before the
        unmount, so a user that arrived meanwhile keeps its mount.
        """
        idle = {p: dev for p, dev in self.mounted_under_base().items()
                if not self.in_use(dev) and self._owns(dev)}
        if not idle:
            return []
        keep = self._points(needed_exports())
        removed = []
        for path, device in sorted(idle.items()):
            if path in keep:
                continue
            with self._record.lock(device):
                if self._used_here(device) or not self.is_mounted(device) \
                        or path in self._points(needed_exports()):
                    continue
                try:
                    self._unmount(device)
                except MountError as error:
                    LOG.warning('Stale mount %s of %s stays: %s', path, device, error)
                    continue
            LOG.info('Unmounted %s (%s): no local user of this host needs it', path, device)
            removed.append(path)
        return removed

    # -- internals -------------------------------------------------------------
    def _points(self, exports: Iterable[str]) -> set[str]:
        return {self.mount_point(e) for e in exports if e}

    def _acquire(self, export: str, prepare: Callable[[], None] | None) -> None:
        with self._record.lock(export):
            if not self.in_use(export):
                if not self.is_mounted(export):
                    self._mount(export, prepare)
                    self._record.set_ours(export, True)
                self._record.begin(export)
            self._users[export] = self._users.get(export, 0) + 1

    def _release(self, export: str) -> None:
        with self._record.lock(export):
            left = self._users.get(export, 0) - 1
            if left > 0:
                self._users[export] = left
                return
            self._users.pop(export, None)
            self._record.end(export)
            if not self._record.ours(export) or self._record.others(export):
                return  # os-brick's (a local attach), or another process still uses it
            try:
                self._unmount(export)
            except MountError as error:
                LOG.warning('%s; the next reconcile retries', error)

    def _mount(self, export: str, prepare: Callable[[], None] | None) -> None:
        """Mount with nfs_mount_attempts tries; ``prepare`` runs before each.

        ``prepare`` makes sure of this host's access (a rule another host of a
        cluster may have revoked): a mount refused for want of it would be
        logged as an ERROR by os-brick, although nothing is wrong.
        """
        for attempt in range(1, self._attempts + 1):
            if prepare is not None:
                prepare()
            try:
                self._client.mount(export, list(self._flags))
                return
            except Exception as exc:
                if attempt == self._attempts:
                    LOG.error('Mount of %s failed after %d attempts: %s', export, attempt, exc)
                    self._remove_dir(self.mount_point(export))
                    raise MountError(f'cannot mount {export}: {exc}') from exc
                LOG.debug('Mount attempt %d of %s failed: %s; retrying', attempt, export, exc)
            time.sleep(self._retry_delay)

    def _unmount(self, export: str) -> None:
        """Unmount and forget that the driver mounted it (caller holds its lock)."""
        self._unmount_path(self.mount_point(export))
        self._record.set_ours(export, False)

    def _unmount_path(self, path: str) -> None:
        for attempt in range(1, self._attempts + 1):
            if path not in self._client._read_mounts():
                self._remove_dir(path)
                return
            try:
                self._umount(path)
            except Exception as exc:
                if attempt == self._attempts:
                    raise MountError(f'cannot unmount {path}: {exc}') from exc
                LOG.debug('Unmount attempt %d of %s failed: %s; retrying', attempt, path, exc)
                time.sleep(self._retry_delay)
        if path in self._client._read_mounts():
            raise MountError(f'{path} is still mounted')
        self._remove_dir(path)

    @staticmethod
    def _remove_dir(path: str) -> None:
        with contextlib.suppress(OSError):
            os.rmdir(path)
