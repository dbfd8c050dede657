"""One version per release: galaxy.yml's. The driver's equals it and lives in one place."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.publish.release import ReleaseError, collection_version, driver_version, release_version

REPO = Path(__file__).resolve().parents[3]


def test_the_driver_carries_the_collection_version() -> None:
    assert driver_version() == collection_version() == release_version()


def test_pyproject_reads_the_version_from_the_package() -> None:
    """No second copy in driver/pyproject.toml: setuptools reads acme_cinder.__version__."""
    project = tomllib.loads((REPO / 'driver' / 'pyproject.toml').read_text())
    assert 'version' not in project['project']
    assert project['project']['dynamic'] == ['version']
    assert project['tool']['setuptools']['dynamic']['version'] == {
        'attr': 'acme_cinder.__version__'}


def write_checkout(root: Path, collection: str, driver: str) -> Path:
    (root / 'driver' / 'acme_cinder').mkdir(parents=True)
    (root / 'galaxy.yml').write_text(f'namespace: acme\nname: nas\nversion: {collection}\n')
    (root / 'driver' / 'acme_cinder' / '__init__.py').write_text(
        f'"""doc"""\n\n__version__ = {driver!r}\n')
    return root


def test_a_driver_version_that_differs_stops_the_release(tmp_path: Path) -> None:
    root = write_checkout(tmp_path, '0.2.0', '0.1.0')
    with pytest.raises(ReleaseError, match=r'galaxy\.yml says 0\.2\.0.* says 0\.1\.0'):
        release_version(root)
    assert release_version(write_checkout(tmp_path / 'same', '0.2.0', '0.2.0')) == '0.2.0'
