"""kolla and kolla-ansible as the tests use them, pinned and cached under .cache/compat/.

- kolla 23.0.0 (OpenStack 2026.2): kolla-build in a virtualenv of its own, from the frozen
  list tests/compat/kolla-23.0.0.txt (tests/support/compat_venv.py).
- kolla-ansible 22.2.0 (OpenStack 2026.1; PyPI has no 2026.2 release of kolla-ansible yet):
  the few files of its release wheel the tests read or run, extracted once.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.support.compat_venv import CACHE, pinned_venv

KOLLA_PINS = 'kolla-23.0.0.txt'
KOLLA_ANSIBLE = '22.2.0'
KOLLA_ANSIBLE_FILES = (
    'action_plugins/merge_configs.py',
    'group_vars/all/common.yml',
    'group_vars/all/haproxy.yml',
    'roles/cinder/defaults/main.yml',
    'roles/cinder/tasks/config.yml',
    'roles/cinder/templates/cinder-volume.json.j2',
    'roles/service-cert-copy/tasks/main.yml',
)


def kolla_venv() -> Path:
    """The virtualenv with kolla-build (built on first use)."""
    return pinned_venv('kolla-23.0.0', KOLLA_PINS)


def kolla_package(venv: Path) -> Path:
    """The installed kolla package (its docker/ image templates, base scripts)."""
    lib, = (venv / 'lib').glob('python3*/site-packages/kolla')
    return lib


def kolla_ansible_dir() -> Path:
    """kolla-ansible's ansible/ directory, holding KOLLA_ANSIBLE_FILES of its release wheel."""
    root = CACHE / f'kolla-ansible-{KOLLA_ANSIBLE}'
    root.mkdir(parents=True, exist_ok=True)
    with open(CACHE / 'kolla-ansible.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all((root / name).exists() for name in KOLLA_ANSIBLE_FILES):
            _extract_kolla_ansible(root)
    return root


def _extract_kolla_ansible(root: Path) -> None:
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps',
                        f'kolla-ansible=={KOLLA_ANSIBLE}', '-d', download],
                       check=True, capture_output=True, timeout=300)
        wheel, = Path(download).glob('kolla_ansible-*.whl')
        prefix = f'kolla_ansible-{KOLLA_ANSIBLE}.data/data/share/kolla-ansible/ansible/'
        with zipfile.ZipFile(wheel) as archive:
            for name in KOLLA_ANSIBLE_FILES:
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(archive.read(prefix + name))
