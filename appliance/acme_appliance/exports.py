"""The seam to nfs-ganesha: which backend applies the export list, and serialised syncs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from acme_appliance import ganesha
from acme_appliance.records import ExportSpec

log = logging.getLogger(__name__)


class ExportBackend(Protocol):
    def sync(self, exports: list[ExportSpec]) -> None:
        ...


def load_backend(conf_dir: Path | None, pidfile: Path | None) -> ExportBackend | None:
    """The ganesha backend when a configuration directory is set, else None (exports skipped)."""
    if conf_dir is None:
        return None
    return ganesha.GaneshaExports(conf_dir, pidfile)


class ExportPublisher:
    """Serialises syncs and always writes the current full export list.

    Each sync reads the list from `collect` while holding the publisher's lock, so the last
    sync after concurrent changes on different shares writes their combined state.
    """

    def __init__(self, backend: ExportBackend | None, collect: Callable[[], list[ExportSpec]]):
        self._backend = backend
        self._collect = collect
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._backend is not None

    def sync(self, without: str | None = None) -> None:
        """Apply the current export list; `without` leaves out one pseudo path first (re-export)."""
        if self._backend is None:
            return
        with self._lock:
            exports = self._collect()
            if without is not None:
                self._backend.sync([spec for spec in exports if spec.pseudo != without])
            self._backend.sync(exports)
            log.info("applied %d NFS exports", len(exports))
