"""acme.nas.status end to end, against a real Cinder and the real simulator.

Real here: RabbitMQ (Debian's rabbitmq-server), cinder-api, cinder-scheduler and cinder-volume
of the project's Cinder (tests/support/cinder_services.py: noauth, sqlite), the checkout's
AcmeNfsDriver loaded by cinder-volume for three backends against the simulator over HTTPS
(acme-c with a wrong password: Cinder never loads it), the scheduler's pools built from the
capabilities cinder-volume publishes, the services' states from their heartbeats, the
playbook run with ansible-playbook, acme.nas.acme_info and openstack.cloud with openstacksdk.
Not real: Keystone (openstacksdk's auth_type none, the block-storage endpoint set in
clouds.yaml) and the NFS mounts (none are made: no volume is created).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support import cinder_api, cinder_services
from tests.support.ansible import Ansible, Run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
STATUS = REPO / 'playbooks' / 'status.yml'
ACME = 'acme_cinder.nfs.AcmeNfsDriver'
HOST = cinder_services.VOLUME_HOST


def backends(appliance, mount_base: Path) -> dict[str, dict]:
    """The backends of cinder.conf: acme-c's password is wrong, so Cinder never loads it."""
    common = {'volume_driver': ACME, 'acme_url': appliance.url, 'nas_login': 'admin',
              'nas_password': appliance.password, 'nfs_mount_point_base': str(mount_base)}
    return {'acme-a': {**common, 'acme_pool': 'pool1'},
            'acme-b': {**common, 'acme_pools': 'pool1,pool2'},
            'acme-c': {**common, 'acme_pool': 'pool2', 'nas_password': 'not-the-password'}}


def cinder_conf_sections(appliance, conf: dict[str, dict]) -> dict[str, dict]:
    """What acme.nas.cinder_backend renders from them: volume_backend_name (the section name)
    and the CA file."""
    return {name: dict(keys, volume_backend_name=name, acme_ca_file=appliance.ca_path)
            for name, keys in conf.items()}


@pytest.fixture(scope='module')
def lab(appliance_server, appliance_state_root, tmp_path_factory):
    if shutil.which('epmd') is None or not cinder_services.RABBITMQ_SERVER.exists():
        pytest.skip('needs rabbitmq-server (Makefile: deps)')
    appliance = appliance_server.reset(tmp_path_factory.mktemp('status-appliance',
                                                               numbered=True))
    state = tmp_path_factory.mktemp('status-cinder')
    conf = backends(appliance, state / 'mnt')
    cinder = cinder_services.start(state, cinder_conf_sections(appliance, conf))
    try:
        cinder.wait_for_pools([f'{HOST}@acme-a#acme-a', f'{HOST}@acme-b#pool1',
                               f'{HOST}@acme-b#pool2'])
        # a backend whose driver failed to set up sends no heartbeat: Cinder shows it down
        cinder.wait_for_service_state('cinder-volume', f'{HOST}@acme-c', 'down')
        yield appliance, cinder, conf
    finally:
        cinder.stop()


def status(tmp_path: Path, lab, *args: str, ca_pem: bool = False, **changes: dict) -> Run:
    """ansible-playbook acme.nas.status, the inventory as acme.nas.site's (list values of
    acme_pools) with ``changes`` to its backends (None removes one). The appliance's CA: the
    controller's file (acme_status_ca_path), or with ``ca_pem`` its text (acme_ca_pem, which
    the playbook writes to a temporary file: two tasks more)."""
    appliance, cinder, conf = lab
    inventory_backends = {name: dict(keys, acme_pools=keys['acme_pools'].split(','))
                          if 'acme_pools' in keys else dict(keys) for name, keys in conf.items()}
    for name, change in changes.items():
        if change is None:
            inventory_backends.pop(name)
        else:
            inventory_backends[name] = change
    host = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
            'acme_cinder_backends': inventory_backends}
    ca = {'acme_ca_pem': Path(appliance.ca_path).read_text()} if ca_pem else \
        {'acme_status_ca_path': appliance.ca_path}
    inventory = {'all': {
        'vars': {'acme_cloud': cinder_api.CLOUD, 'acme_clouds_yaml': str(cinder.api.clouds_yaml()),
                 **ca},
        'children': {'cinder_volume': {'hosts': {'localhost': host}}}}}
    return Ansible(tmp_path / 'ansible', inventory=inventory).playbook(STATUS, *args)


ALL_GOOD = {'acme-c': None}  # the inventory without the backend Cinder never loaded


def table_lines(run: Run) -> list[str]:
    return [line for item in run['Status - each backend, the appliance | Cinder']['results']
            for line in item['msg']]


def test_all_good_passes_and_shows_the_appliance_and_cinder_side_by_side(tmp_path, lab):
    run = status(tmp_path, lab, ca_pem=True, **ALL_GOOD).ok()
    assert run['Status - remove the temporary CA file']['path'].endswith('.acme-ca.pem')
    assert not Path(run['Status - remove the temporary CA file']['path']).exists()
    lines = table_lines(run)
    appliance = lab[0]
    assert lines[0] == f'acme-a ({appliance.url})'
    assert lines[2].split() == ['pool1', '100.00', '100.00', '|', f'{HOST}@acme-a#acme-a',
                                '100.00', '100.00']
    assert lines[3] == f'  cinder-volume {HOST}@acme-a: enabled, up'
    assert lines[4] == f'acme-b ({appliance.url})'
    assert [line.split()[0::4] for line in lines[6:8]] == [
        ['pool1', f'{HOST}@acme-b#pool1'], ['pool2', f'{HOST}@acme-b#pool2']]
    assert lines[8] == f'  cinder-volume {HOST}@acme-b: enabled, up'
    assert '2 ACME backend(s), every pool seen by Cinder' in run['Status - no mismatch']['msg']
    assert run.changed_tasks == []


def test_mismatches_fail_naming_each_also_in_check_mode(tmp_path, lab):
    """acme-c never loaded (wrong password), acme-a configured with two pools Cinder does not
    see (the inventory changed, cinder.conf did not), acme-b's service disabled. In check mode:
    every read runs and the comparison is the same (one playbook run less for the test)."""
    appliance, cinder, conf = lab
    acme_a = dict(conf['acme-a'], acme_pools=['pool1', 'pool2'])
    acme_a.pop('acme_pool')
    cinder.put('os-services/disable-log-reason', {
        'host': f'{HOST}@acme-b', 'binary': 'cinder-volume', 'disabled_reason': 'maintenance'})
    try:
        run = status(tmp_path, lab, '--check', **{'acme-a': acme_a})
    finally:
        cinder.put('os-services/enable', {'host': f'{HOST}@acme-b', 'binary': 'cinder-volume'})
    assert run.rc != 0, run.output[-3000:]
    assert run['Status - no mismatch']['failed'] and run.changed_tasks == []
    message = run['Status - no mismatch']['msg']
    for mismatch in (
            'acme-a: appliance pool pool1 is configured but Cinder does not see it',
            'acme-a: appliance pool pool2 is configured but Cinder does not see it',
            'acme-b: Cinder has no pool of this backend: every cinder-volume service of it is '
            'disabled',
            f'acme-b: cinder-volume service {HOST}@acme-b is disabled (maintenance)',
            'acme-c: Cinder has no pool of this backend: cinder-volume never loaded it or is not '
            'running (a backend whose driver fails to set up sends no heartbeat: its service is '
            f'down); see the cinder-volume log of {HOST}@acme-c',
            f'acme-c: cinder-volume service {HOST}@acme-c is down'):
        assert mismatch in message, message
    assert message.startswith('7 mismatch(es): ')
    assert 'refused user' in cinder.log('cinder-volume')  # why Cinder did not load acme-c


def test_a_service_down_fails_naming_it(tmp_path, lab):
    """cinder-volume killed: its services stop reporting and Cinder marks them down."""
    cinder = lab[1]
    cinder.kill('cinder-volume')
    cinder.wait_for_service_state('cinder-volume', f'{HOST}@acme-a', 'down')
    run = status(tmp_path, lab, **ALL_GOOD)
    assert run.rc != 0
    message = run['Status - no mismatch']['msg']
    assert f'acme-a: cinder-volume service {HOST}@acme-a is down' in message, message
    assert f'acme-b: cinder-volume service {HOST}@acme-b is down' in message, message
    assert 'could not be read' not in message and 'does not exist' not in message
    assert 'acme-a: Cinder has no pool of this backend: cinder-volume never loaded it or is ' \
        'not running' in message  # the scheduler leaves out the services that are down
