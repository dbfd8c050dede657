"""A volume written to its last byte clones, snapshots, reverts, extends and is managed.

Found in the lab (issue 14, docs/performance.md): the appliance counts a share's used bytes
as the allocated blocks of its files, so a volume file written completely uses a little
more than the volume size (the file system's extent blocks), and a clone's quota may not be
below its origin snapshot's used bytes. With share quota = volume size, a full volume could
not be cloned. Here the simulator keeps its data on a disk file system (the session's
default, tmpfs, allocates no metadata blocks) and the volume file is written with real
bytes to its end and flushed, as a client writes it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest
from driver_helpers import QUOTA, assert_clean

from tests.support.cinder_driver import volume_file

GIB, MIB = 1024**3, 1024**2
pytestmark = pytest.mark.slow  # several GiB copied by the simulator on a disk file system


@pytest.fixture
def appliance(appliance, tmp_path):
    """The session's simulator, with its data on tmp_path (a disk file system)."""
    fs_type = subprocess.run(['stat', '-f', '-c', '%T', str(tmp_path)], check=True,
                             capture_output=True, text=True).stdout.strip()
    assert fs_type != 'tmpfs', 'these tests need a disk file system under pytest basetemp'
    return appliance.reset(tmp_path / 'appliance')


def blocks(count: int, seed: bytes):
    """``count`` MiB of data, each MiB different (its index first)."""
    block = bytearray(hashlib.sha256(seed).digest() * (MIB // 32))
    for index in range(count):
        block[:8] = index.to_bytes(8, 'big')
        yield block


def fill(path, size: int, seed: bytes = b'full') -> None:
    """Write the first ``size`` bytes of the file and flush them, as a client does."""
    with open(path, 'r+b') as out:
        for block in blocks(size // MIB, seed):
            out.write(block)
        out.flush()
        os.fsync(out.fileno())


def holds(path, size: int = GIB, seed: bytes = b'full') -> bool:
    """Whether the file starts with what ``fill(path, size, seed)`` wrote."""
    with open(path, 'rb') as src:
        return all(src.read(MIB) == block for block in blocks(size // MIB, seed))


def used_bytes(appliance, share_id: str) -> int:
    return appliance.client().shares.get(share_id)['used_bytes']  # GET re-measures


def full_volume(appliance, volume, drv=None):
    """A 1 GiB volume written to its end."""
    vol = volume(drv=drv)
    fill(volume_file(appliance, vol), GIB)
    assert used_bytes(appliance, vol.provider_id) > GIB  # the file system's own blocks
    return vol


def test_full_volume_clones_snapshots_reverts_and_extends(
        driver, appliance, volume, new_volume, snapshot, ctx):
    vol = full_volume(appliance, volume)
    assert used_bytes(appliance, vol.provider_id) <= QUOTA[1]  # the headroom covers them
    snap = snapshot(vol)
    assert appliance.snapshots(vol.provider_id)[0].used_bytes > GIB

    from_snap = new_volume()
    from_snap.update(driver.create_volume_from_snapshot(from_snap, snap))
    fill(volume_file(appliance, vol), 4 * MIB, seed=b'overwritten')
    assert not holds(volume_file(appliance, vol))
    driver.revert_to_snapshot(ctx, vol, snap)  # the appliance's rollback
    assert holds(volume_file(appliance, vol))
    clone = new_volume()
    clone.update(driver.create_cloned_volume(clone, vol))
    for made in (from_snap, clone):
        assert holds(volume_file(appliance, made))
        assert appliance.share_named('cinder-' + made.name).quota_bytes == QUOTA[1]

    driver.delete_snapshot(snap)
    driver.extend_volume(vol, 2)
    assert appliance.share_named('cinder-' + vol.name).quota_bytes == QUOTA[2]
    assert holds(volume_file(appliance, vol))

    for made in (from_snap, clone, vol):
        driver.delete_volume(made)
    assert_clean(driver, appliance)


def test_without_headroom_clones_get_the_used_bytes_of_their_origin(
        make_driver, appliance, volume, new_volume, snapshot, ctx):
    """acme_share_quota_headroom = 0: quota = size, as shares made before the headroom were;
    a clone's quota is then its origin's used bytes, rounded up to the appliance's MiB."""
    drv = make_driver(acme_share_quota_headroom=0)
    vol = full_volume(appliance, volume, drv)
    assert appliance.share_named('cinder-' + vol.name).quota_bytes == GIB
    snap = snapshot(vol, drv)
    origin_used = appliance.snapshots(vol.provider_id)[0].used_bytes

    from_snap = new_volume()
    from_snap.update(drv.create_volume_from_snapshot(from_snap, snap))
    assert holds(volume_file(appliance, from_snap))
    assert appliance.share_named('cinder-' + from_snap.name).quota_bytes == \
        -(-origin_used // MIB) * MIB > GIB

    newer = snapshot(vol, drv)
    fill(volume_file(appliance, vol), 4 * MIB, seed=b'overwritten')
    assert not holds(volume_file(appliance, vol))
    drv.revert_to_snapshot(ctx, vol, snap)  # newer snapshot: a copy from a temporary clone
    assert holds(volume_file(appliance, vol))

    for made in (newer, snap):
        drv.delete_snapshot(made)
    for made in (from_snap, vol):
        drv.delete_volume(made)
    assert_clean(drv, appliance)


def test_full_share_made_with_quota_equal_to_size_is_managed(driver, appliance, new_volume):
    share = appliance.create_share('legacy', quota_bytes=GIB)
    path = appliance.share_dir(share['id']) / 'disk.img'
    path.touch()
    fill(path, GIB)
    assert used_bytes(appliance, share['id']) > GIB
    vol = new_volume(size=1)
    vol.update(driver.manage_existing(vol, {'source-name': 'legacy'}))
    assert appliance.share_named('cinder-' + vol.name).quota_bytes == QUOTA[1]
    assert holds(volume_file(appliance, vol))
    driver.delete_volume(vol)
    assert_clean(driver, appliance)
