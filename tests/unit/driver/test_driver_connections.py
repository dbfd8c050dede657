"""Attaches and the mounts they imply on the cinder-volume host (issue 9).

A Nova compute node mounts the share itself: its attach mounts nothing here. A local
attach (backup, image, migration) is mounted by os-brick at the driver's mount point and
unmounted when Cinder ends the connection. What survives a restart or a detach handled
by another host of the cluster is judged again from /proc/mounts and Cinder's database.
"""

from __future__ import annotations

import logging
import threading

import pytest
from driver_helpers import HOST, MY_IP, assert_clean

from cinder import coordination, exception, objects
from cinder.db import api as db
from cinder.objects import fields

COMPUTE = {'ip': '10.0.0.50', 'host': 'compute-1', 'initiator': 'iqn.x', 'platform': 'x86_64'}
LOCAL = {'ip': MY_IP, 'host': HOST}


def rules(appliance, vol):
    return {r.clients: r for r in appliance.share_named(f'cinder-{vol.name}').nfs_rules}


def record(ctx, vol, status='available'):
    """The volume's row in Cinder's database."""
    if objects.Volume.exists(ctx, vol.id):
        db.volume_update(ctx, vol.id, {'status': status})
    else:
        default_type = db.volume_type_get_by_name(ctx, '__DEFAULT__')['id']
        db.volume_create(ctx, {'id': vol.id, 'size': vol.size, 'host': vol.host,
                               'volume_type_id': default_type,
                               'status': status, 'provider_location': vol.provider_location,
                               'provider_id': vol.provider_id})


def attach(ctx, vol, connector, status=fields.VolumeAttachStatus.ATTACHED):
    """The attachment Cinder records (and the volume row it belongs to)."""
    record(ctx, vol, 'in-use')
    attachment = objects.VolumeAttachment(
        ctx, volume_id=vol.id, attached_host=connector['host'], attach_status=status,
        connector=connector, attach_mode='rw')
    attachment.create()
    vol.volume_attachment = objects.VolumeAttachmentList.get_all_by_volume_id(ctx, vol.id)
    return attachment


def os_brick_mounts(driver, vol):
    """What os-brick's NFS connector does on this host for a local attach."""
    driver._remotefsclient.mount(vol.provider_location)
    return driver._mounts.mount_point(vol.provider_location)


# -- Nova attaches: nothing mounted on the volume host ---------------------------------------
def test_attach_from_a_compute_host_mounts_nothing_on_the_volume_host(driver, appliance, volume):
    vol = volume()
    mounts = driver._remotefsclient
    mounts.mount_calls.clear()

    driver.create_export(None, vol, COMPUTE)
    info = driver.initialize_connection(vol, COMPUTE)

    assert info['data']['export'] == vol.provider_location
    assert COMPUTE['ip'] in rules(appliance, vol)
    assert mounts.mount_calls == [] and mounts.table == {}

    assert driver.terminate_connection(vol, COMPUTE) is False
    driver.remove_export(None, vol)
    assert COMPUTE['ip'] not in rules(appliance, vol)
    assert mounts.mount_calls == []
    assert_clean(driver, appliance, shares=1)


@pytest.mark.parametrize('secure', [True, False])
def test_rules_follow_secure_mode_root_squash(make_driver, appliance, volume, secure):
    drv = make_driver(nas_secure_file_operations=str(secure).lower())
    vol = volume(drv=drv)
    drv.initialize_connection(vol, COMPUTE)
    assert {ip: r.root_squash for ip, r in rules(appliance, vol).items()} == {
        MY_IP: secure, COMPUTE['ip']: secure}


OTHER_CINDER_HOST = {'ip': '10.0.0.6', 'host': 'cv2'}  # a generic NFS or other backend's host


@pytest.mark.parametrize('connector', [LOCAL, OTHER_CINDER_HOST], ids=['local', 'other-host'])
@pytest.mark.parametrize('migration_status', ['migrating', 'target:{id}'],
                         ids=['source', 'destination'])
def test_a_migration_copy_may_write_as_root_in_secure_mode_and_root_is_squashed_after(
        make_driver, appliance, volume, connector, migration_status):
    """Cinder's host-assisted migration copies with dd as root (volume_utils.copy_volume):
    on the cinder-owned 0660 file of secure NAS mode a root-squashed rule refused it, so a
    volume could not be migrated to or from this backend (nor between its pools)."""
    drv = make_driver(nas_secure_file_operations='true')
    vol = volume(drv=drv)
    vol.migration_status = migration_status.format(id=vol.id)
    drv.initialize_connection(vol, connector)
    assert rules(appliance, vol)[connector['ip']].root_squash is False
    drv.terminate_connection(vol, connector)
    after = {ip: rule.root_squash for ip, rule in rules(appliance, vol).items()}
    assert after == {MY_IP: True}  # this host's own rule squashed again, the other one gone


def test_terminate_keeps_the_rule_while_another_attachment_of_that_host_remains(
        driver, appliance, volume, ctx):
    vol = volume()
    driver.initialize_connection(vol, COMPUTE)
    attach(ctx, vol, COMPUTE)
    attach(ctx, vol, COMPUTE)
    assert driver.terminate_connection(vol, COMPUTE) is True
    assert COMPUTE['ip'] in rules(appliance, vol)


@pytest.mark.parametrize('status', [fields.VolumeAttachStatus.RESERVED,
                                    fields.VolumeAttachStatus.ATTACHING])
def test_detach_keeps_the_rule_another_not_yet_detached_attachment_of_that_host_needs(
        driver, appliance, volume, ctx, status):
    vol = volume()
    driver.initialize_connection(vol, COMPUTE)
    attach(ctx, vol, COMPUTE)
    attach(ctx, vol, COMPUTE, status=status)  # a second server on that host, being attached
    assert driver.terminate_connection(vol, COMPUTE) is True
    assert COMPUTE['ip'] in rules(appliance, vol)


def test_force_detach_keeps_the_rules_of_the_remaining_attachments(
        driver, appliance, volume, ctx):
    vol = volume()
    gone = {'ip': '10.0.0.52', 'host': 'compute-3'}
    for connector in (COMPUTE, gone):
        driver.initialize_connection(vol, connector)
    attach(ctx, vol, COMPUTE)
    attach(ctx, vol, gone, status=fields.VolumeAttachStatus.DETACHED)
    assert driver.terminate_connection(vol, None) is False
    assert set(rules(appliance, vol)) == {MY_IP, COMPUTE['ip']}


@pytest.mark.parametrize('connector', [{}, {'host': 'compute-1'}, {'ip': None}, None])
def test_validate_connector_without_an_address_is_an_invalid_connector(driver, connector):
    with pytest.raises(exception.InvalidConnectorException, match='ip'):
        driver.validate_connector(connector)
    driver.validate_connector(COMPUTE)


def test_force_detach_leaves_only_this_host(driver, appliance, volume):
    vol = volume()
    driver.initialize_connection(vol, COMPUTE)
    driver.initialize_connection(vol, {'ip': '10.0.0.51', 'host': 'compute-2'})
    driver.terminate_connection(vol, None)
    assert set(rules(appliance, vol)) == {MY_IP}


def test_concurrent_attaches_of_one_share_lose_no_rule(driver, appliance, volume):
    """The share's lock serialises read-modify-write of its rules."""
    vol = volume()
    ips = [f'10.0.1.{n}' for n in range(1, 9)]
    threads = [threading.Thread(target=driver.initialize_connection,
                                args=(vol, {'ip': ip, 'host': f'c{ip}'})) for ip in ips]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(rules(appliance, vol)) == {MY_IP, *ips}


def test_an_attach_waits_for_the_share_lock_and_logs_the_wait(
        driver, appliance, volume, caplog):
    """Another holder of the share's lock (another host of a cluster) makes the attach wait."""
    vol = volume()
    name = f'acme-share-{vol.provider_id}'
    attach = threading.Thread(target=driver.initialize_connection, args=(vol, COMPUTE))
    with caplog.at_level(logging.DEBUG, logger='acme_cinder'):
        with coordination.COORDINATOR.get_lock(name):
            attach.start()
            attach.join(timeout=1)
            assert attach.is_alive() and COMPUTE['ip'] not in rules(appliance, vol)
        attach.join()
    assert COMPUTE['ip'] in rules(appliance, vol)
    waits = [r.getMessage() for r in caplog.records if f'Lock "{name}" acquired' in r.getMessage()]
    assert len(waits) == 1 and ':: waited ' in waits[0]
    assert any(f'Lock "{name}" released :: held ' in r.getMessage() for r in caplog.records)


# -- local attaches: os-brick mounts, remove_export unmounts ----------------------------------
def test_local_attach_is_unmounted_when_cinder_ends_the_connection(driver, appliance, volume):
    vol = volume()
    driver.create_export(None, vol, LOCAL)
    driver.initialize_connection(vol, LOCAL)
    path = os_brick_mounts(driver, vol)
    assert path in driver._remotefsclient.table

    driver.terminate_connection(vol, LOCAL)
    driver.remove_export(None, vol)
    assert_clean(driver, appliance, shares=1)


def test_driver_operation_leaves_a_local_attach_mount_alone(driver, appliance, volume):
    vol = volume()
    path = os_brick_mounts(driver, vol)
    driver.extend_volume(vol, 2)
    assert path in driver._remotefsclient.table  # still the backup's / the copy's
    driver.remove_export(None, vol)
    assert_clean(driver, appliance, shares=1)


def test_remove_export_never_fails_a_detach_when_the_unmount_fails(driver, appliance, volume,
                                                                   caplog):
    vol = volume()
    os_brick_mounts(driver, vol)
    driver._remotefsclient.fail_umounts = 10
    with caplog.at_level(logging.WARNING):
        driver.remove_export(None, vol)
    assert 'stays mounted on this host until the next reconcile' in caplog.text


def test_delete_of_a_volume_whose_share_is_busy_here_is_volume_is_busy(driver, appliance,
                                                                       volume):
    from cinder import exception
    vol = volume()
    os_brick_mounts(driver, vol)
    driver._remotefsclient.fail_umounts = 10
    with pytest.raises(exception.VolumeIsBusy):
        driver.delete_volume(vol)
    assert len(appliance.shares()) == 1


# -- restarts and active-active: judged from /proc/mounts and Cinder's database ---------------
def test_restart_removes_every_mount_no_local_user_needs_and_says_so(
        make_driver, appliance, volume, ctx, caplog):
    driver = make_driver()
    in_use_here, backing_up, forgotten = volume(), volume(), volume()
    attach(ctx, in_use_here, LOCAL)
    record(ctx, backing_up, 'backing-up')
    kept = {os_brick_mounts(driver, in_use_here), os_brick_mounts(driver, backing_up)}
    gone = os_brick_mounts(driver, forgotten)  # left by a crashed cinder-volume

    with caplog.at_level(logging.INFO):
        driver.do_setup(ctx)  # the restarted service

    assert set(driver._remotefsclient.table) == kept
    assert f'Unmounted {gone}' in caplog.text and 'no local user' in caplog.text


def test_detach_handled_by_another_cluster_host_leaves_no_mount_on_the_attaching_host(
        make_driver, appliance, tmp_path, volume, ctx):
    host1 = make_driver()
    host2 = make_driver(my_ip='10.0.0.6', base=tmp_path / 'mnt2')
    vol = volume(drv=host1)
    attachment = attach(ctx, vol, LOCAL)
    host1.initialize_connection(vol, LOCAL)
    os_brick_mounts(host1, vol)

    host1.get_volume_stats(refresh=True)  # still attached: the mount stays
    assert host1._remotefsclient.table

    host2.terminate_connection(vol, LOCAL)  # the detach lands on host 2
    host2.remove_export(None, vol)
    attachment.destroy()

    host1.get_volume_stats(refresh=True)  # host 1's periodic task
    assert host1._remotefsclient.table == {} and host2._remotefsclient.table == {}


def test_reconcile_at_rest_reads_no_database_and_calls_no_appliance(driver, appliance,
                                                                    monkeypatch):
    from acme_cinder import local_users

    def fail(_context):
        raise AssertionError('database read although nothing is mounted')
    monkeypatch.setattr(local_users, 'needed_exports', fail)
    appliance.calls.clear()
    assert driver._reconcile_mounts(None) == []
    assert appliance.calls == []


def test_export_follows_a_changed_data_address_for_compute_nodes_mounts_and_reconcile(
        make_driver, appliance, volume, ctx):
    """The appliance's data address changed and acme_nfs_address with it: Cinder keeps the
    stored provider_location (update_provider_info can only change provider_id), so the driver
    derives the export from it at use, everywhere alike (issue 20)."""
    vol = volume(drv=make_driver())
    moved = make_driver(acme_nfs_address='127.0.0.2')
    export = moved.initialize_connection(vol, LOCAL)['data']['export']
    assert export == '127.0.0.2:' + vol.provider_location.split(':', 1)[1]
    moved.extend_volume(vol, 2)  # its own mount, at the new export, ended
    assert moved._remotefsclient.table == {}
    record(ctx, vol, 'backing-up')  # a local attach (backup) through the new export
    moved._remotefsclient.mount(export)
    moved.get_volume_stats(refresh=True)
    assert set(moved._remotefsclient.table.values()) == {export}  # still needed: kept
    record(ctx, vol, 'available')
    moved.remove_export(ctx, vol)
    assert_clean(moved, appliance, shares=1)
