"""The controller's services (supervisord inside the lab namespace): their PIDs, stop, start."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def supervisorctl(supervisor_conf: Path, *args: str) -> str:
    return subprocess.run(['supervisorctl', '-c', str(supervisor_conf), *args],
                          capture_output=True, text=True, check=True, timeout=120).stdout.strip()


def program_pid(supervisor_conf: Path, program: str, command: str) -> int:
    """The PID supervisord reports for ``program``, checked to be ``command``."""
    pid = int(supervisorctl(supervisor_conf, 'pid', program))
    if Path(f'/proc/{pid}/comm').read_text().strip() != command:
        raise RuntimeError(f'pid {pid} of {program} is not {command}')
    return pid


@contextmanager
def stopped(supervisor_conf: Path, program: str) -> Iterator[None]:
    """``program`` stopped (supervisord's stop: TERM, then KILL) until the block ends."""
    supervisorctl(supervisor_conf, 'stop', program)
    try:
        yield
    finally:
        supervisorctl(supervisor_conf, 'start', program)
