"""Mounts on the cinder-volume host: only while this host itself needs the data.

Who mounts a share here:

* an operation of the driver (``with mounts.mounted(export) as path``): counted
  in this process, so that nested and concurrent operations share one mount;
  the operation that mounted it unmounts it when the count drops to zero;
* os-brick, for a local attach (backup, image copy, migration): the mount point
  is the same (``RemoteFsClient.get_mount_point``), so an operation finds it
  mounted and leaves it alone; ``remove_export`` on this host ends it.

Nothing else is remembered in memory. What survives a restart, or a detach
handled by another host of an active-active cluster, is read again from
/proc/mounts and compared with what local users still need (``reconcile``).
Mount and unmount of one share are serialised by a lock of this process: the
kernel's mount table is per host, so no cluster-wide lock is needed for them.
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


class MountError(Exception):
    """A share could not be mounted or unmounted."""


def _lock_name(export: str) -> str:
    return 'acme-mount-' + hashlib.md5(export.encode(), usedforsecurity=False).hexdigest()


class ShareMounts:
    """The mounts of one backend's shares on this host."""

    def __init__(self, remotefs_client: Any, umount: Callable[[str], None],
                 attempts: int = 3, flags: list[str] | None = None,
                 retry_delay: float = 1.0):
        self._client = remotefs_client
        self._umount = umount
        self._attempts = max(1, attempts)
        self._flags = flags or []
        self._retry_delay = retry_delay
        self._users: dict[str, int] = {}
        self._owned: set[str] = set()

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

    # -- operations ----------------------------------------------------------
    @contextlib.contextmanager
    def mounted(self, export: str, prepare: Callable[[], None] | None = None
                ) -> Iterator[str]:
        """Mount ``export`` for the block (unless already mounted); yield its mount point.

        ``prepare`` runs when a mount was refused (e.g. to grant this host
        access), then the mount is tried again. A failed unmount at the end is
        logged, not raised: the operation itself succeeded.
        """
        self._acquire(export, prepare)
        try:
            yield self.mount_point(export)
        finally:
            self._release(export)

    def release(self, export: str) -> None:
        """Unmount ``export`` here unless an operation of this process uses it.

        For the end of a local attach (``remove_export``) and for delete: the
        mount may be os-brick's or a leftover of an earlier run.
        """
        with lockutils.lock(_lock_name(export)):
            if self.in_use(export) or not self.is_mounted(export):
                return
            self._unmount(self.mount_point(export))

    def reconcile(self, needed_exports: Callable[[], Iterable[str]]) -> list[str]:
        """Unmount every mount under the base that no local user needs; return them.

        ``needed_exports`` (a Cinder DB query) is asked only when there is an
        idle mount to judge, so a host at rest pays one read of /proc/mounts.
        """
        busy = {self.mount_point(e) for e, n in list(self._users.items()) if n > 0}
        idle = {p: dev for p, dev in self.mounted_under_base().items() if p not in busy}
        if not idle:
            return []
        keep = {self.mount_point(e) for e in needed_exports() if e}
        removed = []
        for path, device in sorted(idle.items()):
            if path in keep:
                continue
            with lockutils.lock(_lock_name(device)):
                if self.in_use(device):
                    continue
                try:
                    self._unmount(path)
                except MountError as error:
                    LOG.warning('Stale mount %s of %s stays: %s', path, device, error)
                    continue
            LOG.info('Unmounted %s (%s): no local user of this host needs it', path, device)
            removed.append(path)
        return removed

    # -- internals -------------------------------------------------------------
    def _acquire(self, export: str, prepare: Callable[[], None] | None) -> None:
        with lockutils.lock(_lock_name(export)):
            if not self.in_use(export) and not self.is_mounted(export):
                self._mount(export, prepare)
                self._owned.add(export)
            self._users[export] = self._users.get(export, 0) + 1

    def _release(self, export: str) -> None:
        with lockutils.lock(_lock_name(export)):
            left = self._users.get(export, 0) - 1
            if left > 0:
                self._users[export] = left
                return
            self._users.pop(export, None)
            if export not in self._owned:
                return  # mounted by somebody else (a local attach): theirs to end
            self._owned.discard(export)
            try:
                self._unmount(self.mount_point(export))
            except MountError as error:
                LOG.warning('%s; the next reconcile retries', error)

    def _mount(self, export: str, prepare: Callable[[], None] | None) -> None:
        """Mount with nfs_mount_attempts tries; ``prepare`` runs after the first failure.

        Granting this host access costs a REST call, and the host usually has it
        already (the share was created exported to it), so it is done only when a
        mount was refused.
        """
        for attempt in range(1, self._attempts + 1):
            try:
                self._client.mount(export, list(self._flags))
                return
            except Exception as exc:
                if attempt == self._attempts:
                    LOG.error('Mount of %s failed after %d attempts: %s', export, attempt, exc)
                    self._remove_dir(self.mount_point(export))
                    raise MountError(f'cannot mount {export}: {exc}') from exc
                LOG.debug('Mount attempt %d of %s failed: %s; retrying', attempt, export, exc)
            if prepare is not None:
                prepare()
                prepare = None
            else:
                time.sleep(self._retry_delay)

    def _unmount(self, path: str) -> None:
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
