"""Verify of lab/molecule/default on the controller: the appliance, Cinder's API and its backend.

Runs inside the lab namespace (lab/molecule/default/bin/pytest), where the lab addresses are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

testinfra_hosts = ['ansible://controller']

BACKEND = 'acme-lab'


@pytest.fixture(scope='module')
def lab(host):
    return host.ansible.get_variables()


def openstack(host, lab, *args: str):
    """The operator's client (the project venv's, like this pytest) with the lab's clouds.yaml."""
    cmd = host.run('OS_CLIENT_CONFIG_FILE=%s %s --os-cloud %s ' + ' '.join(['%s'] * len(args))
                   + ' -f json', lab['acme_clouds_yaml'],
                   str(Path(sys.executable).parent / 'openstack'), lab['acme_cloud'], *args)
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)


def appliance_shares(host, lab, monkeypatch) -> list[dict]:
    """acme_share_info against the lab appliance (the password from the inventory, passed in
    the environment, never on a command line)."""
    monkeypatch.setenv('ACME_URL', f"https://{lab['acme_lab_bridge_address']}:8443")
    monkeypatch.setenv('ACME_USERNAME', lab.get('acme_appliance_admin_user', 'admin'))
    monkeypatch.setenv('ACME_PASSWORD', lab['acme_appliance_admin_password'])
    monkeypatch.setenv('ACME_CA_PATH', lab['acme_appliance_ca_export'])
    return host.ansible('acme.nas.acme_share_info', 'pool=pool1', check=False)['shares']


def volume_host_addresses(host) -> set[str]:
    runner = host.backend.ansible_runner
    return {runner.get_variables(name)['ansible_host']
            for name in runner.get_hosts('cinder_volume')}


def test_appliance_container_runs(host):
    assert host.podman('acme-lab-appliance').is_running


def test_appliance_api_is_healthy(host, lab):
    health = host.run('curl -sf --cacert %s https://%s:8443/health',
                      lab['acme_appliance_ca_export'], lab['acme_lab_bridge_address'])
    assert health.rc == 0, health.stderr


def test_cinder_api_is_healthy_and_the_backend_is_up(host, lab):
    services = openstack(host, lab, 'volume', 'service', 'list', '--service', 'cinder-volume')
    backends = [s for s in services if s['Host'].endswith(f'@{BACKEND}')]
    assert backends, f'no cinder-volume service for {BACKEND}: {services}'
    assert all(s['State'] == 'up' and s['Status'] == 'enabled' for s in backends), backends


def test_appliance_exports_exactly_the_shares_of_cinders_volumes(host, lab, monkeypatch):
    """One exported share per Cinder volume of the ACME backends (cinder-volume-<id>), nothing
    else; a volume that is not attached is exported to the volume hosts only. (The generic NFS
    backend's volumes are files in one share of the cloud's admin.)"""
    volumes = [v for v in openstack(host, lab, 'volume', 'list', '--all-projects', '--long')
               if v['Type'] != lab['acme_lab_owner_backend']]
    shares = {s['name']: s for s in appliance_shares(host, lab, monkeypatch)
              if s['name'].startswith('cinder-volume-')}
    assert set(shares) == {f"cinder-volume-{v['ID']}" for v in volumes}
    volume_hosts = volume_host_addresses(host)
    for volume in volumes:
        share = shares[f"cinder-volume-{volume['ID']}"]
        assert share['nfs']['enabled'], f"{share['name']} is not exported"
        if volume['Status'] == 'available':
            clients = {rule['clients'] for rule in share['nfs']['rules']}
            assert clients <= volume_hosts, (share['name'], clients, volume_hosts)
