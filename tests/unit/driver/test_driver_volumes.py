"""AcmeNfsDriver: setup, volumes, exports, connections, stats (unit, no services)."""

from __future__ import annotations

import logging
import os
import stat
import uuid

import pytest
from acme_fake import MY_IP, URL

from cinder import exception
from cinder.objects import fields

GIB = 1024**3


def volume_file(appliance, vol):
    return appliance.share_dir(vol.provider_id) / vol.name


def assert_clean(driver, appliance, shares=0, snapshots=0):
    """Nothing mounted; the appliance holds only what is expected."""
    assert driver._remotefsclient.table == {}
    assert len(appliance.shares) == shares
    assert len(appliance.snapshots) == snapshots


# -- setup -------------------------------------------------------------------------------
def test_setup_reaches_appliance_with_two_calls(make_driver, appliance):
    make_driver(setup=False).check_for_setup_error  # noqa: B018 - attribute exists
    drv = make_driver(setup=False)
    appliance.reset_calls()
    from cinder import context
    drv.do_setup(context.get_admin_context())
    drv.check_for_setup_error()
    assert appliance.api_calls() == [('GET', '/system'), ('GET', '/pools/pool1')]


@pytest.mark.parametrize('overrides, message', [
    ({'nas_password': 'wrong'}, "refused user 'admin'"),
    ({'acme_pool': 'nope'}, "pool 'nope' does not exist"),
    ({'acme_url': 'https://unreachable.test:8443'}, 'cannot reach the appliance'),
])
def test_setup_errors_give_one_clear_line(make_driver, appliance, caplog, overrides, message):
    drv = make_driver(setup=False, **overrides)
    from cinder import context
    drv.do_setup(context.get_admin_context())
    with caplog.at_level(logging.ERROR), pytest.raises(
            exception.VolumeBackendAPIException, match=message) as info:
        drv.check_for_setup_error()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and message in errors[0].getMessage()
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert 'wrong' not in caplog.text and 'not-the-real-one' not in caplog.text


def test_setup_error_is_logged_once_across_cinder_retries(make_driver, appliance, caplog):
    """Cinder re-runs do_setup + check_for_setup_error (reinit_driver_count) on one driver."""
    drv = make_driver(setup=False, nas_password='wrong')
    from cinder import context
    with caplog.at_level(logging.DEBUG):
        for _attempt in range(4):
            drv.do_setup(context.get_admin_context())
            with pytest.raises(exception.VolumeBackendAPIException):
                drv.check_for_setup_error()
    lines = [r for r in caplog.records if 'cannot start' in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR] + [logging.DEBUG] * 3
    assert 'wrong' not in caplog.text


@pytest.mark.parametrize('missing', ['acme_url', 'acme_pool', 'nas_user', 'nas_password'])
def test_missing_required_option_is_invalid_configuration(make_driver, missing):
    drv = make_driver(setup=False, **{missing: None if missing != 'nas_password' else ''})
    from cinder import context
    with pytest.raises(exception.InvalidConfigurationValue, match=missing):
        drv.do_setup(context.get_admin_context())


def test_invalid_nas_secure_value_is_rejected(make_driver):
    drv = make_driver(setup=False, nas_secure_file_operations='maybe')
    from cinder import context
    with pytest.raises(exception.InvalidConfigurationValue):
        drv.do_setup(context.get_admin_context())


def test_missing_ca_file_is_invalid_configuration(make_driver, tmp_path):
    drv = make_driver(setup=False, acme_ca_file=str(tmp_path / 'none.pem'))
    from cinder import context
    with pytest.raises(exception.InvalidConfigurationValue, match='acme_ca_file'):
        drv.do_setup(context.get_admin_context())


def test_ca_file_and_timeouts_reach_the_client(make_driver, tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    drv = make_driver(setup=False, acme_ca_file=str(ca), acme_connect_timeout=3.0,
                      acme_read_timeout=7.0, acme_retries=2)
    client = drv._make_client()
    assert client.http.verify == str(ca)
    assert client.http.timeout == (3.0, 7.0) and client.http.retries == 2
    drv = make_driver(setup=False, acme_tls_verify=False, acme_ca_file=str(ca))
    assert drv._make_client().http.verify is False


@pytest.mark.parametrize('option, is_new, expected_root', [
    ('auto', True, False), ('auto', False, True), ('true', False, False), ('false', True, True),
])
def test_nas_secure_file_operations_semantics(make_driver, option, is_new, expected_root):
    drv = make_driver(setup=False, nas_secure_file_operations=option,
                      nas_secure_file_permissions='auto')
    drv.set_nas_security_options(is_new)
    assert drv._execute_as_root is expected_root
    assert drv.secure_file_operations_enabled() is (not expected_root)
    if option == 'auto' and is_new:
        assert os.path.isfile(os.path.join(drv.base, '.cinderSecureEnvIndicator'))


def test_nothing_is_mounted_at_rest(make_driver, appliance, volume):
    drv = make_driver()
    assert drv._remotefsclient.mount_calls == []
    volume()
    drv.get_volume_stats(refresh=True)
    assert drv._remotefsclient.table == {}


# -- create ------------------------------------------------------------------------------
def test_create_volume_one_call_sparse_file_660_and_unmounted(driver, appliance, new_volume):
    vol = new_volume(size=2)
    update = driver.create_volume(vol)
    assert appliance.api_calls() == [('POST', '/shares')]
    share = appliance.shares[update['provider_id']]
    assert share['name'] == 'cinder-' + vol.name
    assert share['quota_bytes'] == 2 * GIB
    assert share['nfs']['rules'] == [{'clients': MY_IP, 'access': 'rw', 'root_squash': False}]
    assert update['provider_location'] == f"192.0.2.10:/pool1/cinder-{vol.name}"
    vol.update(update)
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 2 * GIB and info.st_blocks == 0
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert_clean(driver, appliance, shares=1)


def test_create_volume_open_permissions_when_not_secure(make_driver, appliance, new_volume):
    drv = make_driver(nas_secure_file_permissions='false')
    vol = new_volume()
    vol.update(drv.create_volume(vol))
    assert stat.S_IMODE(os.stat(volume_file(appliance, vol)).st_mode) == 0o666


def test_create_volume_thick_is_fully_allocated(make_driver, appliance, new_volume):
    drv = make_driver(nfs_sparsed_volumes=False)
    vol = new_volume()
    vol.update(drv.create_volume(vol))
    info = os.stat(volume_file(appliance, vol))
    assert info.st_blocks * 512 >= GIB


def test_nfs_address_overrides_export_address(make_driver, new_volume):
    drv = make_driver(acme_nfs_address='198.51.100.7')
    update = drv.create_volume(new_volume())
    assert update['provider_location'].startswith('198.51.100.7:/pool1/cinder-volume-')


def test_create_volume_custom_prefix(make_driver, appliance, new_volume):
    drv = make_driver(acme_share_prefix='os-')
    vol = new_volume()
    update = drv.create_volume(vol)
    assert appliance.shares[update['provider_id']]['name'] == 'os-' + vol.name


@pytest.mark.parametrize('step', ['POST', 'mount', 'truncate', 'chmod'])
def test_create_volume_failure_cleans_up(driver, appliance, new_volume, step):
    if step == 'POST':
        appliance.fail('POST', '/shares', status=507, code='NO_SPACE')
    elif step == 'mount':
        driver._remotefsclient.fail_mounts = 99
    else:
        driver._execute.fail(step)
    with pytest.raises(exception.VolumeBackendAPIException, match='cannot create volume'):
        driver.create_volume(new_volume())
    assert_clean(driver, appliance)


def test_create_volume_failure_when_delete_also_fails_reports_original(driver, appliance,
                                                                       new_volume):
    driver._execute.fail('truncate')
    appliance.fail('DELETE', '/shares/.*', times=9)
    with pytest.raises(exception.VolumeBackendAPIException, match='injected'):
        driver.create_volume(new_volume())
    assert driver._remotefsclient.table == {}


def test_create_volume_dropped_response_is_adopted(driver, appliance, new_volume, monkeypatch):
    """A POST whose answer was lost is repeated and the existing share adopted."""
    driver.client.http.retries = 1
    monkeypatch.setattr('acme_cinder.acme_client._retry_delay', lambda *a: 0)
    appliance.fail('POST', '/shares', status=503, code='BUSY')
    vol = new_volume()
    update = driver.create_volume(vol)
    assert update['provider_id'] in appliance.shares


def test_encrypted_volume_is_refused(driver, new_volume, appliance):
    with pytest.raises(exception.VolumeDriverException):
        driver.create_volume(new_volume(encryption_key_id='b6e1e0f8-4c3a-4b0e-9f1e-1c2d3e4f5a6b'))
    assert_clean(driver, appliance)


# -- delete ------------------------------------------------------------------------------
def test_delete_volume_unmounts_and_deletes(driver, appliance, volume, ctx):
    vol = volume()
    driver.create_export(ctx, vol, {})
    appliance.reset_calls()
    driver.delete_volume(vol)
    assert appliance.api_calls() == [('GET', f'/shares/{vol.provider_id}'),
                                     ('DELETE', f'/shares/{vol.provider_id}')]
    assert_clean(driver, appliance)


def test_delete_volume_already_gone_is_success(driver, appliance, volume):
    vol = volume()
    del appliance.shares[vol.provider_id]
    driver.delete_volume(vol)
    driver.delete_volume(vol)


def test_delete_volume_without_provider_fields_finds_share_by_name(driver, appliance, volume):
    vol = volume()
    vol.provider_id = None
    driver.delete_volume(vol)
    assert_clean(driver, appliance)
    driver.delete_volume(vol)  # nothing left: still success


def test_delete_volume_with_leftover_snapshots(driver, appliance, volume, snapshot):
    vol = volume()
    snapshot(vol)
    driver.delete_volume(vol)
    assert_clean(driver, appliance)


def test_delete_volume_busy_while_an_operation_has_it_mounted(driver, appliance, volume):
    vol = volume()
    with driver._mounted(vol), pytest.raises(exception.VolumeIsBusy):
        driver.delete_volume(vol)
    assert len(appliance.shares) == 1


def test_delete_volume_appliance_failure_is_reported(driver, appliance, volume):
    vol = volume()
    appliance.fail('DELETE', '/shares/.*', status=500)
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.delete_volume(vol)
    driver.delete_volume(vol)
    assert_clean(driver, appliance)


# -- exports and connections ---------------------------------------------------------------
def test_create_export_mounts_remove_export_unmounts(driver, appliance, volume, ctx):
    vol = volume()
    driver.create_export(ctx, vol, {'ip': '10.0.0.9'})
    driver.ensure_export(ctx, vol)
    mount_point = driver._mounts.mount_point(vol.provider_location)
    assert driver._remotefsclient.table == {mount_point: vol.provider_location}
    assert driver.local_path(vol) == os.path.join(mount_point, vol.name)
    assert os.path.isfile(driver.local_path(vol))
    driver.remove_export(ctx, vol)
    assert_clean(driver, appliance, shares=1)


def test_export_grants_this_host_when_missing(driver, appliance, volume, ctx):
    """Active-active: a host refused by the share adds its own rule, then mounts."""
    vol = volume()
    appliance.shares[vol.provider_id]['nfs']['rules'] = []
    appliance.reset_calls()
    driver.create_export(ctx, vol, {})
    assert appliance.api_calls() == [('GET', f'/shares/{vol.provider_id}/nfs'),
                                     ('PUT', f'/shares/{vol.provider_id}/nfs')]
    assert appliance.shares[vol.provider_id]['nfs']['rules'][0]['clients'] == MY_IP
    driver.remove_export(ctx, vol)


def test_initialize_connection(driver, appliance, volume):
    vol = volume()
    appliance.reset_calls()
    info = driver.initialize_connection(vol, {'ip': '10.0.0.9', 'host': 'compute1'})
    assert info == {
        'driver_volume_type': 'nfs',
        'data': {'export': vol.provider_location, 'name': vol.name,
                 'options': '-o vers=3,proto=tcp'},
        'mount_point_base': driver.base,
    }
    clients = [r['clients'] for r in appliance.shares[vol.provider_id]['nfs']['rules']]
    assert clients == [MY_IP, '10.0.0.9']
    assert appliance.api_calls() == [('GET', f'/shares/{vol.provider_id}/nfs'),
                                     ('PUT', f'/shares/{vol.provider_id}/nfs')]
    driver.initialize_connection(vol, {'ip': '10.0.0.9', 'host': 'compute1'})
    assert len(appliance.shares[vol.provider_id]['nfs']['rules']) == 2
    assert driver._remotefsclient.table == {}


def test_mount_options_come_from_nfs_mount_options(make_driver, volume):
    drv = make_driver(nfs_mount_options='vers=4.1,noac')
    vol = volume()
    assert drv.initialize_connection(vol, {})['data']['options'] == '-o vers=4.1,noac'


def attachment(ctx, vol, ip, host, status=fields.VolumeAttachStatus.ATTACHED):
    from cinder import objects
    att = objects.VolumeAttachment(context=ctx, id=str(uuid.uuid4()), volume_id=vol.id,
                                   attach_status=status, attached_host=host,
                                   connector={'ip': ip, 'host': host})
    return att


def test_terminate_connection_revokes_when_no_attachment_needs_it(driver, appliance, volume,
                                                                  ctx):
    from cinder import objects
    vol = volume()
    connector = {'ip': '10.0.0.9', 'host': 'compute1'}
    driver.initialize_connection(vol, connector)
    vol.volume_attachment = objects.VolumeAttachmentList(
        objects=[attachment(ctx, vol, '10.0.0.9', 'compute1')])
    assert driver.terminate_connection(vol, connector) is False
    clients = [r['clients'] for r in appliance.shares[vol.provider_id]['nfs']['rules']]
    assert clients == [MY_IP]


def test_terminate_connection_multiattach_same_host_keeps_access(driver, appliance, volume, ctx):
    from cinder import objects
    vol = volume()
    connector = {'ip': '10.0.0.9', 'host': 'compute1'}
    driver.initialize_connection(vol, connector)
    vol.volume_attachment = objects.VolumeAttachmentList(objects=[
        attachment(ctx, vol, '10.0.0.9', 'compute1'),
        attachment(ctx, vol, '10.0.0.9', 'compute1')])
    assert driver.terminate_connection(vol, connector) is True
    assert len(appliance.shares[vol.provider_id]['nfs']['rules']) == 2


def test_terminate_connection_other_host_attached_revokes_this_one(driver, appliance, volume,
                                                                   ctx):
    from cinder import objects
    vol = volume()
    for ip in ('10.0.0.9', '10.0.0.10'):
        driver.initialize_connection(vol, {'ip': ip})
    vol.volume_attachment = objects.VolumeAttachmentList(objects=[
        attachment(ctx, vol, '10.0.0.9', 'compute1'),
        attachment(ctx, vol, '10.0.0.10', 'compute2')])
    assert driver.terminate_connection(vol, {'ip': '10.0.0.9', 'host': 'compute1'}) is True
    clients = [r['clients'] for r in appliance.shares[vol.provider_id]['nfs']['rules']]
    assert clients == [MY_IP, '10.0.0.10']


def test_terminate_connection_never_revokes_this_host(driver, appliance, volume):
    vol = volume()
    driver.initialize_connection(vol, {'ip': MY_IP})
    appliance.reset_calls()
    assert driver.terminate_connection(vol, {'ip': MY_IP}) is False
    assert appliance.api_calls() == []


def test_force_detach_without_connector_keeps_only_this_host(driver, appliance, volume):
    vol = volume()
    driver.initialize_connection(vol, {'ip': '10.0.0.9'})
    driver.terminate_connection(vol, None, force=True)
    assert [r['clients'] for r in appliance.shares[vol.provider_id]['nfs']['rules']] == [MY_IP]


def test_initialize_connection_failure_is_backend_error(driver, appliance, volume):
    vol = volume()
    appliance.fail('PUT', '/shares/.*/nfs')
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.initialize_connection(vol, {'ip': '10.0.0.9'})


# -- extend ------------------------------------------------------------------------------
def test_extend_volume_quota_and_sparse_file(driver, appliance, volume):
    vol = volume()
    driver.extend_volume(vol, 3)
    assert appliance.shares[vol.provider_id]['quota_bytes'] == 3 * GIB
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 3 * GIB and info.st_blocks == 0
    assert_clean(driver, appliance, shares=1)


def test_extend_volume_thick(make_driver, appliance, volume, new_volume):
    drv = make_driver(nfs_sparsed_volumes=False)
    vol = new_volume()
    vol.update(drv.create_volume(vol))
    drv.extend_volume(vol, 2)
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 2 * GIB and info.st_blocks * 512 >= 2 * GIB


def test_extend_attached_volume_is_refused(driver, appliance, volume):
    vol = volume()
    vol.attach_status = fields.VolumeAttachStatus.ATTACHED
    with pytest.raises(exception.ExtendVolumeError):
        driver.extend_volume(vol, 2)
    assert appliance.shares[vol.provider_id]['quota_bytes'] == GIB


@pytest.mark.parametrize('failure', ['PATCH', 'mount', 'truncate'])
def test_extend_failure_keeps_size_and_unmounts(driver, appliance, volume, failure):
    vol = volume()
    if failure == 'PATCH':
        appliance.fail('PATCH', '/shares/.*')
    elif failure == 'mount':
        driver._remotefsclient.fail_mounts = 99
    else:
        driver._execute.fail('truncate')
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.extend_volume(vol, 2)
    assert appliance.shares[vol.provider_id]['quota_bytes'] == GIB
    assert os.stat(volume_file(appliance, vol)).st_size == GIB
    assert_clean(driver, appliance, shares=1)


# -- stats -------------------------------------------------------------------------------
def test_volume_stats_one_call_whatever_the_volume_count(driver, appliance, volume):
    for _volume in range(3):
        volume(size=2)
    appliance.reset_calls()
    stats = driver.get_volume_stats(refresh=True)
    assert appliance.api_calls() == [('GET', '/pools/pool1')]
    assert stats['vendor_name'] == 'ACME STORAGE, Inc'
    assert stats['storage_protocol'] == 'NFS'
    assert stats['volume_backend_name'] == 'acme-unit'
    assert stats['total_capacity_gb'] == 100.0
    assert stats['provisioned_capacity_gb'] == 6.0
    assert stats['free_capacity_gb'] == 100.0
    assert stats['thin_provisioning_support'] is True
    assert stats['thick_provisioning_support'] is False
    assert stats['max_over_subscription_ratio'] == 20.0
    assert stats['reserved_percentage'] == 0
    assert stats['sparse_copy_volume'] is True and stats['multiattach'] is True
    assert stats['online_extend_support'] is False


def test_volume_stats_thick(make_driver, appliance):
    stats = make_driver(nfs_sparsed_volumes=False).get_volume_stats(refresh=True)
    assert stats['thin_provisioning_support'] is False
    assert stats['thick_provisioning_support'] is True


def test_volume_stats_failure_is_backend_error(driver, appliance):
    appliance.fail('GET', '/pools/pool1', status=500)
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.get_volume_stats(refresh=True)


# -- retype and migration ----------------------------------------------------------------
def test_retype_within_backend_needs_no_migration(driver, volume):
    vol = volume()
    assert driver.retype(None, vol, {}, {}, {'host': 'cv1@acme-unit#pool1'}) == (True, None)
    assert driver.retype(None, vol, {}, {}, {'host': 'cv2@other#p'}) == (False, None)


def test_migrate_volume_uses_generic_path(driver, volume, ctx):
    assert driver.migrate_volume(ctx, volume(), {'host': 'cv2@other#p'}) == (False, None)


def test_password_never_logged(driver, appliance, volume, caplog):
    with caplog.at_level(logging.DEBUG):
        vol = volume()
        driver.delete_volume(vol)
    assert 'not-the-real-one' not in caplog.text
    assert 'not-the-real-one' not in repr(driver.client)
    assert URL in repr(driver.client)
