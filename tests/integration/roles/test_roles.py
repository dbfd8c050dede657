"""The production roles, run for real with ansible-playbook on this machine.

`make molecule` runs molecule's own sequence (check, converge, idempotence, check, verify with
testinfra) on the scenarios molecule/{appliance,cinder_backend,driver}. These tests cover what
that sequence does not: a verify that must fail (the driver missing from Cinder's Python),
reinstalls and rebuilds, handler restarts, secrets kept out of the output, invalid
configuration and the argument_specs rejecting bad input. They run the scenarios' playbooks
directly, each in its own temporary directory, and remove what they made.

The smoke role's flows need real Cinder services, an ACME backend and a kernel NFS client: they
run in the lab (make lab); its openstack.cloud calls are checked in test_smoke_openstack_cloud.py.
molecule/driver_trixie runs the driver and cinder_backend roles on a Debian 13 root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import require_tools
from tests.support.ansible import Ansible
from tests.support.collection import collections_path

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


def test_molecule_verify_fails_readably_when_the_driver_is_missing_from_cinders_python(
        tmp_path):
    """The broken change: after converge, the driver is uninstalled from Cinder's venv."""
    env = dict(os.environ, ACME_MOLECULE_ROOT=str(tmp_path / 'root'),
               MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / 'molecule'),
               ANSIBLE_COLLECTIONS_PATH=str(collections_path()),
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")

    def molecule(action: str) -> subprocess.CompletedProcess:
        return subprocess.run(['molecule', action, '-s', 'driver', '--no-command-borders'],
                              cwd=REPO, env=env, capture_output=True, text=True, check=False)
    try:
        converge = molecule('converge')
        assert converge.returncode == 0, converge.stdout[-3000:] + converge.stderr[-3000:]
        cinder_python = tmp_path / 'root' / 'venv' / 'bin' / 'python'
        subprocess.run([cinder_python, '-m', 'pip', 'uninstall', '-q', '-y',
                        'acme-cinder-driver'], check=True)
        verify = molecule('verify')
        assert verify.returncode != 0
        assert (f"AssertionError: the driver is not importable from Cinder's Python "
                f"{cinder_python}: ModuleNotFoundError: No module named 'acme_cinder'"
                in verify.stdout), verify.stdout[-3000:]
    finally:
        molecule('destroy')


def test_driver_role_reinstalls_when_the_installed_copy_differs(driver_runner):
    converge = scenario('driver') / 'converge.yml'
    driver_runner.playbook(converge).ok()
    stamps = list((driver_runner.root / 'state').glob('installed-*.sha256'))
    assert len(stamps) == 1
    stamps[0].write_text('something else\n')
    again = driver_runner.playbook(converge).ok()
    assert 'Install the driver wheel' in again.changed_tasks
    assert driver_runner.playbook(converge).ok().stats['changed'] == 0


def driver_restarts(runner) -> int:
    restarted = runner.root / 'restarts'
    return len(restarted.read_text().splitlines()) if restarted.exists() else 0


def test_a_changed_driver_restarts_the_services_that_load_it_and_an_unchanged_one_does_not(
        driver_runner):
    """An upgrade (or going back) installs another wheel: cinder-volume must be restarted
    to run it, before the next role; a run that installs nothing restarts nothing."""
    converge = scenario('driver') / 'converge.yml'
    driver_runner.playbook(converge).ok()
    assert driver_restarts(driver_runner) == 1
    driver_runner.playbook(converge).ok()
    assert driver_restarts(driver_runner) == 1
    for stamp in (driver_runner.root / 'state').glob('installed-*.sha256'):
        stamp.write_text('the previous version\n')  # what another version left installed
    driver_runner.playbook(converge).ok()
    assert driver_restarts(driver_runner) == 2


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


def listed_tasks(tmp_path: Path, playbook: str, *args: str) -> str:
    inventory = {'all': {'children': {'cinder_volume': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'acme_cinder_backends': {}}}}}}}
    runner = Ansible(tmp_path / '-'.join(('list',) + args), inventory=inventory)
    return runner.playbook(playbook, '--list-tasks', *args).ok().output


def test_site_tags_rerun_only_the_configuration_or_only_the_driver(tmp_path):
    """An operator re-runs only cinder.conf (acme-config) or only the driver (acme-driver)."""
    config = listed_tasks(tmp_path, 'acme.nas.site', '--tags', 'acme-config')
    driver = listed_tasks(tmp_path, 'acme.nas.site', '--tags', 'acme-driver')
    render, install = ('acme.nas.cinder_backend : Render, validate and install cinder.conf',
                       'acme.nas.driver : Install the driver wheel')
    assert render in config and install not in config
    assert install in driver and render not in driver


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


def test_cinder_backend_password_change_restarts_and_is_never_shown(backend_runner):
    converge = scenario('cinder_backend') / 'converge.yml'
    backend_runner.playbook(converge).ok()
    result = backend_runner.playbook(converge, '--diff', '-v',
                                     '-e', 'acme_test_password=New-$ecret-2').ok()
    assert 'ecret-2' not in result.output
    assert 'S3cret' not in result.output
    assert 'nas_password = New-$$ecret-2' in backend_runner.conf.read_text()  # read: New-$ecret-2
    assert restarts(backend_runner) == 2


# A cinder.conf another tool wrote (the full layout takes it over only when told to).
FOREIGN_CONF = (Path(__file__).parent / 'files' / 'foreign-cinder.conf').read_text()


def test_cinder_backend_full_layout_never_replaces_a_cinder_conf_it_did_not_write(
        backend_runner):
    """An existing cloud's cinder.conf (a distribution's, openstack-ansible's): the full layout
    refuses it unless told to take over, and then keeps it as a backup."""
    converge = scenario('cinder_backend') / 'converge.yml'
    backend_runner.conf.write_text(FOREIGN_CONF)
    refused = backend_runner.playbook(converge)
    assert refused.rc != 0 and 'was not written by acme.nas.cinder_backend' in refused.output
    assert 'acme_cinder_conf_layout: drop_in' in refused.output
    assert backend_runner.conf.read_text() == FOREIGN_CONF and restarts(backend_runner) == 0
    backend_runner.playbook(converge, '-e', 'acme_cinder_conf_takeover=true').ok()
    backups = list(backend_runner.conf.parent.glob('cinder.conf.*~'))
    assert [b.read_text() for b in backups] == [FOREIGN_CONF]
    assert 'acme-gold' in backend_runner.conf.read_text() and restarts(backend_runner) == 1
    backend_runner.playbook(converge).ok()  # its own file now: no takeover needed
    assert restarts(backend_runner) == 1


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

def test_appliance_role_requires_a_password(tmp_path):
    runner = Runner(tmp_path / 'ansible')
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False,
                                         'roles': ['acme.nas.appliance']}]))
    result = runner.playbook(playbook)
    assert result.rc != 0
    assert 'acme_appliance_admin_password' in result.output


@pytest.mark.container
def test_appliance_role_check_mode_on_a_host_without_the_image_changes_nothing(tmp_path):
    """A fresh host (no image yet), --check: a real run would build the image, so the check
    must neither pull it from a registry (there is none) nor create anything. (A fresh
    make test failed here, in molecule's check stage, before any image existed.)"""
    require_tools('podman', 'runc')
    image = f'localhost/acme-test-absent-{os.getpid()}:latest'
    runner, env = Runner(tmp_path / 'ansible', tmp_path / 'root'), {'ACME_TEST_API_PORT': '18743'}

    def podman(*args: str) -> str:
        return subprocess.run(['podman', *args], capture_output=True, text=True,
                              check=True).stdout

    before = podman('ps', '-a', '--format', '{{.Names}}'), podman('volume', 'ls', '-q')
    try:
        runner.playbook(scenario('appliance') / 'prepare.yml', env=env).ok()
        result = runner.playbook(scenario('appliance') / 'converge.yml', '--check',
                                 '-e', f'acme_appliance_image={image}', env=env).ok()
        assert 'Run the simulator container' not in result.changed_tasks
        assert (podman('ps', '-a', '--format', '{{.Names}}'), podman('volume', 'ls', '-q')) \
            == before
        assert subprocess.run(['podman', 'image', 'exists', image], check=False).returncode
    finally:
        runner.playbook(scenario('appliance') / 'destroy.yml', env=env)


@pytest.mark.container
def test_appliance_container_is_recreated_only_when_the_image_behind_its_tag_changes(tmp_path):
    """Why the lab builds its own image tag (lab/bin/lab-up, ACME_LAB_IMAGE): podman_container
    compares the image's labels with the container's, so the same tag rebuilt from another
    checkout (another acme.inputs label) recreates the container at the next converge."""
    require_tools('podman', 'runc')
    image, tag = 'localhost/acme-appliance:latest', f'localhost/acme-test-retag-{os.getpid()}'
    if subprocess.run(['podman', 'image', 'exists', image], check=False).returncode:
        subprocess.run([str(REPO / 'appliance' / 'container' / 'build')], check=True, timeout=1800)
    subprocess.run(['podman', 'tag', image, tag], check=True)
    runner, env = Runner(tmp_path / 'ansible', tmp_path / 'root'), {'ACME_TEST_API_PORT': '18643'}

    def converge():
        return runner.playbook(scenario('appliance') / 'converge.yml',
                               '-e', f'acme_appliance_image={tag}', env=env).ok()
    try:
        runner.playbook(scenario('appliance') / 'prepare.yml', env=env).ok()
        converge()
        assert converge().changed_tasks == []
        context = tmp_path / 'image'
        context.mkdir()
        (context / 'Containerfile').write_text(f'FROM {tag}\nLABEL acme.inputs=another-checkout\n')
        subprocess.run(['podman', 'build', '--pull=never', '-q', '-t', tag, str(context)],
                       check=True, capture_output=True)
        replaced = converge()
        assert replaced.changed_tasks == ['Run the simulator container']
        actions = replaced['Run the simulator container']['actions']
        assert [a for a in actions if a.startswith('recreated')], actions
    finally:
        runner.playbook(scenario('appliance') / 'destroy.yml', env=env)
        subprocess.run(['podman', 'rmi', '-f', tag], capture_output=True, check=False)
