"""Every public driver method maps failures to Cinder's exceptions in one place (issue 9,
"Details that must be right"): no raw client, mount or file error reaches Cinder, nothing is
left behind, and a failed unmount after a successful operation is logged, not raised."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from driver_helpers import copy_image_to_volume
from oslo_concurrency import processutils

from acme_cinder import acme_client
from acme_cinder.mounts import MountError
from cinder import exception

REMOTE = {'ip': '10.0.0.9', 'host': 'compute1'}
RAW = (acme_client.AcmeError, MountError, processutils.ProcessExecutionError, OSError)


@dataclass
class World:
    """A volume with two snapshots (the older one needs a file copy to revert to), a foreign
    share to manage, and the factories of new Cinder objects."""

    driver: Any
    appliance: Any
    ctx: Any
    vol: Any
    snap: Any
    latest_id: str
    new_volume: Callable
    new_snapshot: Callable


@pytest.fixture
def world(driver, appliance, ctx, volume, snapshot, new_volume, new_snapshot) -> World:
    vol = volume()
    snap = snapshot(vol)
    latest = appliance.create_snapshot(vol.provider_id, 'before')  # to manage; no rollback
    legacy = appliance.create_share('legacy')
    (appliance.share_dir(legacy['id']) / 'disk.img').write_bytes(b'x')
    appliance.calls.clear()
    return World(driver, appliance, ctx, vol, snap, latest['id'], new_volume, new_snapshot)


def _revert_by_rollback(w: World) -> None:
    """To the latest snapshot: the appliance rolls back, then the file is put right."""
    latest = w.new_snapshot(w.vol)
    latest.provider_id = w.latest_id
    w.driver.revert_to_snapshot(w.ctx, w.vol, latest)


def _copy_volume_to_image(w: World) -> None:
    with mock.patch('cinder.volume.volume_utils.upload_volume'):
        w.driver.copy_volume_to_image(w.ctx, w.vol, mock.Mock(), {'id': 'image-1'})


CALLS: dict[str, Callable[[World], Any]] = {
    'create_volume': lambda w: w.driver.create_volume(w.new_volume()),
    'delete_volume': lambda w: w.driver.delete_volume(w.vol),
    'extend_volume': lambda w: w.driver.extend_volume(w.vol, 2),
    'create_snapshot': lambda w: w.driver.create_snapshot(w.new_snapshot(w.vol)),
    'delete_snapshot': lambda w: w.driver.delete_snapshot(w.snap),
    'create_volume_from_snapshot':
        lambda w: w.driver.create_volume_from_snapshot(w.new_volume(), w.snap),
    'create_cloned_volume': lambda w: w.driver.create_cloned_volume(w.new_volume(), w.vol),
    'revert_to_snapshot': lambda w: w.driver.revert_to_snapshot(w.ctx, w.vol, w.snap),
    'revert_by_rollback': _revert_by_rollback,
    'initialize_connection': lambda w: w.driver.initialize_connection(w.vol, REMOTE),
    'terminate_connection': lambda w: w.driver.terminate_connection(w.vol, REMOTE),
    'force_detach': lambda w: w.driver.terminate_connection(w.vol, None, force=True),
    'manage_existing': lambda w: w.driver.manage_existing(w.new_volume(),
                                                          {'source-name': 'legacy'}),
    'manage_existing_get_size':
        lambda w: w.driver.manage_existing_get_size(w.new_volume(), {'source-name': 'legacy'}),
    'manage_existing_snapshot':
        lambda w: w.driver.manage_existing_snapshot(w.new_snapshot(w.vol),
                                                    {'source-name': 'before'}),
    'manage_existing_snapshot_get_size':
        lambda w: w.driver.manage_existing_snapshot_get_size(w.new_snapshot(w.vol),
                                                             {'source-name': 'before'}),
    'get_manageable_volumes':
        lambda w: w.driver.get_manageable_volumes([], None, 10, 0, ['size'], ['asc']),
    'get_manageable_snapshots':
        lambda w: w.driver.get_manageable_snapshots([], None, 10, 0, ['size'], ['asc']),
    'get_volume_stats': lambda w: w.driver.get_volume_stats(refresh=True),
    'copy_volume_to_image': _copy_volume_to_image,
    'copy_image_to_volume': lambda w: copy_image_to_volume(w.driver, w.ctx, w.vol),
}
IMAGES = ['copy_volume_to_image', 'copy_image_to_volume']  # no appliance call
# The methods that mount on this host, and those that also run file commands there.
MOUNTING = ['create_volume', 'extend_volume', 'create_volume_from_snapshot',
            'create_cloned_volume', 'revert_to_snapshot', 'revert_by_rollback', 'manage_existing',
            'manage_existing_get_size'] + IMAGES
FILE_COMMANDS = ['create_volume', 'extend_volume', 'create_volume_from_snapshot',
                 'create_cloned_volume', 'revert_to_snapshot', 'revert_by_rollback',
                 'manage_existing']
COMMANDS = ('truncate', 'dd', 'chmod', 'stat', 'mv', 'cp')


def state(w: World) -> tuple:
    """What a failed call must not leave behind: shares, snapshots, mounts, mount points."""
    shares = sorted((s.id, s.name, s.quota_bytes) for s in w.appliance.shares())
    snapshots = sorted((s.id, s.name) for s in w.appliance.snapshots())
    return shares, snapshots, dict(w.driver._remotefsclient.table), sorted(
        n for n in os.listdir(w.driver.base) if not n.startswith('.'))


def assert_cinder_error(w: World, name: str, why: str) -> None:
    """The call fails with a Cinder exception that gives the reason; nothing is left."""
    before = state(w)
    with pytest.raises(Exception) as info:
        CALLS[name](w)
    error = info.value
    assert isinstance(error, exception.CinderException), repr(error)
    assert not isinstance(error, RAW), repr(error)
    assert why in str(error), str(error)
    w.appliance.clear_faults()
    assert state(w) == before


# -- the appliance fails every call -------------------------------------------------------------
# The other methods' appliance failures, one call at a time, with every kind of fault: the fault
# matrix (test_driver_fault_matrix.py).
NOT_IN_THE_MATRIX = ['force_detach', 'manage_existing_get_size',
                     'manage_existing_snapshot_get_size', 'get_manageable_volumes',
                     'get_manageable_snapshots', 'get_volume_stats']


@pytest.mark.parametrize('name', NOT_IN_THE_MATRIX)
def test_appliance_failure_is_a_cinder_exception_with_the_reason(world, name):
    world.appliance.add_fault(method='*', path='.*', times=1000, action='fail', status=500)
    assert_cinder_error(world, name, 'injected fault: INTERNAL')


# -- the mount on this host is refused ------------------------------------------------------------
@pytest.mark.parametrize('name', MOUNTING)
def test_mount_failure_is_a_cinder_exception_with_the_reason(world, name):
    world.driver._remotefsclient.my_ip = '192.0.2.99'  # NFS refuses this host
    assert_cinder_error(world, name, 'access denied by server')


# -- a file command on the mounted share fails ----------------------------------------------------
@pytest.mark.parametrize('name', FILE_COMMANDS)
def test_file_command_failure_is_a_cinder_exception_with_the_reason(world, name):
    for command in COMMANDS:
        world.driver._execute.fail(command, times=1000)
    assert_cinder_error(world, name, 'injected')


# -- exports make no appliance call at all --------------------------------------------------------
@pytest.mark.parametrize('name', ['create_export', 'ensure_export', 'remove_export'])
def test_exports_need_no_appliance_and_mount_nothing(world, name):
    world.appliance.add_fault(method='*', path='.*', action='fail', status=500, times=1000)
    args = (world.ctx, world.vol, REMOTE) if name == 'create_export' else (world.ctx,
                                                                           world.vol)
    before = state(world)
    getattr(world.driver, name)(*args)
    assert world.appliance.calls == [] and state(world) == before


# -- a failed unmount after a successful operation ------------------------------------------------
UNMOUNTING = ['create_volume', 'extend_volume', 'create_volume_from_snapshot',
              'create_cloned_volume', 'revert_to_snapshot', 'revert_by_rollback',
              'manage_existing'] + IMAGES


@pytest.mark.parametrize('name', UNMOUNTING)
def test_failed_unmount_after_success_is_logged_not_raised(world, name, caplog):
    mounts = world.driver._remotefsclient
    mounts.fail_umounts = 1000
    with caplog.at_level(logging.WARNING, logger='acme_cinder'):
        CALLS[name](world)
    assert mounts.table, 'the share stays mounted'
    assert any('cannot unmount' in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    mounts.fail_umounts = 0
    world.driver.get_volume_stats(refresh=True)  # the periodic reconcile ends it
    assert mounts.table == {}


def test_unmanage_with_a_failed_unmount_is_logged_not_raised(world, caplog):
    mounts = world.driver._remotefsclient
    mounts.mount(world.vol.provider_location)  # os-brick's local attach
    mounts.fail_umounts = 1000
    with caplog.at_level(logging.WARNING, logger='acme_cinder'):
        world.driver.unmanage(world.vol)
    assert any('unmount' in r.getMessage() for r in caplog.records)
