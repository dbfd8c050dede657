"""The Cinder releases acme.nas supports, each in the Python environment a user would have.

The current release (2026.2, cinder 29) is the test virtualenv itself (requirements-dev.txt).
Each other release has a frozen pin list in tests/compat/ and gets its own virtualenv under
.cache/compat/ (tests/support/compat_venv.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.compat_venv import pinned_venv, run
from tests.support.driver_source import stage_driver_source


@dataclass(frozen=True)
class CinderRelease:
    series: str   # OpenStack release
    cinder: str   # cinder version
    pins: str | None = None  # file under tests/compat/; None = the test virtualenv


RELEASES = (
    CinderRelease('2026.2', '29.0.0'),
    CinderRelease('2026.1', '28.0.0', 'cinder-2026.1.txt'),  # previous SLURP release
)


def release_venv(release: CinderRelease) -> Path:
    """The virtualenv of ``release`` (built on first use), without the driver."""
    if release.pins is None:
        return Path(sys.prefix)
    return pinned_venv(f'cinder-{release.series}', release.pins)


def install_driver(venv: Path, workdir: Path) -> None:
    """Build the driver's wheel from the checkout and install it as a user would (no deps:
    Cinder's environment already has requests and urllib3)."""
    driver = stage_driver_source(workdir / 'source')
    run(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', driver, '-w', workdir / 'dist')
    wheel, = (workdir / 'dist').glob('acme_cinder_driver-*.whl')
    run(venv / 'bin' / 'python', '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
        '--no-deps', '--force-reinstall', wheel)


def uninstall_driver(venv: Path) -> None:
    """Take the driver out again: the cached virtualenv keeps only Cinder (no second copy of
    the appliance client on disk between runs)."""
    run(venv / 'bin' / 'python', '-m', 'pip', 'uninstall', '-q', '-y', 'acme-cinder-driver')
