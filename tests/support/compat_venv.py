"""Virtualenvs of other tools' releases, each from a complete frozen pin list in tests/compat/.

Each lives under .cache/compat/<name>-<hash of its list>: built once with
`pip install --no-deps -r` (the list is complete, so nothing is resolved again), reused until
the list changes. A marker file says the virtualenv is whole; a lock keeps two test runs from
building the same one at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / '.cache' / 'compat'
PINS = REPO / 'tests' / 'compat'
COMPLETE = '.acme-complete'


def run(*args: str | Path, timeout: int = 1200) -> str:
    """Run a command; its stdout, or RuntimeError with the end of its stderr."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=timeout, check=False)
    if result.returncode:
        raise RuntimeError(f'{" ".join(map(str, args))} failed:\n{result.stderr[-3000:]}')
    return result.stdout


def _build_venv(pins: Path, venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    run(sys.executable, '-m', 'venv', venv)
    run(venv / 'bin' / 'python', '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
        '--no-deps', '-r', pins)
    (venv / COMPLETE).write_text(pins.name + '\n')


def pinned_venv(name: str, pins_file: str) -> Path:
    """The virtualenv ``name`` built from tests/compat/``pins_file`` (on first use)."""
    pins = PINS / pins_file
    key = hashlib.sha256(pins.read_bytes()).hexdigest()[:12]
    venv = CACHE / f'{name}-{key}'
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f'{name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / COMPLETE).exists():
            _build_venv(pins, venv)
    return venv
