"""A copy of the driver's source tree outside the checkout, its client symlink kept.

Building driver/ in place makes setuptools leave build/lib/acme_cinder/acme_client.py in the
checkout: a second copy of the one client. Tests build from this copy instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / 'plugins' / 'module_utils' / 'acme_client.py'


def stage_driver_source(dest: Path) -> Path:
    """Copy driver/ and the client its symlink points at into ``dest``; return the driver dir."""
    shutil.copytree(REPO / 'driver', dest / 'driver', symlinks=True,
                    ignore=shutil.ignore_patterns('*.egg-info', 'build', '__pycache__'))
    (dest / 'plugins' / 'module_utils').mkdir(parents=True)
    shutil.copy(CLIENT, dest / 'plugins' / 'module_utils')
    return dest / 'driver'
