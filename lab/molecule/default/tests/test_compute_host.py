"""Verify of lab/molecule/default on the compute host (os-brick's NFS connector, no Cinder)."""

from __future__ import annotations

testinfra_hosts = ['ansible://nova_compute']


def test_os_brick_and_the_nfs_client_are_there(host):
    python = host.ansible.get_variables()['acme_brick_python']
    assert host.run('%s -c %s', python, 'import os_brick').rc == 0
    assert host.package('nfs-common').is_installed


def test_no_nfs_mount_at_rest(host):
    """None but the existing cloud's: its generic NFS share, mounted for the volume that
    lab/playbooks/existing_cloud.yml attached here before ACME came (and keeps attached)."""
    owner = host.ansible.get_variables()['acme_lab_owner_share']
    mounts = [line for line in host.file('/proc/mounts').content_string.splitlines()
              if line.split()[2].startswith('nfs')
              and line.split()[0].rsplit('/', 1)[-1] != owner]
    assert mounts == [], f'NFS mounted at rest on the compute host: {mounts}'
