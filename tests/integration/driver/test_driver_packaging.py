"""The wheel of driver/: the symlinked client becomes a real module; the entry point is there."""

from __future__ import annotations

import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.driver_source import stage_driver_source

REPO = Path(__file__).resolve().parents[3]
CLIENT = REPO / 'plugins' / 'module_utils' / 'acme_client.py'


def test_wheel_carries_the_client_as_a_real_file(tmp_path):
    driver = stage_driver_source(tmp_path)
    assert (driver / 'acme_cinder' / 'acme_client.py').is_symlink()
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    str(driver), '-w', str(tmp_path / 'dist')],
                   check=True, capture_output=True, timeout=300)
    wheel, = (tmp_path / 'dist').glob('acme_cinder_driver-*.whl')
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo('acme_cinder/acme_client.py')
        assert not stat.S_ISLNK(info.external_attr >> 16)
        assert archive.read(info) == CLIENT.read_bytes()
        names = set(archive.namelist())
        assert {'acme_cinder/nfs.py', 'acme_cinder/mounts.py', 'acme_cinder/options.py',
                'acme_cinder/__init__.py'} <= names
        entry_points, = [n for n in names if n.endswith('entry_points.txt')]
        text = archive.read(entry_points).decode()
    assert '[oslo.config.opts]' in text
    assert 'acme_cinder = acme_cinder.options:list_opts' in text
