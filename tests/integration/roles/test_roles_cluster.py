"""Active-active deployment by the production roles, run for real with ansible-playbook.

acme.nas.cinder_backend renders ``[DEFAULT] cluster`` and ``[coordination] backend_url`` and
refuses a cluster whose hosts would not share a lock service; acme.nas.driver installs tooz's
etcd client (etcd3gw) into Cinder's Python for an etcd3+http coordination URL. The molecule
scenarios' playbooks run on localhost into a temporary root, as in test_roles.py.
"""

from __future__ import annotations

import configparser
import json
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.support.ansible import Ansible, Run

pytestmark = [pytest.mark.integration]

MOLECULE = Path(__file__).resolve().parents[3] / 'molecule'
ETCD_URL = 'etcd3+http://192.0.2.30:2379'
ASSERT_TASK = 'Check the active-active settings'


class Scenario(Ansible):
    """One molecule scenario's playbooks on localhost, everything under ``root``;
    ``always`` are extra variables of every run."""

    def __init__(self, name: str, tmp_path: Path, always: dict | None = None) -> None:
        self.root = tmp_path / 'root'
        super().__init__(tmp_path / 'ansible', env={'ACME_MOLECULE_ROOT': str(self.root)})
        self.name, self.always = name, always or {}

    def run(self, step: str, extra: dict | None = None, *args: str) -> Run:
        variables = {**self.always, **(extra or {})}
        if variables:
            args = ('-e', json.dumps(variables), *args)
        return self.playbook(MOLECULE / self.name / f'{step}.yml', *args)


@pytest.fixture
def backend(tmp_path):
    scenario = Scenario('cinder_backend', tmp_path)
    scenario.conf = scenario.root / 'etc' / 'cinder' / 'cinder.conf'
    scenario.run('prepare').ok()
    yield scenario
    scenario.run('destroy')


def rendered(conf: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(conf)
    return parser


def test_cluster_and_etcd_coordination_are_rendered_idempotently(backend):
    cluster = {'acme_cinder_cluster': 'acme-prod', 'acme_cinder_coordination_url': ETCD_URL}
    backend.run('converge', cluster).ok()
    conf = rendered(backend.conf)
    assert conf['DEFAULT']['cluster'] == 'acme-prod'
    assert conf['coordination']['backend_url'] == ETCD_URL
    again = backend.run('converge', cluster).ok()
    assert again.stats['changed'] == 0, again.changed_tasks


def test_one_host_without_cluster_writes_neither_key(backend):
    backend.run('converge').ok()
    conf = rendered(backend.conf)
    assert 'cluster' not in conf['DEFAULT']
    assert not conf.has_section('coordination')


@pytest.mark.parametrize('extra, shown', [
    ({'acme_cinder_cluster': 'acme-prod'}, 'backend_url = (unset'),
    ({'acme_cinder_cluster': 'acme-prod',
      'acme_cinder_coordination_url': 'file:///var/lib/cinder'}, 'file:///var/lib/cinder'),
    # the same cluster reached through the overrides is judged the same way
    ({'acme_cinder_conf_overrides': {'DEFAULT': {'cluster': 'acme-prod'},
                                     'coordination': {'backend_url': 'file:///tmp/locks'}}},
     'file:///tmp/locks'),
], ids=['no-url', 'file-url', 'file-url-in-overrides'])
def test_cluster_without_a_shared_lock_service_is_refused_and_nothing_written(
        backend, extra, shown):
    result = backend.run('converge', extra)
    assert result.rc != 0
    assert result[ASSERT_TASK]['failed']
    message = result[ASSERT_TASK]['msg']
    assert 'cluster = acme-prod' in message and shown in message
    assert 'etcd3+http://' in message and 'Nothing was written' in message
    assert not backend.conf.exists()
    assert not (backend.root / 'bin' / 'acme-cinder-conf-validate').exists()


def test_the_grpc_etcd3_url_tooz_no_longer_has_is_refused(backend):
    result = backend.run('converge', {'acme_cinder_cluster': 'acme-prod',
                                      'acme_cinder_coordination_url': 'etcd3://192.0.2.30:2379'})
    assert result.rc != 0
    assert 'use etcd3+http://' in result['Check the coordination URL']['msg']
    assert not backend.conf.exists()


def test_cinder_backend_argument_specs_reject_a_non_string_cluster(backend):
    result = backend.run('converge', {'acme_cinder_cluster': ['a', 'b']})
    assert result.rc != 0
    assert 'acme_cinder_cluster' in result.output
    assert not backend.conf.exists()


# --- driver: tooz's etcd client in Cinder's Python ----------------------------------------

def cinder_like_site(venv: Path, without: str) -> None:
    """Give the scenario's bare venv this interpreter's packages (tooz, requests, futurist...)
    except ``without``, as a Cinder virtualenv that lacks it."""
    ours = Path(sysconfig.get_paths()['purelib'])
    view = venv.parent / 'cinder-site'
    view.mkdir()
    for entry in ours.iterdir():
        if not entry.name.lower().startswith(without) and entry.suffix != '.pth':
            (view / entry.name).symlink_to(entry)
    site = next(venv.glob('lib/python3*/site-packages'))
    (site / 'cinder-site.pth').write_text(f'{view}\n')


def imports(python: Path, module: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), '-c', f'import {module}'], capture_output=True,
                          text=True, check=False)


@pytest.fixture(scope='module')
def controller_cache(tmp_path_factory) -> dict:
    """One controller build directory for this module: the driver wheel and the etcd3gw
    wheel are fetched or built once."""
    return {'acme_driver_build_dir': str(tmp_path_factory.mktemp('controller-cache'))}


@pytest.fixture
def driver(tmp_path, controller_cache):
    scenario = Scenario('driver', tmp_path, controller_cache)
    scenario.run('prepare').ok()
    venv = scenario.root / 'venv'
    cinder_like_site(venv, without='etcd3gw')
    scenario.python = venv / 'bin' / 'python'
    yield scenario
    scenario.run('destroy')


def test_driver_role_installs_etcd3gw_only_for_an_etcd_coordination_url(driver):
    assert 'etcd3gw' in imports(driver.python, 'tooz.drivers.etcd3gw').stderr

    plain = driver.run('converge').ok()
    assert "Install tooz's etcd client" not in plain.changed_tasks
    assert imports(driver.python, 'tooz.drivers.etcd3gw').returncode != 0

    etcd = {'acme_driver_coordination_url': ETCD_URL}
    first = driver.run('converge', etcd).ok()
    assert "Install tooz's etcd client" in first.changed_tasks
    installed = list(driver.root.glob('venv/lib/python3*/site-packages/etcd3gw-2.7.0.dist-info'))
    assert len(installed) == 1
    assert imports(driver.python, 'tooz.drivers.etcd3gw').returncode == 0

    second = driver.run('converge', etcd).ok()
    assert second.stats['changed'] == 0, second.changed_tasks
    check = driver.run('converge', etcd, '--check').ok()
    assert check.stats['changed'] == 0, check.changed_tasks


def test_driver_role_fails_clearly_when_tooz_cannot_load_its_etcd_driver(
        tmp_path, controller_cache):
    scenario = Scenario('driver', tmp_path, controller_cache)
    scenario.run('prepare').ok()  # a bare venv: no tooz at all
    try:
        result = scenario.run('converge', {'acme_driver_coordination_url': ETCD_URL})
        assert result.rc != 0
        message = result['Fail when tooz cannot load its etcd3+http driver']['msg']
        assert 'cannot import tooz.drivers.etcd3gw' in message and ETCD_URL in message
        assert "No module named 'tooz'" in message
    finally:
        scenario.run('destroy')
