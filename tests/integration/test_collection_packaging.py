"""The collection builds, installs, and the one client reaches the driver package in both forms."""

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.driver_source import stage_driver_source

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLIENT = REPO / 'plugins' / 'module_utils' / 'acme_client.py'


def run(*cmd, **kwargs):
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f'{cmd} failed:\n{result.stdout}\n{result.stderr}'
    return result


@pytest.fixture(scope='module')
def installed(collection_tarball, tmp_path_factory):
    out = tmp_path_factory.mktemp('collections')
    run(str(BIN / 'ansible-galaxy'), 'collection', 'install', '--force', '--no-deps',
        '-p', str(out), str(collection_tarball))
    return out / 'ansible_collections' / 'acme' / 'nas'


@pytest.mark.parametrize('source', ['checkout', 'installed collection'])
def test_pip_install_of_driver_carries_the_client(source, installed, tmp_path):
    if source == 'checkout':  # built from a staged copy: an in-place build leaves build/lib
        driver = stage_driver_source(tmp_path / 'checkout')
    else:
        driver = installed / 'driver'
    target = tmp_path / 'site'
    run(str(BIN / 'pip'), 'install', '-q', '--no-deps',
        '--target', str(target), str(driver))
    copy = target / 'acme_cinder' / 'acme_client.py'
    assert copy.is_file() and not copy.is_symlink()
    assert filecmp.cmp(copy, CLIENT, shallow=False)
    probe = ('import acme_cinder.acme_client as c; '
             'print(c.AcmeClient.__name__, c.QUOTA_GRANULARITY)')
    result = run(sys.executable, '-c', probe, env={'PYTHONPATH': str(target)})
    assert result.stdout.split() == ['AcmeClient', '1048576']


def test_modules_render_with_ansible_doc(installed):
    env = {'ANSIBLE_COLLECTIONS_PATH': str(installed.parents[2]), 'PATH': str(BIN)}
    modules = sorted(p.stem for p in (installed / 'plugins' / 'modules').glob('acme_*.py'))
    assert modules, 'no modules shipped'
    for module in modules:
        result = run(str(BIN / 'ansible-doc'), '-t', 'module', f'acme.nas.{module}', env=env)
        assert 'EXAMPLES' in result.stdout and 'RETURN VALUES' in result.stdout, module


@pytest.mark.parametrize('kind', ['filter', 'test'])
def test_filter_and_test_plugins_render_with_ansible_doc(installed, kind):
    """Galaxy's importer runs ansible-doc on every plugin and rejects one without documentation."""
    env = {'ANSIBLE_COLLECTIONS_PATH': str(installed.parents[2]), 'PATH': str(BIN)}
    plugins = sorted(p.stem for p in (installed / 'plugins' / kind).glob('*.py'))
    assert plugins, f'no {kind} plugins shipped'
    for plugin in plugins:
        result = run(str(BIN / 'ansible-doc'), '-t', kind, '--json', f'acme.nas.{plugin}', env=env)
        assert f'acme.nas.{plugin}' in result.stdout, plugin
