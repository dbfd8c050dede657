"""Mount-on-demand: a share is mounted only while somebody uses it.

Two kinds of users keep a share mounted on the cinder-volume host:

* operations of the driver (``with mounts.mounted(export) as path``), counted,
  so that nested users (two shares in one operation, the generic attach path
  inside a mounted block) and concurrent requests share one mount;
* exports (``create_export``/``ensure_export`` until ``remove_export``), kept
  as a set of volume ids so that repeated calls are idempotent.

The share is unmounted as soon as both are empty. Every transition runs under
the share's lock (a cinder.coordination lock, so that with a shared tooz
backend two hosts never change the same share at once); the lock is not held
while a user works in the mounted directory, so nesting never deadlocks.
Mount points are os-brick's (``RemoteFsClient.get_mount_point``), the ones
Cinder's own os-brick connector computes from the connection's
``mount_point_base``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

LOG = logging.getLogger(__name__)


class MountError(Exception):
    """A share could not be mounted or unmounted."""


def lock_name(export: str) -> str:
    """The name of a share's lock; the same on every host of a backend."""
    return 'acme-share-' + hashlib.md5(export.encode(), usedforsecurity=False).hexdigest()


class ShareMounts:
    """Reference-counted mounts of the shares of one backend."""

    def __init__(self, remotefs_client: Any, lock: Callable[[str], Any],
                 umount: Callable[[str], None], attempts: int = 3,
                 flags: list[str] | None = None, retry_delay: float = 1.0):
        self._client = remotefs_client
        self._lock = lock
        self._umount = umount
        self._attempts = max(1, attempts)
        self._flags = flags or []
        self._retry_delay = retry_delay
        self._guard = threading.Lock()
        self._users: dict[str, int] = {}
        self._exports: dict[str, set[str]] = {}

    # -- public API ------------------------------------------------------
    def mount_point(self, export: str) -> str:
        return self._client.get_mount_point(export)

    def locked(self, export: str) -> Any:
        """The share's lock, for changes that must not interleave (renames, rules)."""
        return self._lock(lock_name(export))

    @contextlib.contextmanager
    def mounted(self, export: str, prepare: Callable[[], None] | None = None
                ) -> Iterator[str]:
        """Mount ``export`` for the duration of the block; yield its mount point.

        ``prepare`` runs under the share's lock when an actual mount was refused
        (never when the share is already mounted), e.g. to grant this host access.
        """
        self._acquire(export, prepare)
        try:
            yield self.mount_point(export)
        except BaseException:
            self._release_quietly(export)
            raise
        self._release(export)

    def export(self, key: str, export: str,
               prepare: Callable[[], None] | None = None) -> str:
        """Keep ``export`` mounted for ``key`` (a volume id) until unexport."""
        with self.locked(export):
            if not self._in_use(export):
                self._mount(export, prepare)
            with self._guard:
                self._exports.setdefault(export, set()).add(key)
        return self.mount_point(export)

    def unexport(self, key: str, export: str) -> bool:
        """Forget ``key``'s export; unmount when nobody else uses the share.

        Returns False when the share stays mounted for other users. Also
        unmounts a share mounted by an earlier run of the service.
        """
        with self.locked(export):
            with self._guard:
                keys = self._exports.get(export, set())
                keys.discard(key)
                if not keys:
                    self._exports.pop(export, None)
            if self._in_use(export):
                return False
            self._unmount(export)
            return True

    def is_mounted(self, export: str) -> bool:
        return self.mount_point(export) in self._client._read_mounts()

    def users(self, export: str) -> int:
        with self._guard:
            return self._users.get(export, 0) + len(self._exports.get(export, ()))

    # -- internals -------------------------------------------------------
    def _in_use(self, export: str) -> bool:
        return self.users(export) > 0

    def _acquire(self, export: str, prepare: Callable[[], None] | None) -> None:
        with self.locked(export):
            if not self._in_use(export):
                self._mount(export, prepare)
            with self._guard:
                self._users[export] = self._users.get(export, 0) + 1

    def _release(self, export: str) -> None:
        with self.locked(export):
            with self._guard:
                left = self._users.get(export, 0) - 1
                if left > 0:
                    self._users[export] = left
                else:
                    self._users.pop(export, None)
            if not self._in_use(export):
                self._unmount(export)

    def _release_quietly(self, export: str) -> None:
        try:
            self._release(export)
        except Exception:
            LOG.exception('Could not unmount %s after a failed operation', export)

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
                    LOG.error('Mount of %s failed after %d attempts: %s',
                              export, attempt, exc)
                    self._remove_mount_dir(export)
                    raise MountError(f'cannot mount {export}: {exc}') from exc
                LOG.debug('Mount attempt %d of %s failed: %s; retrying',
                          attempt, export, exc)
            if prepare is not None:
                prepare()
                prepare = None
            else:
                time.sleep(self._retry_delay)

    def _unmount(self, export: str) -> None:
        path = self.mount_point(export)
        for attempt in range(1, self._attempts + 1):
            if path not in self._client._read_mounts():
                self._remove_mount_dir(export)
                return
            try:
                self._umount(path)
            except Exception as exc:
                if attempt == self._attempts:
                    raise MountError(f'cannot unmount {path}: {exc}') from exc
                LOG.debug('Unmount attempt %d of %s failed: %s; retrying',
                          attempt, path, exc)
                time.sleep(self._retry_delay)
        if path in self._client._read_mounts():
            raise MountError(f'{path} is still mounted')
        self._remove_mount_dir(export)

    def _remove_mount_dir(self, export: str) -> None:
        with contextlib.suppress(OSError):
            os.rmdir(self.mount_point(export))
