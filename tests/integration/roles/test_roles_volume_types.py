"""Volume types with the production roles against a real cinder-api (issue 22).

cinder-api is the project's Cinder with noauth on sqlite (tests/support/cinder_api.py);
volume types live only in its database, so creating, reading and deleting them needs no
scheduler or volume service. The roles talk to it through openstack.cloud and openstacksdk
(``auth_type: none``) as they talk to a cloud.

acme.nas.cinder_backend (acme_cinder_volume_types) runs the molecule scenario's playbook in a
temporary root, as test_roles_removal.py does. acme.nas.smoke's flows need Keystone, the
scheduler, cinder-volume and an NFS client (``make lab``); what runs here is the role's own
tasks file for the run's volume type, tasks/type.yml, alone (include_role tasks_from): it
creates the type, runs the tasks it wraps (the role's real volume_type flow, or a body that
fails) and deletes the type afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openstack
import pytest
from openstack.config.loader import OpenStackConfig

from tests.integration.roles.test_roles_removal import BACKEND, files_under
from tests.support import cinder_api
from tests.support.ansible import Ansible, Run

pytestmark = [pytest.mark.integration]

FILES = Path(__file__).parent / 'files'


@pytest.fixture(scope='module')
def cinder(tmp_path_factory) -> Iterator[cinder_api.CinderApi]:
    api = cinder_api.start(tmp_path_factory.mktemp('cinder-api'))
    yield api
    api.stop()


@pytest.fixture(scope='module')
def conn(cinder) -> openstack.connection.Connection:
    """openstacksdk on the same cinder-api: what a test sets up and checks, outside the roles."""
    config = OpenStackConfig(config_files=[str(cinder.clouds_yaml())])
    return openstack.connection.Connection(config=config.get_one(cloud=cinder_api.CLOUD))


def volume_type(conn, name: str) -> dict | None:
    """The type as Cinder has it (public or private): extra specs and visibility."""
    found = conn.block_storage.find_type(name)
    return found and {'extra_specs': found.extra_specs, 'is_public': found.is_public}


def make_type(conn, name: str, extra_specs: dict, is_public: bool = True) -> dict:
    conn.block_storage.create_type(name=name, extra_specs=extra_specs, is_public=is_public)
    return volume_type(conn, name)


# --- acme.nas.cinder_backend: acme_cinder_volume_types --------------------------------------

def test_volume_types_are_created_once_and_never_changed(volume_host, conn):
    """Types absent from Cinder are created with volume_backend_name and their extra specs
    (check mode creates nothing, a second run changes nothing). A type that exists with other
    extra specs or visibility fails the run naming each difference; it stays as it was, no
    other type is created and cinder.conf is not written."""
    types = {'gold': {'volume_backend_name': 'acme-gold',
                      'extra_specs': {'RESKEY:availability_zones': 'az1', 'acme:tier': 1},
                      'description': 'ACME gold'},
             'gold-private': {'volume_backend_name': 'acme-gold', 'is_public': False}}
    run = {'acme_cinder_volume_types': types, **volume_host.cloud}

    checked = volume_host.play(BACKEND, '--check', **run).ok()
    assert 'Volume types - create the missing ones' in checked.changed_tasks
    assert volume_type(conn, 'gold') is None and volume_type(conn, 'gold-private') is None
    assert files_under(volume_host.root) == {}

    volume_host.play(BACKEND, **run).ok()
    assert volume_type(conn, 'gold') == {
        'extra_specs': {'volume_backend_name': 'acme-gold', 'RESKEY:availability_zones': 'az1',
                        'acme:tier': '1'}, 'is_public': True}
    assert volume_type(conn, 'gold-private') == {
        'extra_specs': {'volume_backend_name': 'acme-gold'}, 'is_public': False}
    assert conn.block_storage.find_type('gold').description == 'ACME gold'
    assert 'default_volume_type = gold\n' in volume_host.conf.read_text()
    assert volume_host.play(BACKEND, **run).ok().changed_tasks == []

    foreign = make_type(conn, 'silver', {'volume_backend_name': 'acme-bronze', 'qos:x': 'y'},
                        is_public=False)
    written = files_under(volume_host.root)
    clash = {'silver': {'volume_backend_name': 'acme-gold'},
             'copper': {'volume_backend_name': 'acme-bronze'}}
    refused = volume_host.play(BACKEND, **{**run, 'acme_cinder_volume_types': {**types, **clash}})
    assert refused.rc != 0
    assert ('The volume type silver exists in Cinder with other settings than '
            'acme_cinder_volume_types gives it - extra spec qos:x: Cinder has y, wanted (none); '
            'extra spec volume_backend_name: Cinder has acme-bronze, wanted acme-gold; '
            'is_public: Cinder has False, wanted True;') in refused.output, refused.output[-3000:]
    assert volume_type(conn, 'silver') == foreign
    assert volume_type(conn, 'copper') is None
    assert files_under(volume_host.root) == written


def test_default_volume_type_names_a_type_that_exists(volume_host, conn):
    """With types managed, [DEFAULT] default_volume_type must be one of them or a type Cinder
    has; otherwise the run fails naming it and nothing is created or written."""
    types = {'bronze': {'volume_backend_name': 'acme-bronze'}}
    missing = volume_host.play(BACKEND, acme_cinder_volume_types=types,
                               acme_cinder_default_volume_type='platinum', **volume_host.cloud)
    assert missing.rc != 0
    assert ('cinder.conf would say [DEFAULT] default_volume_type = platinum, a volume type '
            'Cinder does not have and acme_cinder_volume_types does not create') \
        in missing.output, missing.output[-3000:]
    assert volume_type(conn, 'bronze') is None and files_under(volume_host.root) == {}

    # empty: the first backend's type, here its name (acme-bronze has no volume_type key)
    types['acme-bronze'] = {'volume_backend_name': 'acme-bronze'}
    volume_host.play(BACKEND, acme_cinder_volume_types=types, acme_cinder_default_volume_type='',
                     **volume_host.cloud).ok()
    assert 'default_volume_type = acme-bronze\n' in volume_host.conf.read_text()
    assert volume_type(conn, 'acme-bronze')['extra_specs'] == {'volume_backend_name': 'acme-bronze'}

    volume_host.play(BACKEND, acme_cinder_volume_types=types,
                     acme_cinder_default_volume_type='__DEFAULT__', **volume_host.cloud).ok()
    assert 'default_volume_type = __DEFAULT__\n' in volume_host.conf.read_text()


def test_volume_types_need_a_cloud_and_a_backend_name(volume_host, conn):
    no_cloud = volume_host.play(BACKEND, acme_cinder_volume_types={
        'iron': {'volume_backend_name': 'acme-gold'}})
    assert no_cloud.rc != 0
    assert ('as acme_cinder_cloud (a clouds.yaml entry of an admin, or a cloud dict), which is '
            'not set') in no_cloud.output, no_cloud.output[-3000:]
    no_backend = volume_host.play(BACKEND, acme_cinder_volume_types={
        'iron': {'extra_specs': {'a': 'b'}}}, **volume_host.cloud)
    assert no_backend.rc != 0
    assert 'acme_cinder_volume_types[iron] is {"extra_specs": {"a": "b"}}: each type is a map' \
        in no_backend.output, no_backend.output[-3000:]
    assert volume_type(conn, 'iron') is None and files_under(volume_host.root) == {}


# --- acme.nas.smoke: the run's own volume type ----------------------------------------------

class Smoke:
    """The smoke role's tasks/type.yml, alone, against the cinder-api; the inventory's
    cinder_volume host has a backend acme-1 whose own volume type is acme-1."""

    def __init__(self, tmp_path: Path, cinder: cinder_api.CinderApi) -> None:
        self.clouds_yaml = str(cinder.clouds_yaml())
        host = {'ansible_connection': 'local', 'acme_cinder_backends': {'acme-1': {
            'volume_driver': 'acme_cinder.nfs.AcmeNfsDriver', 'acme_url': 'https://192.0.2.10',
            'volume_type': 'acme-1'}}}
        self.ansible = Ansible(tmp_path / 'ansible', inventory={'all': {'children': {
            'cinder_volume': {'hosts': {'localhost': host}}}}})
        self.playbook = tmp_path / 'smoke-type.yml'

    def run(self, body: str | Path, **extra) -> Run:
        """type.yml around ``body``: the role's flow.yml (with the volume_type flow) or a
        tasks file of the test. As the role's main.yml does, every openstack.cloud module
        talks to the cloud."""
        play = {'hosts': 'localhost', 'gather_facts': False,
                'environment': {'OS_CLIENT_CONFIG_FILE': self.clouds_yaml},
                'module_defaults': {'group/openstack.cloud.openstack': {
                    'cloud': cinder_api.CLOUD}},
                'vars': {'acme_smoke_cloud': cinder_api.CLOUD, '_acme_smoke_run': 'acme-smoke-test',
                         '_acme_smoke_results': [], '_acme_smoke_flow': 'volume_type',
                         '_acme_smoke_type_body': str(body), **extra},
                'tasks': [
                    {'name': 'The run type', 'ansible.builtin.include_role': {
                        'name': 'acme.nas.smoke', 'tasks_from': 'type.yml'}},
                    {'name': 'Results', 'ansible.builtin.debug': {'var': '_acme_smoke_results'}},
                ]}
        self.playbook.write_text(json.dumps([play]))
        return self.ansible.playbook(self.playbook)


@pytest.fixture
def smoke(tmp_path, cinder) -> Smoke:
    return Smoke(tmp_path, cinder)


def flow_results(run: Run) -> list[dict]:
    return run['Results']['_acme_smoke_results']


@pytest.mark.parametrize('is_public', [True, False], ids=['public', 'private'])
def test_smoke_uses_a_type_of_its_own_and_leaves_the_backends_type_alone(smoke, conn, is_public):
    """The backend's own type (acme-1, with an extra spec of the operator's) keeps its extra
    specs and visibility: on main the volume_type flow re-bound it (deleting qos:iops) or, being
    private, failed making it public. The flow runs on acme-smoke-acme-1, created private with
    volume_backend_name=acme-1 only and deleted afterwards."""
    own = make_type(conn, 'acme-1', {'volume_backend_name': 'acme-1', 'qos:iops': '100'},
                    is_public=is_public)
    try:
        run = smoke.run('flow.yml').ok()
        assert flow_results(run) == [{'flow': 'volume_type', 'result': 'passed',
                                      'seconds': flow_results(run)[0]['seconds'],
                                      'detail': 'acme-smoke-acme-1 -> volume_backend_name=acme-1 '
                                                '(private, created by this run, deleted at its '
                                                'end)'}]
        assert 'Smoke type - delete it' in run.changed_tasks
        assert volume_type(conn, 'acme-smoke-acme-1') is None
        assert volume_type(conn, 'acme-1') == own
    finally:
        conn.block_storage.delete_type(conn.block_storage.find_type('acme-1'))


def test_smoke_stops_on_a_type_of_its_name_bound_otherwise(smoke, conn):
    taken = make_type(conn, 'acme-smoke-other', {'volume_backend_name': 'acme-1', 'x:y': 'z'})
    run = smoke.run('flow.yml', acme_smoke_volume_type='acme-smoke-other')
    assert run.rc != 0
    assert ('The volume type acme-smoke-other exists with extra specs {"volume_backend_name": '
            '"acme-1", "x:y": "z"}, not exactly {"volume_backend_name": "acme-1"}: the smoke '
            'run does not change or delete a type it did not create.') in run.output, \
        run.output[-3000:]
    assert 'Flow - run - volume_type' not in run.results
    assert volume_type(conn, 'acme-smoke-other') == taken


def test_smoke_deletes_its_type_also_when_the_flows_failed(smoke, conn):
    run = smoke.run(FILES / 'smoke-type-body-fails.yml', acme_smoke_backend_name='acme-2')
    assert run.rc != 0 and 'the flows failed' in run.output
    assert run['The body sees the type']['volume_type']['extra_specs'] == {
        'volume_backend_name': 'acme-2'}
    assert 'Smoke type - delete it' in run.changed_tasks
    assert volume_type(conn, 'acme-smoke-acme-2') is None


def test_smoke_uses_and_keeps_a_type_of_its_name_bound_exactly_so(smoke, conn):
    kept = make_type(conn, 'acme-smoke-acme-3', {'volume_backend_name': 'acme-3'})
    run = smoke.run('flow.yml', acme_smoke_backend_name='acme-3').ok()
    assert flow_results(run)[0]['detail'].endswith('(public, existed before, left in place)')
    assert run.changed_tasks == []
    assert volume_type(conn, 'acme-smoke-acme-3') == kept
