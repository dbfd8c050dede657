"""Background refresh of the cached used bytes of every share (NFS writes bypass the API)."""

from __future__ import annotations

import logging
import threading

from acme_appliance.context import Appliance

log = logging.getLogger(__name__)


class UsageRefresher:
    """Re-measures all shares every `interval` seconds in a daemon thread."""

    def __init__(self, appliance: Appliance, interval: float) -> None:
        self._appliance = appliance
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usage-refresh", daemon=True)

    def start(self) -> None:
        if self._interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def refresh_all(self) -> None:
        """Re-measure every share; one that cannot be measured is logged and skipped."""
        for row in self._appliance.store.all_shares():
            if self._stop.is_set():
                return
            try:
                self._appliance.refresh_usage(row.id)
            except Exception:
                log.exception("measuring share %s failed; skipped until the next round", row.id)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh_all()
            except Exception:
                log.exception("refreshing used bytes failed")
