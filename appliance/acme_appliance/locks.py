"""Per-object locks: calls on one share are serialised, calls on different shares are not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


class KeyedLocks:
    """A lock per key, created on first use; `hold` takes several keys in a fixed order."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextmanager
    def hold(self, *keys: str | None) -> Iterator[None]:
        """Hold the locks of all given keys (None is ignored); sorted order avoids deadlocks."""
        with ExitStack() as stack:
            for key in sorted({k for k in keys if k is not None}):
                stack.enter_context(self._lock(key))
            yield

    @contextmanager
    def try_hold(self, key: str) -> Iterator[bool]:
        """Take the key's lock only if it is free; yields whether it was taken."""
        lock = self._lock(key)
        taken = lock.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                lock.release()
