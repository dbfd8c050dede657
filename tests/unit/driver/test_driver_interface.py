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
from test_driver_volumes import assert_clean

from acme_cinder import nfs, options, opts
from cinder import interface
from cinder.interface import util as interface_util
from cinder.interface import (volume_driver, volume_manageable_driver,
                              volume_snapshot_revert, volume_snapshotmanagement_driver)

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
    assert info.version == '1.0.0' and info.supported


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


def test_active_active_and_capability_flags():
    assert nfs.AcmeNfsDriver.SUPPORTS_ACTIVE_ACTIVE is True
    assert nfs.AcmeNfsDriver.driver_volume_type == 'nfs'


# -- options -------------------------------------------------------------------------------
DESIGN_OPTIONS = {'nas_user', 'nas_password', 'nfs_sparsed_volumes', 'nfs_mount_point_base',
                  'nfs_mount_options', 'nfs_mount_attempts', 'nas_secure_file_operations',
                  'nas_secure_file_permissions', 'acme_url', 'acme_pool', 'acme_tls_verify',
                  'acme_ca_file', 'acme_connect_timeout', 'acme_read_timeout', 'acme_retries',
                  'acme_backoff', 'acme_share_prefix', 'acme_nfs_address'}


def test_driver_options_cover_the_design():
    names = {opt.name for opt in nfs.AcmeNfsDriver.get_driver_options()}
    assert DESIGN_OPTIONS <= names
    (group, listed), = opts.list_opts()
    assert group == 'backend' and {o.name for o in listed} == names


def test_password_is_secret_without_default():
    by_name = {opt.name: opt for opt in options.ACME_OPTS}
    assert by_name['nas_password'].secret is True
    assert not by_name['nas_password'].default
    assert not by_name['nas_user'].default


def test_cinder_options_are_reused_not_redefined():
    from cinder.volume.drivers import nfs as cinder_nfs
    from cinder.volume.drivers import remotefs
    cinder_opts = {id(o) for o in cinder_nfs.nfs_opts + remotefs.nas_opts}
    ours = {o.name: o for o in options.ACME_NFS_OPTS}
    assert all(id(o) in cinder_opts for o in ours.values())


def test_oslo_config_generator_lists_every_option():
    generator = shutil.which('oslo-config-generator', path=str(BIN))
    out = subprocess.run([generator, '--namespace', 'acme_cinder', '--format', 'json'],
                         check=True, capture_output=True, text=True).stdout
    listed = {o['name']: o for o in json.loads(out)['options']['backend']['opts']}
    assert DESIGN_OPTIONS <= set(listed)
    assert listed['nas_password']['secret'] is True


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

    info = mock.Mock(virtual_size=vol.size * 1024**3)
    with mock.patch('cinder.image.image_utils.fetch_to_raw', side_effect=fetch), \
            mock.patch('cinder.image.image_utils.resize_image'), \
            mock.patch('cinder.image.image_utils.qemu_img_info', return_value=info):
        driver.copy_image_to_volume(ctx, vol, mock.Mock(), 'image-1')
    assert seen['dest'] == driver.local_path(vol) and seen['mounted']
    assert (appliance.share_dir(vol.provider_id) / vol.name).read_bytes()[:5] == b'image'
    assert_clean(driver, appliance, shares=1)


def test_copy_image_to_volume_failure_unmounts(driver, appliance, volume, ctx):
    vol = volume()
    with mock.patch('cinder.image.image_utils.fetch_to_raw', side_effect=OSError('glance')), \
            pytest.raises(OSError):
        driver.copy_image_to_volume(ctx, vol, mock.Mock(), 'image-1')
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


def test_generic_attach_path_exports_to_this_host_and_unmounts(driver, appliance, volume, ctx):
    """Cinder's _attach_volume/_detach_volume (image copy, migration): mount point reused."""
    vol = volume()
    properties = {'ip': '10.0.0.5', 'host': 'cv1'}
    with mock.patch('cinder.volume.volume_utils.brick_get_connector') as get_connector:
        connector = get_connector.return_value
        connector.connect_volume.side_effect = lambda data: {
            'path': driver._mounts.mount_point(data['export']) + '/' + data['name']}
        connector.check_valid_device.return_value = True
        attach_info, _device = driver._attach_volume(ctx, vol, properties)
        conn = get_connector.call_args.kwargs['conn']
        assert conn['mount_point_base'] == driver.base
        assert Path(attach_info['device']['path']).is_file()
        driver._detach_volume(ctx, attach_info, vol, properties, force=True)
    assert_clean(driver, appliance, shares=1)


# -- packaging -------------------------------------------------------------------------------
def test_client_is_the_one_shared_module():
    from acme_cinder import acme_client
    link = Path(nfs.__file__).parent / 'acme_client.py'
    shared = Path(__file__).resolve().parents[3] / 'plugins' / 'module_utils' / 'acme_client.py'
    assert link.resolve() == shared.resolve()
    assert Path(acme_client.__file__).resolve() == shared.resolve()
