"""The Cinder releases acme.nas supports, each in the Python environment a user would have.

The current release (2026.2, cinder 29) is the test virtualenv itself (requirements-dev.txt).
Each other release has a frozen pin list in tests/compat/ and gets its own virtualenv under
.cache/compat/, keyed by the hash of that list: built once with `pip install --no-deps -r`
(the list is complete, so nothing is resolved again), reused until the list changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.driver_source import stage_driver_source

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / '.cache' / 'compat'
PINS = REPO / 'tests' / 'compat'
COMPLETE = '.acme-complete'


@dataclass(frozen=True)
class CinderRelease:
    series: str   # OpenStack release
    cinder: str   # cinder version
    pins: str | None = None  # file under tests/compat/; None = the test virtualenv


RELEASES = (
    CinderRelease('2026.2', '29.0.0'),
    CinderRelease('2026.1', '28.0.0', 'cinder-2026.1.txt'),  # previous SLURP release
)


def _run(*args: str | Path) -> None:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=1200, check=False)
    if result.returncode:
        raise RuntimeError(f'{" ".join(map(str, args))} failed:\n{result.stderr[-3000:]}')


def _build_venv(pins: Path, venv: Path) -> None:
    """A fresh virtualenv from a complete pin list; the marker file says it is whole."""
    shutil.rmtree(venv, ignore_errors=True)
    _run(sys.executable, '-m', 'venv', venv)
    _run(venv / 'bin' / 'python', '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
         '--no-deps', '-r', pins)
    (venv / COMPLETE).write_text(pins.name + '\n')


def release_venv(release: CinderRelease) -> Path:
    """The virtualenv of ``release`` (built on first use), without the driver."""
    if release.pins is None:
        return Path(sys.prefix)
    pins = PINS / release.pins
    key = hashlib.sha256(pins.read_bytes()).hexdigest()[:12]
    venv = CACHE / f'cinder-{release.series}-{key}'
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f'cinder-{release.series}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / COMPLETE).exists():
            _build_venv(pins, venv)
    return venv


def install_driver(venv: Path, workdir: Path) -> None:
    """Build the driver's wheel from the checkout and install it as a user would (no deps:
    Cinder's environment already has requests and urllib3)."""
    driver = stage_driver_source(workdir / 'source')
    _run(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', driver, '-w', workdir / 'dist')
    wheel, = (workdir / 'dist').glob('acme_cinder_driver-*.whl')
    _run(venv / 'bin' / 'python', '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
         '--no-deps', '--force-reinstall', wheel)


def uninstall_driver(venv: Path) -> None:
    """Take the driver out again: the cached virtualenv keeps only Cinder (no second copy of
    the appliance client on disk between runs)."""
    _run(venv / 'bin' / 'python', '-m', 'pip', 'uninstall', '-q', '-y', 'acme-cinder-driver')
