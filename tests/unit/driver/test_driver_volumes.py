"""AcmeNfsDriver: set-up, secure NAS mode, volumes, extend, revert, stats (real simulator)."""

from __future__ import annotations

import logging
import os
import stat

import certifi
import pytest
from driver_helpers import MY_IP, QUOTA, RootRecorder, assert_clean
from oslo_config import cfg

from tests.support.appliance import free_port
from tests.support.cinder_driver import read, volume_file, write

from acme_cinder import __version__, quotas
from cinder import context, exception
from cinder.objects import fields

CONF = cfg.CONF
GIB, MIB = 1024**3, 1024**2
SECRET = 'Wr0ng-pa55-7f3a'  # a wrong password that no log line may show


def calls(appliance) -> list[str]:
    return [str(call) for call in appliance.calls]


def posted_share(appliance) -> dict:
    """The body of the one POST /shares the code made."""
    bodies = [c.json for c in appliance.calls if c.method == 'POST' and c.path == '/shares']
    assert len(bodies) == 1, calls(appliance)
    return bodies[0]


def mount_dirs(driver) -> list[str]:
    """What an operation left in the mount base: mount points (os-brick's are hex digests;
    the secure-mode indicator and the mount users' record are dot files, not mounts)."""
    return [n for n in os.listdir(driver.base) if not n.startswith('.')]


def setup(drv) -> None:
    drv.do_setup(context.get_admin_context())
    drv.check_for_setup_error()


# -- set-up ------------------------------------------------------------------------------
def test_setup_reaches_appliance_with_login_and_two_calls(make_driver, appliance):
    drv = make_driver(setup=False)
    appliance.calls.clear()
    setup(drv)
    assert calls(appliance) == ['POST /auth/login', 'GET /system', 'GET /pools/pool1']


SETUP_ERRORS = {
    'password': ({'nas_password': SECRET}, "refused user 'admin'"),
    'pool': ({'acme_pool': 'nope'}, "pool 'nope' does not exist"),
    'unreachable': ({}, 'cannot reach the appliance at https://127.0.0.1:'),
    'other-ca': ({'acme_ca_file': certifi.where()}, 'certificate verify failed'),
}
AUTO = {'nas_secure_file_operations': 'auto', 'nas_secure_file_permissions': 'auto'}


@pytest.mark.parametrize('case, auto', [*((case, False) for case in SETUP_ERRORS),
                                        ('password', True), ('unreachable', True)])
def test_setup_errors_give_one_clear_line(make_driver, caplog, case, auto):
    """With Cinder's 'auto' defaults on an existing install, do_setup already asks the
    appliance (to keep the backend's secure mode); otherwise check_for_setup_error does."""
    overrides, message = SETUP_ERRORS[case]
    if case == 'unreachable':  # nothing listens there: refused at once
        overrides = {'acme_url': f'https://127.0.0.1:{free_port()}'}
    drv = make_driver(setup=False, new_install=False, **overrides, **(AUTO if auto else {}))
    if not auto:
        drv.do_setup(context.get_admin_context())
    with caplog.at_level(logging.ERROR), pytest.raises(
            exception.VolumeBackendAPIException, match=message) as info:
        if auto:
            drv.do_setup(context.get_admin_context())
        drv.check_for_setup_error()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and message in errors[0].getMessage()
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert SECRET not in caplog.text


def test_setup_error_is_logged_once_across_cinder_retries(make_driver, caplog):
    """Cinder re-runs do_setup + check_for_setup_error (reinit_driver_count) on one driver."""
    drv = make_driver(setup=False, nas_password=SECRET)
    with caplog.at_level(logging.DEBUG):
        for _attempt in range(4):
            drv.do_setup(context.get_admin_context())
            with pytest.raises(exception.VolumeBackendAPIException):
                drv.check_for_setup_error()
    lines = [r for r in caplog.records if 'cannot start' in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR] + [logging.DEBUG] * 3
    assert SECRET not in caplog.text


@pytest.mark.parametrize('overrides, option', [
    ({'acme_url': None}, 'acme_url'), ({'acme_pool': None}, 'acme_pool'),
    ({'nas_password': ''}, 'nas_password'), ({'nas_secure_file_operations': 'maybe'}, None),
    ({'acme_ca_file': '/nonexistent/ca.pem'}, 'acme_ca_file')])
def test_bad_configuration_is_invalid_configuration_value(make_driver, overrides, option):
    drv = make_driver(setup=False, **overrides)
    with pytest.raises(exception.InvalidConfigurationValue, match=option):
        drv.do_setup(context.get_admin_context())


def test_ca_file_timeouts_and_retries_reach_the_client(make_driver, tmp_path):
    # without acme_ca_file the client verifies against the system's trust store (the client's
    # TLS checks: tests/unit/client/test_acme_client.py)
    assert make_driver(setup=False, acme_ca_file=None)._make_client().http.verify is True
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    drv = make_driver(setup=False, acme_ca_file=str(ca), acme_connect_timeout=3.0,
                      acme_read_timeout=7.0, acme_retries=2, acme_backoff=0.25)
    http = drv._make_client().http
    assert http.verify == str(ca)
    assert http.timeout == (3.0, 7.0) and http.retries == 2 and http.backoff == 0.25
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


def test_nothing_is_mounted_at_rest(driver, volume):
    volume()
    driver.get_volume_stats(refresh=True)
    assert driver._remotefsclient.table == {}
    assert mount_dirs(driver) == []


# -- option names (issue 9: Cinder's names; the old ones deprecated) ------------------------
def test_nas_login_is_the_appliance_user(make_driver, appliance):
    drv = make_driver(setup=False, nas_login='operator')
    drv.do_setup(context.get_admin_context())
    appliance.calls.clear()
    with pytest.raises(exception.VolumeBackendAPIException, match="refused user 'operator'"):
        drv.check_for_setup_error()
    assert appliance.calls[0].path == '/auth/login'
    assert appliance.calls[0].json['username'] == 'operator'


def test_deprecated_nas_user_is_accepted_and_wins_over_nas_login(make_driver, appliance):
    drv = make_driver(setup=False, nas_login='operator', nas_user='admin')
    appliance.calls.clear()
    setup(drv)
    assert appliance.calls[0].json['username'] == 'admin'


def test_acme_retry_after_max_reaches_the_client(make_driver, appliance):
    """A BUSY appliance asking for 30 s is retried at once with the cap at 0."""
    drv = make_driver(acme_retries=1, acme_backoff=0, acme_retry_after_max=0)
    assert drv.client.http.retry_after_max == 0
    appliance.add_fault(method='GET', path='/pools/pool1', action='fail', code='BUSY',
                        retry_after=30)
    assert drv.get_volume_stats(refresh=True)['total_capacity_gb'] == 100.0
    assert calls(appliance) == ['GET /pools/pool1'] * 2


# -- secure NAS mode (issue 9: the default) -------------------------------------------------
def test_secure_nas_mode_cinder_defaults_new_install_share_root_is_cinder_user(
        make_driver, appliance, volume):
    drv = make_driver(new_install=True, **AUTO)
    assert drv.configuration.nas_secure_file_operations == 'true'
    assert drv.configuration.nas_secure_file_permissions == 'true'
    drv._execute = recorder = RootRecorder()
    vol = volume(drv=drv)
    drv.extend_volume(vol, 2)
    root = {'uid': os.getuid(), 'gid': os.getgid(), 'mode': '0775'}
    assert posted_share(appliance)['root'] == root
    info = os.stat(appliance.share_dir(vol.provider_id))
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (
        os.getuid(), os.getgid(), 0o775)
    assert [r.root_squash for r in appliance.shares()[0].nfs_rules] == [True]
    assert recorder.as_root and not any(as_root for _cmd, as_root in recorder.as_root)
    assert stat.S_IMODE(os.stat(volume_file(appliance, vol)).st_mode) == 0o660


def test_secure_nas_mode_clone_and_revert_copy_run_no_command_as_root(
        make_driver, appliance, new_volume, volume, snapshot, ctx):
    drv = make_driver(nas_secure_file_operations='true')
    vol = volume(drv=drv)
    snap = snapshot(vol, drv=drv)
    drv.create_cloned_volume(new_volume(), vol)  # a newer (hidden) snapshot
    drv._execute = recorder = RootRecorder()
    drv.create_volume_from_snapshot(new_volume(size=2), snap)
    drv.revert_to_snapshot(ctx, vol, snap)  # by copy
    assert {'mv', 'cp', 'truncate', 'chmod'} <= {cmd[0] for cmd, _as_root in recorder.as_root}
    assert not any(as_root for _cmd, as_root in recorder.as_root)
    shares = appliance.shares()
    assert len(shares) == 3 and all(s.root.mode == 0o775 for s in shares)
    assert all(r.root_squash for s in shares for r in s.nfs_rules)


def test_secure_nas_mode_share_root_options(make_driver, appliance, volume):
    drv = make_driver(nas_secure_file_operations='true', acme_share_root_uid=4242,
                      acme_share_root_gid=4343, acme_share_root_mode='770')
    vol = volume(drv=drv)
    assert posted_share(appliance)['root'] == {'uid': 4242, 'gid': 4343, 'mode': '0770'}
    info = os.stat(appliance.share_dir(vol.provider_id))
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4242, 4343, 0o770)


def test_secure_nas_mode_is_the_same_on_every_host_of_the_cluster(make_driver, tmp_path):
    first = make_driver(new_install=True, **AUTO)
    # the second joins once volumes exist
    second = make_driver(new_install=False, my_ip='10.0.0.6', base=tmp_path / 'mnt2', **AUTO)
    assert first.configuration.nas_secure_file_operations == 'true'
    assert second.configuration.nas_secure_file_operations == 'true'


@pytest.mark.parametrize('fault', [{'path': '/shares', 'method': 'GET'},
                                   {'path': '.*', 'times': 1000}],
                         ids=['share-list-fails', 'appliance-fails'])
def test_secure_backend_stays_secure_after_a_failure_at_start(make_driver, appliance, fault):
    appliance.create_share('cinder-volume-made-secure',
                           root={'uid': 4242, 'gid': 4242, 'mode': '0775'})
    drv = make_driver(setup=False, new_install=False, **AUTO)  # an existing install, a new host
    appliance.add_fault(action='fail', status=500, **fault)
    try:
        setup(drv)
    except exception.VolumeBackendAPIException:
        appliance.clear_faults()
        setup(drv)  # Cinder's re-init (reinit_driver_count)
    assert drv.configuration.nas_secure_file_operations == 'true'


@pytest.mark.parametrize('option, is_new', [('false', True), ('auto', False)],
                         ids=['false', 'auto-existing-install'])
def test_insecure_nas_mode_sends_no_root_and_no_root_squash(make_driver, appliance,
                                                            volume, option, is_new):
    appliance.create_share('cinder-volume-made-before')  # root-owned: an insecure backend
    drv = make_driver(nas_secure_file_operations=option, new_install=is_new)
    drv._execute = recorder = RootRecorder()
    vol = volume(drv=drv)
    assert 'root' not in posted_share(appliance)
    assert [r.root_squash for r in appliance.share_named('cinder-' + vol.name).nfs_rules] == [False]
    assert recorder.as_root and all(as_root for _cmd, as_root in recorder.as_root)


# -- create ------------------------------------------------------------------------------
@pytest.mark.parametrize('headroom', [0.0, 1.0, 2.5])
def test_share_quota_is_size_plus_headroom_in_whole_mib_and_gives_the_size_back(headroom):
    for size in (1, 2, 3, 10, 1000):
        quota = quotas.share_quota(size, headroom)
        assert quota % MIB == 0 and 0 <= quota - size * GIB * (1 + headroom / 100) < MIB
        assert quotas.volume_size(quota, headroom) == size
        assert quotas.share_quota(size, headroom, used_bytes=quota + 1) == quota + MIB
    assert quotas.volume_size(GIB, headroom) == 1           # a foreign share's quota
    assert quotas.volume_size(GIB + GIB // 2, headroom) == 2
    assert quotas.volume_size(0, headroom) == 0


def test_create_volume_one_call_sparse_file_660_and_unmounted(driver, appliance, new_volume):
    vol = new_volume(size=2)
    update = driver.create_volume(vol)
    assert calls(appliance) == ['POST /shares']
    share = appliance.shares()[0]
    assert share.id == update['provider_id'] and share.name == 'cinder-' + vol.name
    assert share.quota_bytes == QUOTA[2]
    assert [(r.clients, r.access) for r in share.nfs_rules] == [(MY_IP, 'rw')]
    assert update['provider_location'] == f'127.0.0.1:/pool1/cinder-{vol.name}'
    vol.update(update)
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 2 * GIB and info.st_blocks == 0
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert_clean(driver, appliance, shares=1)
    assert mount_dirs(driver) == []


def test_create_volume_open_permissions_when_not_secure(make_driver, appliance, volume):
    drv = make_driver(nas_secure_file_permissions='false')
    vol = volume(drv=drv)
    assert stat.S_IMODE(os.stat(volume_file(appliance, vol)).st_mode) == 0o666


@pytest.mark.parametrize('address, expected', [
    ('198.51.100.7', '198.51.100.7'), ('fd00::5', '[fd00::5]')], ids=['ipv4', 'ipv6'])
def test_provider_location_uses_acme_nfs_address_ipv6_in_brackets(make_driver, appliance,
                                                                  volume, address,
                                                                  expected):
    drv = make_driver(acme_nfs_address=address)
    vol = volume(drv=drv)
    assert vol.provider_location == f'{expected}:/pool1/cinder-{vol.name}'
    drv.extend_volume(vol, 2)  # the location mounts
    assert os.stat(volume_file(appliance, vol)).st_size == 2 * GIB


def test_provider_location_of_an_appliance_exporting_over_ipv6(
        make_driver, appliance, tmp_path, volume):
    appliance.reset(tmp_path / 'appliance-v6', nfs_address='fd00::7')
    drv = make_driver()
    vol = volume(drv=drv)
    assert vol.provider_location == f'[fd00::7]:/pool1/cinder-{vol.name}'


def test_create_volume_custom_prefix(make_driver, appliance, new_volume):
    drv = make_driver(acme_share_prefix='os-')
    vol = new_volume()
    drv.create_volume(vol)
    assert [s.name for s in appliance.shares()] == ['os-' + vol.name]


def test_create_volume_failure_leaves_no_share_and_no_mount(driver, appliance, new_volume):
    """chmod fails after truncate made the file (the appliance, mount and first-command
    failures: the fault matrix and test_driver_errors.py)."""
    driver._execute.fail('chmod')
    with pytest.raises(exception.VolumeBackendAPIException, match='cannot create volume'):
        driver.create_volume(new_volume())
    assert_clean(driver, appliance)
    assert mount_dirs(driver) == []


def test_create_volume_failure_when_delete_also_fails_reports_original(driver, appliance,
                                                                       new_volume):
    driver._execute.fail('truncate')
    appliance.add_fault(method='DELETE', path='/shares/.*', action='fail', status=500, times=9)
    with pytest.raises(exception.VolumeBackendAPIException, match='injected'):
        driver.create_volume(new_volume())
    assert driver._remotefsclient.table == {}


def test_encrypted_volume_is_refused(driver, new_volume, appliance):
    with pytest.raises(exception.VolumeDriverException, match='Encrypted'):
        driver.create_volume(new_volume(encryption_key_id='b6e1e0f8-4c3a-4b0e-9f1e-1c2d3e4f5a6b'))
    assert_clean(driver, appliance)
    assert calls(appliance) == []


# -- delete ------------------------------------------------------------------------------
def test_delete_volume_unmounts_a_local_attach_and_deletes(driver, appliance, volume):
    vol = volume()
    driver._remotefsclient.mount(vol.provider_location)  # os-brick's local attach
    appliance.calls.clear()
    driver.delete_volume(vol)
    assert calls(appliance) == [f'GET /shares/{vol.provider_id}',
                                f'DELETE /shares/{vol.provider_id}?recursive=true']
    assert_clean(driver, appliance)


def test_delete_volume_already_gone_is_success(driver, appliance, volume):
    vol = volume()
    appliance.call('DELETE', f'/shares/{vol.provider_id}', 204)
    driver.delete_volume(vol)
    driver.delete_volume(vol)
    assert_clean(driver, appliance)


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


# -- extend ------------------------------------------------------------------------------
def test_extend_volume_quota_and_sparse_file(driver, appliance, volume):
    vol = volume()
    driver.extend_volume(vol, 3)
    assert appliance.shares()[0].quota_bytes == QUOTA[3]
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 3 * GIB and info.st_blocks == 0
    assert_clean(driver, appliance, shares=1)


def test_create_and_extend_thick_volume_are_fully_allocated(
        make_driver, appliance, volume):
    drv = make_driver(nfs_sparsed_volumes=False)
    vol = volume(drv=drv)
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == GIB and info.st_blocks * 512 >= GIB
    drv.extend_volume(vol, 2)
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 2 * GIB and info.st_blocks * 512 >= 2 * GIB


def test_extend_attached_volume_is_refused_like_cinder_nfs_bug_1870367(
        driver, appliance, volume):
    vol = volume()
    vol.attach_status = fields.VolumeAttachStatus.ATTACHED
    appliance.calls.clear()
    with pytest.raises(exception.ExtendVolumeError, match='is attached; detach it'):
        driver.extend_volume(vol, 2)
    assert calls(appliance) == []
    assert appliance.shares()[0].quota_bytes == QUOTA[1]
    assert driver.get_volume_stats(refresh=True)['online_extend_support'] is False


def test_extend_failure_keeps_size_and_unmounts(driver, appliance, volume):
    vol = volume()
    driver._execute.fail('truncate')  # after the quota grew: it is put back
    with pytest.raises(exception.VolumeBackendAPIException, match='extend_volume'):
        driver.extend_volume(vol, 2)
    assert appliance.shares()[0].quota_bytes == QUOTA[1]
    assert os.stat(volume_file(appliance, vol)).st_size == GIB
    assert_clean(driver, appliance, shares=1)
    assert mount_dirs(driver) == []


# -- revert ------------------------------------------------------------------------------
def test_revert_uses_appliance_rollback(driver, appliance, volume, snapshot, ctx):
    vol = volume()
    write(appliance, vol, b'old')
    snap = snapshot(vol)
    write(appliance, vol, b'new')
    appliance.calls.clear()
    driver.revert_to_snapshot(ctx, vol, snap)
    assert calls(appliance) == [  # the mount to rename and size the file makes sure of access
        f'POST /shares/{vol.provider_id}/snapshots/{snap.provider_id}/rollback',
        f'GET /shares/{vol.provider_id}/nfs']
    assert read(appliance, vol, 3) == b'old'
    assert_clean(driver, appliance, shares=1, snapshots=1)


def test_revert_with_newer_snapshots_copies_the_file(driver, appliance, volume, snapshot, ctx):
    vol = volume()
    write(appliance, vol, b'old')
    snap = snapshot(vol)
    write(appliance, vol, b'new')
    newer = snapshot(vol)
    driver.revert_to_snapshot(ctx, vol, snap)
    assert read(appliance, vol, 3) == b'old'
    assert os.stat(volume_file(appliance, vol)).st_blocks <= 64  # still sparse
    assert {s.id for s in appliance.snapshots()} == {snap.provider_id, newer.provider_id}
    assert_clean(driver, appliance, shares=1, snapshots=2)


def test_revert_to_latest_snapshot_older_than_a_clone_source_copies_the_file(
        driver, appliance, volume, snapshot, new_volume, ctx):
    """Cinder reverts only to the latest Cinder snapshot; a clone made since then left a
    newer (hidden) appliance snapshot, so the appliance cannot roll back."""
    vol = volume()
    write(appliance, vol, b'old')
    snap = snapshot(vol)
    write(appliance, vol, b'new')
    clone = new_volume()
    clone.update(driver.create_cloned_volume(clone, vol))
    driver.revert_to_snapshot(ctx, vol, snap)
    assert read(appliance, vol, 3) == b'old' and read(appliance, clone, 3) == b'new'
    assert_clean(driver, appliance, shares=2, snapshots=2)


def test_revert_copy_keeps_a_thick_volume_fully_allocated(make_driver, appliance, volume,
                                                          snapshot, ctx):
    """Allocated zeros stay allocated (1 MiB of them here: a whole thick GiB costs seconds)."""
    vol = volume()
    write(appliance, vol, bytes(MIB))
    snap = snapshot(vol)
    kept = appliance.data_dir / 'snapshots' / snap.provider_id / vol.name
    assert os.stat(kept).st_blocks * 512 >= MIB  # the appliance kept them allocated
    appliance.create_snapshot(vol.provider_id, 'newer')
    drv = make_driver(nfs_sparsed_volumes=False)  # the backend is thick from now on
    drv.revert_to_snapshot(ctx, vol, snap)
    assert os.stat(volume_file(appliance, vol)).st_blocks * 512 >= MIB


def test_revert_removes_the_leftover_of_an_interrupted_revert(driver, appliance, volume,
                                                              snapshot, ctx):
    vol = volume()
    snap = snapshot(vol)
    snapshot(vol)
    appliance.create_share('cinder-revert-' + vol.id)
    driver.revert_to_snapshot(ctx, vol, snap)
    assert_clean(driver, appliance, shares=1, snapshots=2)


def test_snapshot_revert_needs_no_temp_snapshot(driver):
    assert driver.snapshot_revert_use_temp_snapshot() is False


# -- stats -------------------------------------------------------------------------------
EXPECTED_STATS = {
    'vendor_name': 'ACME STORAGE, Inc', 'storage_protocol': 'NFS', 'driver_version': __version__,
    'volume_backend_name': 'acme-unit', 'total_capacity_gb': 100.0,
    # the pool's sum of quotas: three 2 GiB volumes, each with 1 % headroom (3 * 2069 MiB)
    'provisioned_capacity_gb': 6.06, 'free_capacity_gb': 100.0, 'reserved_percentage': 0,
    'thin_provisioning_support': True, 'thick_provisioning_support': False,
    'max_over_subscription_ratio': 20.0, 'sparse_copy_volume': True, 'multiattach': True,
    'online_extend_support': False, 'QoS_support': False}


def test_volume_stats_one_call_whatever_the_volume_count(driver, appliance, volume):
    for _volume in range(3):
        volume(size=2)
    appliance.calls.clear()
    stats = driver.get_volume_stats(refresh=True)
    assert calls(appliance) == ['GET /pools/pool1']
    assert {key: stats[key] for key in EXPECTED_STATS} == EXPECTED_STATS


def test_volume_stats_thick(make_driver):
    stats = make_driver(nfs_sparsed_volumes=False).get_volume_stats(refresh=True)
    assert stats['thin_provisioning_support'] is False
    assert stats['thick_provisioning_support'] is True


def test_max_over_subscription_ratio_auto_is_reported_for_cinders_scheduler(
        make_driver, volume):
    """'auto' stopped every stats refresh (VolumeDriverException); the scheduler computes it
    from the capacities the driver reports, as for Cinder's own thin drivers."""
    from cinder.scheduler import sched_utils
    drv = make_driver(max_over_subscription_ratio='auto')
    volume(size=2, drv=drv)
    stats = drv.get_volume_stats(refresh=True)
    assert stats['max_over_subscription_ratio'] == 'auto'
    used = stats['total_capacity_gb'] - stats['free_capacity_gb']
    assert sched_utils.calculate_max_over_subscription_ratio(stats, 20.0) == \
        1 + stats['provisioned_capacity_gb'] / (used + 1)


@pytest.mark.parametrize('configured', [True, False])
def test_backup_use_temp_snapshot_is_refused_with_a_warning_temp_clones_instead(
        make_driver, caplog, configured):
    """The backup manager raised a TypeError with the option True (the driver has no snapshot
    attach): Cinder's temporary-clone path is taken instead, an appliance clone."""
    drv = make_driver()  # BaseVD registers the option in the backend's section
    CONF.set_override('backup_use_temp_snapshot', configured, group=drv.configuration.config_group)
    try:
        with caplog.at_level(logging.WARNING, logger='acme_cinder'):
            assert drv.backup_use_temp_snapshot() is False
    finally:
        CONF.clear_override('backup_use_temp_snapshot', group=drv.configuration.config_group)
    assert ('backup_use_temp_snapshot = True is not supported' in caplog.text) is configured


# -- retype and migration ----------------------------------------------------------------
def test_retype_within_backend_needs_no_migration(driver, volume):
    vol = volume()
    assert driver.retype(None, vol, {}, {}, {'host': 'cv1@acme-unit#pool1'}) == (True, None)
    assert driver.retype(None, vol, {}, {}, {'host': 'cv2@other#p'}) == (False, None)


def test_retype_within_backend_in_an_active_active_cluster_needs_no_migration(driver, volume):
    """Cinder passes the cluster's first host, which need not be the volume's."""
    vol = volume(host='cv2@acme-unit#pool1', cluster_name='lab@acme-unit#pool1')
    cluster = {'host': 'cv1@acme-unit#pool1', 'cluster_name': 'lab@acme-unit#pool1'}
    assert driver.retype(None, vol, {}, {}, cluster) == (True, None)
    other = {'host': 'cv1@acme-unit#pool1', 'cluster_name': 'other@acme-unit#pool1'}
    assert driver.retype(None, vol, {}, {}, other) == (False, None)


def test_migrate_volume_uses_generic_path(driver, volume, ctx):
    assert driver.migrate_volume(ctx, volume(), {'host': 'cv2@other#p'}) == (False, None)
