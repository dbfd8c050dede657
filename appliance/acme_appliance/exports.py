"""The seam to nfs-ganesha: which backend applies the export list, and serialised syncs.

What the API reports is what ganesha serves: a change of a share's export is stored only once
ganesha applied it (`ExportPublisher.publish`). When ganesha refuses it, nothing is stored and
ganesha is given the stored exports back, retried in the background until it takes them.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from acme_appliance import ganesha
from acme_appliance.records import ExportSpec

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_SECONDS = 1.0


class ExportBackend(Protocol):
    def sync(self, exports: list[ExportSpec]) -> None:
        ...


class ExportsNotApplied(RuntimeError):
    """ganesha did not apply the exports; nothing was stored."""


def load_backend(conf_dir: Path | None, pidfile: Path | None) -> ExportBackend | None:
    """The ganesha backend when a configuration directory is set, else None (exports skipped)."""
    if conf_dir is None:
        return None
    return ganesha.GaneshaExports(conf_dir, pidfile)


class ExportPublisher:
    """Serialises syncs and always applies the full export list.

    The lock is reentrant: a caller holds it while it takes an export id and publishes the
    export that uses it, so that no other change takes the same id in between.
    """

    def __init__(self, backend: ExportBackend | None, collect: Callable[[], list[ExportSpec]]):
        self._backend = backend
        self._collect = collect
        self.lock = threading.RLock()
        self._retrier: threading.Thread | None = None
        self.pending = False  # ganesha may serve other exports than the stored ones

    @property
    def enabled(self) -> bool:
        return self._backend is not None

    def sync(self, without: str | None = None) -> None:
        """Apply the stored export list; `without` leaves out one pseudo path first (re-export)."""
        if self._backend is None:
            return
        with self.lock:
            exports = self._collect()
            try:
                if without is not None:
                    self._backend.sync([spec for spec in exports if spec.pseudo != without])
                self._backend.sync(exports)
            except Exception:
                self._retry_later()
                raise
            self.pending = False
            log.info("applied %d NFS exports", len(exports))

    def publish(self, directory: Path, spec: ExportSpec | None, commit: Callable[[], T]) -> T:
        """Have ganesha serve `spec` as the export of `directory` (None: no export), then run
        `commit`, which stores the change. Raises ExportsNotApplied, or what `commit` raised,
        with nothing stored and the stored exports given back to ganesha."""
        with self.lock:
            stored = self._collect()
            others = [s for s in stored if s.directory != directory]
            exports = sorted(others + ([spec] if spec else []), key=lambda s: s.export_id)
            if self._backend is not None and (spec is not None or len(others) < len(stored)):
                self._apply(exports, stored)
            try:
                return commit()
            except BaseException:
                if self._backend is not None:
                    self._restore(stored)
                raise

    def _apply(self, exports: list[ExportSpec], stored: list[ExportSpec]) -> None:
        assert self._backend is not None
        try:
            self._backend.sync(exports)
        except Exception as exc:
            self._restore(stored)
            raise ExportsNotApplied(str(exc)) from exc
        self.pending = False

    def _restore(self, stored: list[ExportSpec]) -> None:
        assert self._backend is not None
        try:
            self._backend.sync(stored)
        except Exception:
            log.exception("giving ganesha the stored NFS exports back failed; retrying")
            self._retry_later()

    def _retry_later(self) -> None:
        """Start the background retry unless it runs (call with the lock held)."""
        self.pending = True
        if self._retrier is None:
            self._retrier = threading.Thread(target=_retry, args=(weakref.ref(self),),
                                             name="exports-retry", daemon=True)
            self._retrier.start()

    def retry_once(self) -> bool:
        """Apply the stored exports if a failure left them pending; False while still pending."""
        with self.lock:
            if self.pending:
                try:
                    self.sync()
                except Exception as exc:
                    log.warning("applying the NFS exports again failed: %s", exc)
                    return False
            self._retrier = None
            return True


def _retry(ref: weakref.ReferenceType[ExportPublisher]) -> None:
    """Retry every RETRY_SECONDS until applied. The publisher is held weakly: the retries of
    an appliance that was closed and dropped (tests open many) end with it."""
    while True:
        time.sleep(RETRY_SECONDS)
        publisher = ref()
        if publisher is None or publisher.retry_once():
            return
        del publisher
