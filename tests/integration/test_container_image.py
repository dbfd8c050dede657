"""The appliance container image: built offline, started by appliance/run, reached on
loopback through published ports (HTTPS API with the generated CA, NFS v3/v4 via libnfs).

Inside the container ganesha sees clients coming through podman's bridge (10.88.0.1), not
as 127.0.0.1, so the share here is exported to "*"; per-client rules need the lab network
(`appliance/run start --network ns:/run/netns/LAB`).
"""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.integration.conftest import (
    REPO, NfsClient, command_lines_with, exported, require_tools, rule)

pytestmark = [pytest.mark.integration, pytest.mark.container]

BUILD = REPO / 'appliance' / 'container' / 'build'
NFS_PORT, MNT_PORT, NLM_PORT = 13049, 13048, 13803


def containers_for(state_dir) -> list[str]:
    result = subprocess.run(['podman', 'ps', '-a', '-q', '--filter',
                             f'label=acme.appliance.state={state_dir}'],
                            capture_output=True, text=True, check=True)
    return result.stdout.split()


@pytest.fixture(scope='module')
def image():
    require_tools('podman', 'runc', 'debootstrap', 'nfs-ls', 'nfs-cp')
    result = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=1800,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope='module')
def appliance(image, appliance_factory):
    return appliance_factory('--nfs-port', str(NFS_PORT), '--mnt-port', str(MNT_PORT),
                             '--nlm-port', str(NLM_PORT))


def test_health_over_https_with_generated_ca(appliance):
    reply = requests.get(f'{appliance.url}/health', verify=str(appliance.ca_path), timeout=10)
    assert reply.status_code == 200
    assert reply.json()['status'] == 'ok'
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f'{appliance.url}/health', verify=True, timeout=10)
    assert 'container' in appliance.output


def test_password_is_in_no_command_line_nor_container_args(appliance):
    container = containers_for(appliance.state_dir)[0]
    shown = subprocess.run(['podman', 'container', 'inspect', '--format',
                            '{{json .Path}} {{json .Args}} {{json .Config.Cmd}} '
                            '{{json .Config.Entrypoint}}', container],
                           capture_output=True, text=True, check=True).stdout
    assert 'supervise' in shown and appliance.password not in shown, shown
    # The container's processes are in this machine's /proc too.
    supervisors = [line for line in command_lines_with('acme_appliance.runner')
                   if 'supervise' in line and '/var/lib/acme' in line]
    assert supervisors
    assert command_lines_with(appliance.password) == []
    assert not (appliance.state_dir / 'appliance.env').exists()
    # ... and the API has it all the same (from ACME_APPLIANCE_USERS): the login works.
    assert appliance.call('GET', '/system', expect=200)


def test_ports_are_published_on_loopback_only(appliance):
    ports = subprocess.run(['podman', 'port', containers_for(appliance.state_dir)[0]],
                           capture_output=True, text=True, check=True).stdout
    published = [line.split('->')[1].strip() for line in ports.splitlines() if '->' in line]
    assert published and all(p.startswith('127.0.0.1:') for p in published), ports


def test_share_is_exported_through_published_ports(appliance, tmp_path):
    nfs = NfsClient('127.0.0.1', NFS_PORT, MNT_PORT)
    share = appliance.create_share('in-container', nfs=exported(rule('*', 'rw')))
    for version in (3, 4):
        local = tmp_path / f'v{version}.txt'
        local.write_text(f'v{version}\n')
        result = nfs.put(local, f'/pool1/in-container/v{version}.txt', version)
        assert result.returncode == 0, result.stderr
    for version in (3, 4):
        assert sorted(nfs.names('/pool1/in-container', version)) == ['v3.txt', 'v4.txt']
        assert nfs.cat('/pool1/in-container/v3.txt', version).stdout == 'v3\n'
    on_volume = appliance.state_dir / 'data' / 'shares' / share['id'] / 'v4.txt'
    assert on_volume.read_text() == 'v4\n'


def test_stop_leaves_no_container(appliance):
    assert containers_for(appliance.state_dir)
    result = appliance.stop()
    assert result.returncode == 0, result.stderr
    assert containers_for(appliance.state_dir) == []
