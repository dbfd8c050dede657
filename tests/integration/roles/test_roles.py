"""The production roles, run for real with ansible-playbook on this machine.

The molecule scenarios' playbooks (molecule/<role>/{prepare,converge,verify,destroy}.yml)
are run directly, so molecule is not needed: converge, a second converge that must report
changed=0, check mode (on a fresh target and on a converged one), verify, and the
argument_specs rejecting bad input. Each test works in its own temporary directory (and, for
the appliance, its own container, volume and loopback ports) and removes what it made.

The smoke role needs real Cinder services, an ACME backend and a kernel NFS client: it is
exercised by the lab (make lab), not here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.ansible import Ansible
from tests.support.appliance import free_ports

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]
MOLECULE = REPO / 'molecule'


class Runner(Ansible):
    """A playbook run on localhost (connection local); ``root`` is the scenario's target."""

    def __init__(self, workdir: Path, root: Path | None = None) -> None:
        super().__init__(workdir, env={'ACME_MOLECULE_ROOT': str(root)} if root else None)
        self.root = root


def scenario(name: str) -> Path:
    return MOLECULE / name


# --- driver ------------------------------------------------------------------------------

@pytest.fixture
def driver_runner(tmp_path):
    runner = Runner(tmp_path / 'ansible', tmp_path / 'root')
    runner.playbook(scenario('driver') / 'prepare.yml').ok()
    yield runner
    runner.playbook(scenario('driver') / 'destroy.yml')


def test_driver_role_installs_idempotently_with_check_mode(driver_runner):
    converge = scenario('driver') / 'converge.yml'
    fresh_check = driver_runner.playbook(converge, '--check').ok()
    assert fresh_check.stats['changed'] > 0
    first = driver_runner.playbook(converge).ok()
    assert 'Install the driver wheel' in first.changed_tasks
    second = driver_runner.playbook(converge).ok()
    assert second.stats['changed'] == 0, second.changed_tasks
    check = driver_runner.playbook(converge, '--check').ok()
    assert check.stats['changed'] == 0, check.changed_tasks
    driver_runner.playbook(scenario('driver') / 'verify.yml').ok()
    # The client module, a symlink in the source tree, is a regular file where it is installed.
    installed = list((driver_runner.root / 'venv').glob('lib/python3*/site-packages/acme_cinder'))
    assert len(installed) == 1
    client = installed[0] / 'acme_client.py'
    assert client.is_file() and not client.is_symlink()
    assert client.read_text() == (REPO / 'plugins' / 'module_utils' / 'acme_client.py').read_text()


def test_driver_role_reinstalls_when_the_installed_copy_differs(driver_runner):
    converge = scenario('driver') / 'converge.yml'
    driver_runner.playbook(converge).ok()
    stamps = list((driver_runner.root / 'state').glob('installed-*.sha256'))
    assert len(stamps) == 1
    stamps[0].write_text('something else\n')
    again = driver_runner.playbook(converge).ok()
    assert 'Install the driver wheel' in again.changed_tasks
    assert driver_runner.playbook(converge).ok().stats['changed'] == 0


def test_driver_role_rebuilds_and_reinstalls_when_the_source_changes(driver_runner, tmp_path):
    source = tmp_path / 'driver-source'
    shutil.copytree(REPO / 'driver', source, symlinks=False,
                    ignore=shutil.ignore_patterns('*.egg-info', '__pycache__', 'build'))
    converge = scenario('driver') / 'converge.yml'
    use = ['-e', f'acme_driver_source={source}']
    driver_runner.playbook(converge, *use).ok()
    assert driver_runner.playbook(converge, *use).ok().stats['changed'] == 0
    with open(source / 'acme_cinder' / '__init__.py', 'a') as handle:
        handle.write('# changed by the test\n')
    changed = driver_runner.playbook(converge, *use).ok()
    assert 'Build the driver wheel (once per source hash)' in changed.changed_tasks
    assert 'Install the driver wheel' in changed.changed_tasks
    installed = list((driver_runner.root / 'venv').glob('lib/python3*/site-packages/acme_cinder'))
    assert '# changed by the test' in (installed[0] / '__init__.py').read_text()
    builds = list((driver_runner.root / 'build').iterdir())
    assert len(builds) == 2
    assert all(b.name != 'e3b0c44298fc1c14' for b in builds)  # not the hash of nothing


def test_driver_role_argument_specs_reject_bad_input(driver_runner):
    result = driver_runner.playbook(scenario('driver') / 'converge.yml',
                                    '-e', '{"acme_driver_break_system_packages": "perhaps"}')
    assert result.rc != 0
    assert 'acme_driver_break_system_packages' in result.output


# --- cinder_backend ----------------------------------------------------------------------

@pytest.fixture
def backend_runner(tmp_path):
    runner = Runner(tmp_path / 'ansible', tmp_path / 'root')
    runner.conf = runner.root / 'etc' / 'cinder' / 'cinder.conf'
    runner.restarts = runner.root / 'restarts'
    runner.playbook(scenario('cinder_backend') / 'prepare.yml').ok()
    yield runner
    runner.playbook(scenario('cinder_backend') / 'destroy.yml')


def restarts(runner) -> int:
    return len(runner.restarts.read_text().splitlines()) if runner.restarts.exists() else 0


def test_cinder_backend_role_renders_validates_idempotently(backend_runner):
    converge = scenario('cinder_backend') / 'converge.yml'
    fresh_check = backend_runner.playbook(converge, '--check').ok()
    assert fresh_check.stats['changed'] > 0
    assert not backend_runner.conf.exists()
    backend_runner.playbook(converge).ok()
    assert restarts(backend_runner) == 1
    assert oct(backend_runner.conf.stat().st_mode & 0o777) == '0o640'
    second = backend_runner.playbook(converge).ok()
    assert second.stats['changed'] == 0, second.changed_tasks
    check = backend_runner.playbook(converge, '--check').ok()
    assert check.stats['changed'] == 0, check.changed_tasks
    assert restarts(backend_runner) == 1
    backend_runner.playbook(scenario('cinder_backend') / 'verify.yml').ok()


def test_cinder_backend_password_change_restarts_and_is_never_shown(backend_runner):
    converge = scenario('cinder_backend') / 'converge.yml'
    backend_runner.playbook(converge).ok()
    result = backend_runner.playbook(converge, '--diff', '-v',
                                     '-e', 'acme_test_password=New-Secret-2').ok()
    assert 'New-Secret-2' not in result.output
    assert 'S3cret-gold' not in result.output
    assert 'nas_password = New-Secret-2' in backend_runner.conf.read_text()
    assert restarts(backend_runner) == 2


def test_cinder_backend_invalid_config_is_not_installed(backend_runner):
    converge = scenario('cinder_backend') / 'converge.yml'
    backend_runner.playbook(converge).ok()
    before = backend_runner.conf.read_bytes()
    bad = json.dumps({'acme_cinder_conf_overrides': {
        'acme-gold': {'acme_no_such_option': 1, 'acme_connect_timeout': 'soon'}}})
    result = backend_runner.playbook(converge, '-e', bad)
    assert result.rc != 0
    assert '[acme-gold] acme_no_such_option is not an option of' in result.output
    assert '[acme-gold] acme_connect_timeout: not a valid FloatOpt' in result.output
    assert 'S3cret' not in result.output
    assert backend_runner.conf.read_bytes() == before
    assert restarts(backend_runner) == 1


@pytest.mark.parametrize('extra, message', [
    ({'acme_cinder_service_manager': 'systemctl'}, 'acme_cinder_service_manager'),
    ({'acme_cinder_backends': 'acme-1'}, 'acme_cinder_backends'),
    ({'acme_cinder_backends': {'acme-1': {'volume_driver': 'acme_cinder.nfs.AcmeNfsDriver',
                                          'acme_url': 'https://192.0.2.1:8443',
                                          'acme_pool': 'p', 'nas_user': 'u'}}},
     'nas_password'),
])
def test_cinder_backend_rejects_bad_input(backend_runner, extra, message):
    result = backend_runner.playbook(scenario('cinder_backend') / 'converge.yml', '-e',
                                     json.dumps(extra))
    assert result.rc != 0
    assert message in result.output
    assert not backend_runner.conf.exists()


# --- appliance ---------------------------------------------------------------------------

@pytest.mark.container
@pytest.mark.slow
def test_appliance_role_runs_the_simulator_idempotently(tmp_path):
    if shutil.which('podman') is None or os.geteuid() != 0:
        pytest.skip('needs root and podman (appliance/container/host-packages.txt)')
    api, nfs, mnt, nlm = free_ports(4)
    runner = Runner(tmp_path / 'ansible', tmp_path / 'root')
    ports = ['-e', json.dumps({'acme_appliance_api_port': api, 'acme_appliance_nfs_port': nfs,
                               'acme_appliance_mount_port': mnt, 'acme_appliance_nlm_port': nlm})]
    converge = scenario('appliance') / 'converge.yml'
    try:
        runner.playbook(scenario('appliance') / 'prepare.yml', *ports).ok()
        runner.playbook(converge, *ports).ok()
        second = runner.playbook(converge, *ports).ok()
        assert second.stats['changed'] == 0, second.changed_tasks
        check = runner.playbook(converge, '--check', *ports).ok()
        assert check.stats['changed'] == 0, check.changed_tasks
        runner.playbook(scenario('appliance') / 'verify.yml', *ports).ok()
        # The admin password is in the volume (0600), not on the container's command line.
        inspect = subprocess.run(['podman', 'ps', '--no-trunc', '--format', '{{.Command}}'],
                                 capture_output=True, text=True, check=True)
        assert 'molecule-Secret-1' not in inspect.stdout
    finally:
        runner.playbook(scenario('appliance') / 'destroy.yml', *ports)


def test_appliance_role_requires_a_password(tmp_path):
    runner = Runner(tmp_path / 'ansible')
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False,
                                         'roles': ['acme.nas.appliance']}]))
    result = runner.playbook(playbook)
    assert result.rc != 0
    assert 'acme_appliance_admin_password' in result.output
