"""Process and file helpers of the launcher, the supervisor and the ganesha seam."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path


# --- files -------------------------------------------------------------------------------

def unchanged(path: Path, text: str, mode: int) -> bool:
    """True if ``path`` already holds ``text`` with ``mode``."""
    try:
        st = path.stat()
        return (st.st_mode & 0o7777 == mode and st.st_size == len(text.encode('utf-8'))
                and path.read_text(encoding='utf-8') == text)
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` via a temporary file (created with ``mode``) and a rename.
    A file that already holds ``text`` is left alone: a start on a full file system must not
    need space for files it does not change."""
    if unchanged(path, text, mode):
        return
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_private(path: Path, text: str) -> None:
    """``text`` in ``path``, readable by the owner only from the first byte on."""
    atomic_write(path, text, 0o600)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + '\n')


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_from(path: Path, offset: int = 0) -> str:
    """The text of ``path`` from byte ``offset`` on ('' if it does not exist)."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(offset)
            return handle.read().decode('utf-8', errors='replace')
    except FileNotFoundError:
        return ''


def tail(path: Path, lines: int = 25, offset: int = 0) -> str:
    """The last ``lines`` lines of ``path`` (from ``offset`` on), for error messages."""
    if not path.exists():
        return f'({path} does not exist)'
    return '\n'.join(read_from(path, offset).splitlines()[-lines:])


# --- processes ---------------------------------------------------------------------------

def read_pid(pidfile: Path) -> int | None:
    try:
        return int(Path(pidfile).read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def pid_alive(pid: int | None, name: str | None = None) -> bool:
    """True if ``pid`` runs (not a zombie: an unreaped child is not alive) and, when given,
    ``name`` is in its command line (so that a recycled pid is not taken for ours)."""
    if not pid:
        return False
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
        cmdline = Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode()
    except (OSError, ProcessLookupError):
        return False
    if stat.rsplit(')', 1)[1].split()[0] in ('Z', 'X'):
        return False
    return name is None or name in cmdline


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child (else nothing to do)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_pid(pid: int | None, name: str | None = None, timeout: float = 10.0) -> None:
    """SIGTERM ``pid`` (only while it is the process called ``name``), wait up to ``timeout``
    seconds, then SIGKILL it; our own children are reaped."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if not pid or not pid_alive(pid, name):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap(pid)
            if not pid_alive(pid, name):
                return
            time.sleep(0.1)
