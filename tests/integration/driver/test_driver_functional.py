"""The real driver against the real simulator over HTTPS, with real files and mounts.

Only `mount -t nfs` is replaced by a bind mount (see conftest); hence *_bindmount names.
"""

from __future__ import annotations

import os
import stat

import pytest
from acme_functional import MY_IP, mounts_under

from tests.support.cinder_driver import read, volume_file, write

from cinder import exception

GIB, MIB = 1024**3, 1024**2
# A volume's share quota: its size plus 1 % (acme_share_quota_headroom), in whole MiB.
QUOTA = {2: 2069 * MIB, 3: 3103 * MIB}


def appliance_is_empty(appliance):
    client = appliance.client()
    shares = client.shares.list()
    snapshots = [s for share in shares for s in client.snapshots.list(share['id'])]
    return shares == [] and snapshots == []


def count_calls(driver):
    """The driver's own REST calls from now on (logins aside): the bind mount's access check
    calls the appliance too."""
    calls = []
    send = driver.client.http._send

    def counting(method, path, *args, **kwargs):
        if path != '/auth/login':
            calls.append((method, path))
        return send(method, path, *args, **kwargs)

    driver.client.http._send = counting
    return calls


def test_create_volume_sparse_660_and_nothing_mounted_bindmount(driver, appliance, base,
                                                                new_volume, bind_mounts):
    calls = count_calls(driver)
    vol = new_volume(size=2)
    vol.update(driver.create_volume(vol))
    assert calls == [('POST', '/shares')]
    assert vol.provider_location == f'127.0.0.1:/pool1/cinder-{vol.name}'
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 2 * GIB and info.st_blocks == 0
    assert stat.S_IMODE(info.st_mode) == 0o660
    # the mount point os-brick computes for the export, mounted only during the call
    (export, mount_path, _options, _flags), = bind_mounts
    assert export == vol.provider_location
    assert mount_path == driver._remotefsclient.get_mount_point(vol.provider_location)
    assert mount_path.startswith(str(base)) and mounts_under(base) == []
    share = appliance.client().shares.get(vol.provider_id)
    assert share['quota_bytes'] == QUOTA[2]
    assert share['nfs']['rules'] == [{'clients': MY_IP, 'access': 'rw', 'root_squash': False}]


def test_thick_volume_is_allocated_bindmount(make_driver, appliance, base, volume):
    drv = make_driver(nfs_sparsed_volumes=False, nas_secure_file_permissions='false')
    vol = volume(drv=drv)
    info = os.stat(volume_file(appliance, vol))
    assert info.st_blocks * 512 >= GIB
    assert stat.S_IMODE(info.st_mode) == 0o666
    assert mounts_under(base) == []


def test_clone_of_snapshot_has_snapshot_data_and_new_name_bindmount(driver, appliance, base,
                                                                    volume, snapshot,
                                                                    new_volume):
    src = volume()
    write(appliance, src, b'snapshot data')
    snap = snapshot(src)
    write(appliance, src, b'changed later')
    vol = new_volume(size=2)
    calls = count_calls(driver)
    vol.update(driver.create_volume_from_snapshot(vol, snap))
    # the snapshot's used bytes: the clone's quota may not be below them
    assert calls == [('GET', f'/snapshots/{snap.provider_id}'), ('POST', '/shares')]
    assert os.listdir(appliance.share_dir(vol.provider_id)) == [vol.name]
    assert read(appliance, vol, 13) == b'snapshot data'
    assert os.stat(volume_file(appliance, vol)).st_size == 2 * GIB
    assert mounts_under(base) == []


def test_extend_and_revert_bindmount(driver, appliance, base, volume, snapshot, ctx):
    vol = volume()
    write(appliance, vol, b'v1')
    first = snapshot(vol)
    write(appliance, vol, b'v2')
    driver.revert_to_snapshot(ctx, vol, first)  # appliance rollback
    assert read(appliance, vol, 2) == b'v1'
    write(appliance, vol, b'v3')
    snapshot(vol)
    driver.revert_to_snapshot(ctx, vol, first)  # newer snapshot exists: file-level
    assert read(appliance, vol, 2) == b'v1'
    assert len(appliance.client().snapshots.list(vol.provider_id)) == 2
    driver.extend_volume(vol, 3)
    assert os.stat(volume_file(appliance, vol)).st_size == 3 * GIB
    assert appliance.client().shares.get(vol.provider_id)['quota_bytes'] == QUOTA[3]
    assert len(appliance.client().shares.list()) == 1
    assert mounts_under(base) == []


def test_generic_attach_path_reuses_the_mount_point_bindmount(driver, appliance, base, volume,
                                                              ctx):
    """Cinder's own os-brick attach (image copy, backup, host-assisted migration/retype)."""
    vol = volume()
    # what brick_get_connector_properties returns for this host, minus the iSCSI/NVMe parts
    # (their probes need privsep helpers this lab does not install)
    properties = {'ip': MY_IP, 'host': 'cv1', 'multipath': False, 'enforce_multipath': False,
                  'os_type': 'linux', 'platform': 'x86_64'}
    attach_info, vol = driver._attach_volume(ctx, vol, properties)
    path = attach_info['device']['path']
    assert path == os.path.join(driver._remotefsclient.get_mount_point(vol.provider_location),
                                vol.name)
    assert mounts_under(base) == [os.path.dirname(path)]
    with open(path, 'r+b') as f:
        f.write(b'via os-brick')
    driver._detach_volume(ctx, attach_info, vol, properties, force=True)
    assert mounts_under(base) == []
    assert read(appliance, vol, 12) == b'via os-brick'


def test_export_to_compute_host_and_back_bindmount(driver, appliance, base, volume, ctx):
    vol = volume()
    connector = {'ip': '127.0.0.2', 'host': 'compute1'}
    driver.create_export(ctx, vol, connector)
    info = driver.initialize_connection(vol, connector)
    assert info['mount_point_base'] == str(base)
    assert info['data'] == {'export': vol.provider_location, 'name': vol.name,
                            'options': '-o vers=3,proto=tcp'}
    rules = appliance.client().shares.get_nfs(vol.provider_id)['rules']
    assert {r['clients'] for r in rules} == {MY_IP, '127.0.0.2'}
    assert mounts_under(base) == []  # the compute host mounts the share itself
    assert driver.terminate_connection(vol, connector) is False
    driver.remove_export(ctx, vol)
    rules = appliance.client().shares.get_nfs(vol.provider_id)['rules']
    assert [r['clients'] for r in rules] == [MY_IP]
    assert mounts_under(base) == []


def test_mount_failure_cleans_up_bindmount(driver, appliance, base, new_volume, monkeypatch):
    from os_brick.remotefs import remotefs

    def refuse(self, *args, **kwargs):
        raise RuntimeError('mount.nfs: access denied by server')

    monkeypatch.setattr(remotefs.RemoteFsClient, '_do_mount', refuse)
    monkeypatch.setattr('acme_cinder.mounts.time.sleep', lambda s: None)
    with pytest.raises(exception.VolumeBackendAPIException, match='access denied'):
        driver.create_volume(new_volume())
    assert appliance_is_empty(appliance) and mounts_under(base) == []
