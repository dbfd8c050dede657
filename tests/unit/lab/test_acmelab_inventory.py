"""The one inventory reader, against the lab's own template rendered as lab/playbooks/up.yml
renders it (the facts of a two-host lab with etcd)."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
from acmelab.inventory import LabInventory

REPO = Path(__file__).resolve().parents[3]
GUESTS = [dict(hostname=f'acme-lab-volume-{n}', address=f'10.123.0.{10 + n}',
               ssh_key='/s/guest/id_ed25519', known_hosts='/s/guest/known_hosts',
               cinder_services=['cinder-volume']) for n in (0, 1)]
FACTS = dict(
    acme_lab_netns='acme-lab', acme_lab_state_dir='/s', acme_lab_cache_dir='/c',
    ansible_managed='managed', ansible_playbook_python='/v/bin/python',
    acme_lab_stranger_address='10.123.0.250', acme_lab_run_appliance=True,
    acme_lab_appliance_image='localhost/acme-appliance:lab', acme_lab_appliance_password='pa$$',
    acme_lab_cinder_cluster='acme-lab-cluster', acme_lab_default_log_levels=['amqp=WARN'],
    acme_lab_owner_backend='nfs-1', acme_lab_owner_share='owner-nfs-1',
    acme_lab_owner_share_size='40GiB', acme_lab_owner_state='/s/existing-cloud.json',
    acme_lab_acme_service='cinder-volume-acme',
    acme_lab_acme_log='/var/log/cinder/cinder-volume-acme.log',
    acme_lab_acme_conf='/etc/cinder/cinder-volume-acme.conf',
    lab_volume_guests_facts=GUESTS, lab_volume_guest_facts=dict(venv='/opt/cinder', user='cinder'),
    lab_compute_guest_facts=dict(hostname='acme-lab-compute', address='10.123.0.20',
                                 ssh_key='/s/guest/id_ed25519', known_hosts='/s/guest/kh',
                                 venv='/opt/brick'),
    lab_control_plane_facts=dict(
        address='10.123.0.1', transport_url='rabbit://u:p@10.123.0.1:5672/',
        database_connection='postgresql://c:p@10.123.0.1/cinder',
        api_url='http://10.123.0.1:8776', auth_strategy='keystone',
        keystone_url='http://10.123.0.1:5000/v3', region='RegionOne', cloud_name='acme-lab',
        clouds_yaml='/s/clouds.yaml', venv='/c/cinder-venv', cinder_conf='/s/control/c.conf',
        logs='/s/control/log',
        coordination_url='etcd3+http://10.123.0.1:2379?timeout=10',
        internal_project_id='p0', internal_user_id='u0'))


@pytest.fixture
def inventory(tmp_path: Path) -> LabInventory:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(to_json=json.dumps, bool=lambda value: str(value).lower() in ('true', '1'))
    text = env.from_string((REPO / 'lab' / 'inventory.yml.j2').read_text()).render(FACTS)
    (tmp_path / 'inventory.yml').write_text(text)
    return LabInventory.load(tmp_path)


def test_volume_hosts_carry_their_ssh_and_the_group_backends(inventory: LabInventory) -> None:
    hosts = inventory.volume_hosts
    assert [(g.name, g.address) for g in hosts.values()] == [
        ('acme-lab-volume-0', '10.123.0.10'), ('acme-lab-volume-1', '10.123.0.11')]
    guest = hosts['acme-lab-volume-1']
    assert guest.key == '/s/guest/id_ed25519'
    assert 'StrictHostKeyChecking=yes' in guest.ssh_args
    assert list(guest.backends) == ['acme-lab', 'acme-lab-gold']


def test_backends_in_order_with_their_settings(inventory: LabInventory) -> None:
    first, gold = inventory.backends
    assert (first.name, first.volume_type, first.pool, first.mount_base) == (
        'acme-lab', 'acme-lab', 'pool1', '/var/lib/cinder/mnt')
    assert first.options['nas_password'] == 'pa$$'
    assert first.options['image_volume_cache_enabled'] is True
    assert first.share_name('v1') == 'cinder-volume-v1'
    assert (gold.name, gold.pool) == ('acme-lab-gold', 'pool2')  # the first of acme_pools


def test_cluster_etcd_compute_appliance_controller(inventory: LabInventory) -> None:
    assert inventory.cloud == 'acme-lab'
    assert (inventory.acme_service, inventory.acme_log) == (
        'cinder-volume-acme', '/var/log/cinder/cinder-volume-acme.log')
    assert inventory.volume_vars['acme_cinder_conf_layout'] == 'service'
    assert inventory.cluster == 'acme-lab-cluster'
    assert inventory.etcd == 'http://10.123.0.1:2379'
    compute, python = inventory.compute
    assert (compute.name, compute.address, python) == (
        'acme-lab-compute', '10.123.0.20', '/opt/brick/bin/python')
    assert inventory.appliance['acme_appliance_name'] == 'acme-lab-appliance'
    assert inventory.controller['acme_lab_controller_venv'] == '/c/cinder-venv'
    assert inventory.supervisor_conf == inventory.state / 'control/etc/supervisord.conf'


def test_no_etcd_without_an_etcd_coordination_url(inventory: LabInventory) -> None:
    data = json.loads(json.dumps(inventory.data))
    data['all']['children']['cinder_volume']['vars']['acme_cinder_coordination_url'] = 'file:///x'
    assert LabInventory(inventory.state, data).etcd is None
