"""The driver as Cinder sees it: interfaces, signatures, options, images, packaging."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from driver_helpers import MY_IP, assert_clean, copy_image_to_volume

from acme_cinder import __version__, nfs, options
from cinder import exception, interface
from cinder.interface import util as interface_util
from cinder.interface import (volume_driver, volume_manageable_driver,
                              volume_snapshot_revert, volume_snapshotmanagement_driver)
from cinder.volume.drivers import nfs as cinder_nfs
from cinder.volume.drivers import remotefs as cinder_remotefs

CLAIMED = [volume_driver.VolumeDriverCore,
           volume_snapshot_revert.VolumeSnapshotRevertDriver,
           volume_manageable_driver.VolumeManagementDriver,
           volume_manageable_driver.VolumeListManageableDriver,
           volume_snapshotmanagement_driver.VolumeSnapshotManagementDriver]
BIN = Path(sys.executable).parent


def test_registered_with_the_volumedriver_decorator():
    assert nfs.AcmeNfsDriver in interface._volume_register
    info = interface_util.DriverInfo(nfs.AcmeNfsDriver)
    assert info.class_fqn == 'acme_cinder.nfs.AcmeNfsDriver'
    assert info.version == __version__ and info.supported


@pytest.mark.parametrize('iface', CLAIMED, ids=lambda i: i.__name__)
def test_compliance_with_claimed_interfaces(iface):
    """Cinder's compliance check (issubclass via method names) for each claimed capability."""
    assert issubclass(nfs.AcmeNfsDriver, iface)


@pytest.mark.parametrize('iface', CLAIMED, ids=lambda i: i.__name__)
def test_signatures_match_the_interfaces(iface):
    """What Cinder's compliance test does not check: the parameters."""
    for name, method in inspect.getmembers(iface, inspect.isfunction):
        if name.startswith('_'):
            continue
        if isinstance(inspect.getattr_static(nfs.AcmeNfsDriver, name), property):
            continue  # e.g. 'initialized'
        ours = inspect.signature(getattr(nfs.AcmeNfsDriver, name))
        theirs = inspect.signature(method)
        required = [p for p in theirs.parameters.values()
                    if p.default is inspect.Parameter.empty
                    and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        optional = {p.name: None for p in theirs.parameters.values()
                    if p.default is not inspect.Parameter.empty}
        # Cinder calls with the required arguments by position, the optional by name.
        ours.bind(*[None] * len(required), **optional)
        assert len(ours.parameters) >= len(theirs.parameters) - sum(
            1 for p in theirs.parameters.values() if p.kind is p.VAR_KEYWORD), name


def test_active_active_and_volume_type():
    assert nfs.AcmeNfsDriver.SUPPORTS_ACTIVE_ACTIVE is True
    assert nfs.AcmeNfsDriver.driver_volume_type == 'nfs'


# -- options -------------------------------------------------------------------------------
DESIGN_OPTIONS = {'nas_login', 'nas_user', 'nas_password', 'nfs_sparsed_volumes',
                  'nfs_mount_point_base', 'nfs_mount_options', 'nfs_mount_attempts',
                  'nas_secure_file_operations', 'nas_secure_file_permissions', 'acme_url',
                  'acme_pool', 'acme_pools', 'acme_tls_verify', 'acme_ca_file',
                  'acme_connect_timeout', 'acme_read_timeout', 'acme_retries', 'acme_backoff',
                  'acme_retry_after_max',
                  'acme_share_prefix', 'acme_nfs_address', 'acme_file_wait_timeout',
                  'acme_share_quota_headroom', 'acme_share_root_uid', 'acme_share_root_gid',
                  'acme_share_root_mode'}
BY_NAME = {opt.name: opt for opt in options.ACME_OPTS}


def test_driver_options_cover_the_design():
    names = {opt.name for opt in nfs.AcmeNfsDriver.get_driver_options()}
    assert names == DESIGN_OPTIONS
    assert len(options.ACME_OPTS) == len(names)  # no name twice
    (group, listed), = options.list_opts()
    assert group == 'backend' and {o.name for o in listed} == names


def test_share_root_mode_option_takes_three_octal_digits():
    mode = BY_NAME['acme_share_root_mode'].type
    assert mode('770') == '770'
    for bad in ('999', '7', 'rwx', '07777'):
        with pytest.raises(ValueError):
            mode(bad)


def test_cinder_options_are_reused_not_redefined():
    cinder_opts = {id(o) for o in cinder_nfs.nfs_opts + cinder_remotefs.nas_opts}
    assert all(id(o) in cinder_opts for o in options.ACME_NFS_OPTS)
    ours = {o.name for o in options.ACME_OPTS if id(o) not in cinder_opts}
    assert all(name.startswith('acme_') for name in ours - {'nas_user'})


def test_oslo_config_generator_lists_every_option():
    generator = shutil.which('oslo-config-generator', path=str(BIN))
    out = subprocess.run([generator, '--namespace', 'acme_cinder', '--format', 'json'],
                         check=True, capture_output=True, text=True).stdout
    listed = {o['name']: o for o in json.loads(out)['options']['backend']['opts']}
    assert set(listed) == DESIGN_OPTIONS
    assert listed['nas_password']['secret'] is True
    assert listed['nas_user']['deprecated_for_removal'] is True
    assert listed['nas_login']['default'] == 'admin'
    assert listed['acme_retry_after_max']['default'] == 60.0


# -- images: inherited local-path copies with mount-on-demand ----------------------------------
def test_copy_image_to_volume_mounts_only_during_the_copy(driver, appliance, volume, ctx):
    vol = volume()
    seen = {}

    def fetch(context, service, image_id, dest, blocksize, size=None, run_as_root=True,
              disable_sparse=False):
        seen['mounted'] = dict(driver._remotefsclient.table)
        seen['dest'] = dest
        with open(dest, 'r+b') as f:
            f.write(b'image')

    copy_image_to_volume(driver, ctx, vol, fetch=fetch)
    assert seen['dest'] == driver.local_path(vol) and seen['mounted']
    assert (appliance.share_dir(vol.provider_id) / vol.name).read_bytes()[:5] == b'image'
    assert_clean(driver, appliance, shares=1)


def test_copy_image_to_volume_failure_unmounts_and_is_a_cinder_error(driver, appliance,
                                                                     volume, ctx):
    vol = volume()
    with pytest.raises(exception.VolumeBackendAPIException, match='glance'):
        copy_image_to_volume(driver, ctx, vol, fetch=OSError('glance'))
    assert_clean(driver, appliance, shares=1)


def test_copy_image_to_volume_wrong_size_stays_image_unacceptable(driver, appliance, volume,
                                                                  ctx):
    vol = volume()
    with pytest.raises(exception.ImageUnacceptable):
        copy_image_to_volume(driver, ctx, vol, virtual_size=2 * vol.size * 1024**3)
    assert_clean(driver, appliance, shares=1)


def test_copy_image_to_volume_checks_the_raw_file_as_the_nas_mode_allows(driver, appliance,
                                                                         volume, ctx):
    """The size check names the format: Cinder's format inspector would read the file as root
    in privsep, and root is squashed on a secure-mode share (the lab saw EACCES)."""
    vol = volume()
    info = mock.Mock(virtual_size=vol.size * 1024**3)
    with mock.patch('cinder.image.image_utils.fetch_to_raw'), \
            mock.patch('cinder.image.image_utils.resize_image'), \
            mock.patch('cinder.image.image_utils.qemu_img_info', return_value=info) as check:
        driver.copy_image_to_volume(ctx, vol, mock.Mock(), 'image-1')
    check.assert_called_once_with(driver.local_path(vol), img_format='raw',
                                  run_as_root=driver._execute_as_root)
    assert_clean(driver, appliance, shares=1)


def test_copy_volume_to_image_uploads_the_mounted_file(driver, appliance, volume, ctx):
    vol = volume()
    uploaded = {}

    def upload(context, service, meta, path, volume, run_as_root=True):
        uploaded['size'] = Path(path).stat().st_size

    with mock.patch('cinder.volume.volume_utils.upload_volume', side_effect=upload):
        driver.copy_volume_to_image(ctx, vol, mock.Mock(), {'id': 'image-2'})
    assert uploaded['size'] == 1024**3
    assert_clean(driver, appliance, shares=1)


def test_generic_attach_path_os_brick_mounts_remove_export_unmounts(driver, appliance, volume,
                                                                    ctx):
    """Cinder's _attach_volume/_detach_volume (image copy, migration, backup): os-brick mounts
    at the driver's mount point; the detach's remove_export unmounts it."""
    vol = volume()
    properties = {'ip': MY_IP, 'host': 'cv1'}
    mounts = driver._remotefsclient

    def connect(data):
        mounts.mount(data['export'])  # what os-brick's NFS connector does
        return {'path': driver._mounts.mount_point(data['export']) + '/' + data['name']}

    with mock.patch('cinder.volume.volume_utils.brick_get_connector') as get_connector:
        connector = get_connector.return_value
        connector.connect_volume.side_effect = connect
        connector.check_valid_device.return_value = True
        attach_info, _device = driver._attach_volume(ctx, vol, properties)
        assert get_connector.call_args.kwargs['conn']['mount_point_base'] == driver.base
        assert Path(attach_info['device']['path']).is_file()
        driver._detach_volume(ctx, attach_info, vol, properties, force=True)
    assert_clean(driver, appliance, shares=1)


# -- packaging -------------------------------------------------------------------------------
def test_client_is_the_one_shared_module():
    """The driver's acme_client.py is the plugins' file (tests/conftest.py makes the driver
    import that module, so the imported module's file cannot tell)."""
    link = Path(nfs.__file__).parent / 'acme_client.py'
    shared = Path(__file__).resolve().parents[3] / 'plugins' / 'module_utils' / 'acme_client.py'
    assert link.resolve() == shared.resolve()
