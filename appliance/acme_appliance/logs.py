"""The appliance log: one line per record, rotated by size, private to the owner, at most a
few lines a minute of any one warning, and never a partial record on a full file system."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO, Any

MAX_LOG_BYTES = 10 << 20
LOG_BACKUPS = 5
BURST = 10  # records of one kind (logger, level, message template) per window
WINDOW = 60.0
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


class PrivateRotatingFileHandler(RotatingFileHandler):
    """logging's RotatingFileHandler with a file created 0600 (rotated ones too), each record
    written with one write; a record the file system has no space for is taken back whole
    (truncated away) and counted, and the count is logged once there is space again."""

    def __init__(self, path: Path, max_bytes: int = MAX_LOG_BYTES,
                 backups: int = LOG_BACKUPS) -> None:
        self.dropped = 0
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")

    def _open(self) -> IO[Any]:
        return open(self.baseFilename, "ab", buffering=0, opener=_private_opener)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.shouldRollover(record):
                self.doRollover()
            if self.stream is None:
                self.stream = self._open()
            line = self.format(record) + "\n"
            if self.dropped and self._write(self._dropped_line(record)):
                self.dropped = 0
            if not self._write(line):
                self.dropped += 1
        except Exception:
            self.handleError(record)

    def _dropped_line(self, record: logging.LogRecord) -> str:
        note = logging.makeLogRecord({
            "name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
            "created": record.created, "msecs": record.msecs,
            "msg": "%d log records were lost: no space left on the file system",
            "args": (self.dropped,)})
        return self.format(note) + "\n"

    def _write(self, text: str) -> bool:
        """Append `text` whole, or not at all when there is no space (False)."""
        fd = self.stream.fileno()
        data, start = text.encode("utf-8", "backslashreplace"), os.fstat(fd).st_size
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            os.ftruncate(fd, start)
            return False
        return True


class RateLimitFilter(logging.Filter):
    """Lets through at most `burst` warnings (and worse) of one kind per `window` seconds; the
    first one let through after that says how many were held back. Lower levels (one access
    line per call) all pass: rotation bounds them."""

    def __init__(self, burst: int = BURST, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst, self.window, self.clock = burst, window, clock
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, int, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key, now = (record.name, record.levelno, str(record.msg)), self.clock()
        with self._lock:
            start, passed, held = self._kinds.get(key, (now, 0, 0))
            if now - start >= self.window:
                start, passed = now, 0
            if passed >= self.burst:
                self._kinds[key] = (start, passed, held + 1)
                return False
            self._kinds[key] = (start, passed + 1, 0)
            if len(self._kinds) > 10_000:  # kinds are message templates: few, unless a bug
                self._kinds.clear()
        if held:
            record.msg = f"{record.msg} [{held} more like this were not logged]"
        return True
