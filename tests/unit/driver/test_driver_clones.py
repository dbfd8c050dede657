"""AcmeNfsDriver: snapshots, clones, the clone graph's garbage collection, revert, manage."""

from __future__ import annotations

import itertools
import os
import stat

import pytest
from test_driver_volumes import GIB, assert_clean, volume_file

from cinder import exception


def write(appliance, vol, data: bytes, offset: int = 0) -> None:
    with open(volume_file(appliance, vol), 'r+b') as f:
        f.seek(offset)
        f.write(data)


def read(appliance, vol, size: int, offset: int = 0) -> bytes:
    with open(volume_file(appliance, vol), 'rb') as f:
        f.seek(offset)
        return f.read(size)


# -- snapshots ---------------------------------------------------------------------------
def test_create_and_delete_snapshot_one_call_each(driver, appliance, volume, new_snapshot):
    vol = volume()
    snap = new_snapshot(vol)
    appliance.reset_calls()
    update = driver.create_snapshot(snap)
    assert appliance.api_calls() == [('POST', f'/shares/{vol.provider_id}/snapshots')]
    assert appliance.snapshots[update['provider_id']]['name'] == snap.name
    snap.update(update)
    appliance.reset_calls()
    driver.delete_snapshot(snap)
    assert appliance.api_calls() == [
        ('DELETE', f"/shares/{vol.provider_id}/snapshots/{update['provider_id']}")]
    assert_clean(driver, appliance, shares=1)


def test_delete_snapshot_already_gone_is_success(driver, appliance, volume, snapshot):
    snap = snapshot(volume())
    del appliance.snapshots[snap.provider_id]
    driver.delete_snapshot(snap)


def test_delete_snapshot_without_provider_id_finds_it_by_name(driver, appliance, volume,
                                                              snapshot):
    snap = snapshot(volume())
    snap.provider_id = None
    driver.delete_snapshot(snap)
    assert appliance.snapshots == {}


def test_delete_snapshot_with_clone_is_busy(driver, appliance, volume, snapshot, new_volume):
    snap = snapshot(volume())
    driver.create_volume_from_snapshot(new_volume(), snap)
    with pytest.raises(exception.SnapshotIsBusy):
        driver.delete_snapshot(snap)
    assert snap.provider_id in appliance.snapshots


def test_create_snapshot_failure(driver, appliance, volume, new_snapshot):
    vol = volume()
    appliance.fail('POST', '/shares/.*/snapshots', status=507, code='NO_SPACE')
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.create_snapshot(new_snapshot(vol))
    assert appliance.snapshots == {}


# -- create_volume_from_snapshot -------------------------------------------------------------
def test_volume_from_snapshot_renames_file_and_keeps_data(driver, appliance, volume, snapshot,
                                                          new_volume):
    src = volume()
    write(appliance, src, b'before')
    snap = snapshot(src)
    write(appliance, src, b'after!')
    vol = new_volume()
    appliance.reset_calls()
    vol.update(driver.create_volume_from_snapshot(vol, snap))
    assert appliance.api_calls() == [('POST', '/shares')]
    share = appliance.shares[vol.provider_id]
    assert share['origin_snapshot_id'] == snap.provider_id
    assert sorted(os.listdir(appliance.share_dir(vol.provider_id))) == [vol.name]
    assert read(appliance, vol, 6) == b'before'
    assert stat.S_IMODE(os.stat(volume_file(appliance, vol)).st_mode) == 0o660
    assert_clean(driver, appliance, shares=2, snapshots=1)


def test_volume_from_snapshot_larger_is_resized(driver, appliance, volume, snapshot, new_volume):
    snap = snapshot(volume())
    vol = new_volume(size=3)
    vol.update(driver.create_volume_from_snapshot(vol, snap))
    assert appliance.shares[vol.provider_id]['quota_bytes'] == 3 * GIB
    info = os.stat(volume_file(appliance, vol))
    assert info.st_size == 3 * GIB and info.st_blocks == 0


def test_volume_from_snapshot_waits_for_the_file(driver, appliance, volume, snapshot,
                                                 new_volume, monkeypatch):
    """NFS attribute caches lag: the file shows up after a few polls."""
    snap = snapshot(volume())
    real_isfile, seen = os.path.isfile, []

    def late_isfile(path):
        seen.append(path)
        return len(seen) > 3 and real_isfile(path)

    monkeypatch.setattr('acme_cinder.nfs.os.path.isfile', late_isfile)
    monkeypatch.setattr('acme_cinder.nfs.time.sleep', lambda s: None)
    vol = new_volume()
    vol.update(driver.create_volume_from_snapshot(vol, snap))
    assert len(seen) > 3


def test_volume_from_snapshot_file_never_appears(driver, appliance, volume, snapshot,
                                                 new_volume, monkeypatch):
    snap = snapshot(volume())
    os.unlink(appliance.snapshot_dir(snap.provider_id) / snap.volume.name)
    with pytest.raises(exception.VolumeBackendAPIException, match='did not appear'):
        driver.create_volume_from_snapshot(new_volume(), snap)
    assert_clean(driver, appliance, shares=1, snapshots=1)


@pytest.mark.parametrize('step', ['POST', 'mount', 'mv', 'chmod'])
def test_volume_from_snapshot_failure_cleans_up(driver, appliance, volume, snapshot,
                                                new_volume, step):
    snap = snapshot(volume())
    if step == 'POST':
        appliance.fail('POST', '/shares')
    elif step == 'mount':
        driver._remotefsclient.fail_mounts = 99
    else:
        driver._execute.fail(step)
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.create_volume_from_snapshot(new_volume(), snap)
    assert_clean(driver, appliance, shares=1, snapshots=1)


# -- create_cloned_volume ------------------------------------------------------------------
def test_cloned_volume_uses_hidden_snapshot(driver, appliance, volume, new_volume):
    src = volume()
    write(appliance, src, b'data')
    vol = new_volume()
    appliance.reset_calls()
    vol.update(driver.create_cloned_volume(vol, src))
    assert appliance.api_calls() == [('POST', f'/shares/{src.provider_id}/snapshots'),
                                     ('POST', '/shares')]
    (hidden,) = appliance.snapshots.values()
    assert hidden['name'] == 'cinder-clone-' + vol.id
    assert read(appliance, vol, 4) == b'data'
    assert_clean(driver, appliance, shares=2, snapshots=1)


@pytest.mark.parametrize('step', ['snapshot', 'POST', 'mount', 'mv'])
def test_cloned_volume_failure_leaves_no_share_or_hidden_snapshot(driver, appliance, volume,
                                                                  new_volume, step):
    src = volume()
    if step == 'snapshot':
        appliance.fail('POST', '/shares/.*/snapshots')
    elif step == 'POST':
        appliance.fail('POST', '/shares')
    elif step == 'mount':
        driver._remotefsclient.fail_mounts = 99
    else:
        driver._execute.fail('mv')
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.create_cloned_volume(new_volume(), src)
    assert_clean(driver, appliance, shares=1, snapshots=0)


def test_cloned_volume_larger_than_source(driver, appliance, volume, new_volume):
    vol = new_volume(size=2)
    vol.update(driver.create_cloned_volume(vol, volume()))
    assert os.stat(volume_file(appliance, vol)).st_size == 2 * GIB


# -- delete orders end with an empty appliance ------------------------------------------------
def chain(driver, volume, new_volume, length):
    """A clone of a clone of ... of a volume: [origin, clone1, clone2, ...]."""
    vols = [volume()]
    for _clone in range(length - 1):
        vol = new_volume()
        vol.update(driver.create_cloned_volume(vol, vols[-1]))
        vols.append(vol)
    return vols


@pytest.mark.parametrize('order', list(itertools.permutations(range(3))))
def test_every_delete_order_of_a_clone_chain_empties_the_appliance(driver, appliance, volume,
                                                                   new_volume, order):
    vols = chain(driver, volume, new_volume, 3)
    for index in order:
        driver.delete_volume(vols[index])
        survivors = [v for i, v in enumerate(vols) if i not in order[:order.index(index) + 1]]
        assert {v.provider_id for v in survivors} == set(appliance.shares)
        for vol in survivors:
            assert volume_file(appliance, vol).is_file()
    assert_clean(driver, appliance)


@pytest.mark.parametrize('order', list(itertools.permutations(range(4))))
def test_every_delete_order_of_two_clones_of_one_origin(driver, appliance, volume, new_volume,
                                                        order):
    origin = volume()
    clones = []
    for _clone in range(2):
        vol = new_volume()
        vol.update(driver.create_cloned_volume(vol, origin))
        clones.append(vol)
    grandchild = new_volume()
    grandchild.update(driver.create_cloned_volume(grandchild, clones[0]))
    vols = [origin, *clones, grandchild]
    for index in order:
        driver.delete_volume(vols[index])
    assert_clean(driver, appliance)


def test_clone_of_volume_from_user_snapshot_then_deletes(driver, appliance, volume, snapshot,
                                                         new_volume):
    origin = volume()
    snap = snapshot(origin)
    from_snap = new_volume()
    from_snap.update(driver.create_volume_from_snapshot(from_snap, snap))
    clone = new_volume()
    clone.update(driver.create_cloned_volume(clone, from_snap))
    driver.delete_volume(from_snap)
    with pytest.raises(exception.SnapshotIsBusy):
        driver.delete_snapshot(snap)  # the promoted clone still depends on it
    driver.delete_volume(clone)
    driver.delete_snapshot(snap)
    driver.delete_volume(origin)
    assert_clean(driver, appliance)


def test_delete_with_promote_failure_is_reported_and_retry_succeeds(driver, appliance, volume,
                                                                    new_volume):
    origin, clone = chain(driver, volume, new_volume, 2)
    appliance.fail('POST', '/shares/.*/promote')
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.delete_volume(origin)
    assert len(appliance.shares) == 2
    driver.delete_volume(origin)
    driver.delete_volume(clone)
    assert_clean(driver, appliance)


# -- revert --------------------------------------------------------------------------------
def test_revert_uses_appliance_rollback(driver, appliance, volume, snapshot, ctx):
    vol = volume()
    write(appliance, vol, b'old')
    snap = snapshot(vol)
    write(appliance, vol, b'new')
    appliance.reset_calls()
    driver.revert_to_snapshot(ctx, vol, snap)
    assert appliance.api_calls() == [
        ('POST', f'/shares/{vol.provider_id}/snapshots/{snap.provider_id}/rollback')]
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
    assert {snap.provider_id, newer.provider_id} == set(appliance.snapshots)
    assert_clean(driver, appliance, shares=1, snapshots=2)


def test_revert_file_copy_failure_removes_temporary_clone(driver, appliance, volume, snapshot,
                                                          ctx):
    vol = volume()
    snap = snapshot(vol)
    snapshot(vol)
    driver._execute.fail('cp')
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.revert_to_snapshot(ctx, vol, snap)
    assert_clean(driver, appliance, shares=1, snapshots=2)


def test_snapshot_revert_needs_no_temp_snapshot(driver):
    assert driver.snapshot_revert_use_temp_snapshot() is False


# -- manage / unmanage ------------------------------------------------------------------------
@pytest.fixture
def foreign_share(driver, appliance):
    """A share made outside Cinder holding one 1.5 GiB file."""
    share = driver.client.shares.create('legacy', 'pool1')
    path = appliance.share_dir(share['id']) / 'disk.img'
    with open(path, 'wb') as f:
        f.truncate(GIB + GIB // 2)
    appliance.reset_calls()
    return share


@pytest.mark.parametrize('ref_key', ['source-name', 'source-id'])
def test_manage_existing_volume(driver, appliance, foreign_share, new_volume, ref_key):
    ref = {ref_key: foreign_share['name'] if ref_key == 'source-name' else foreign_share['id']}
    vol = new_volume(size=None)
    assert driver.manage_existing_get_size(vol, ref) == 2
    vol.size = 2
    vol.update(driver.manage_existing(vol, ref))
    share = appliance.shares[foreign_share['id']]
    assert share['name'] == 'cinder-' + vol.name and share['quota_bytes'] == 2 * GIB
    assert vol.provider_location.endswith('/pool1/cinder-' + vol.name)
    assert os.listdir(appliance.share_dir(share['id'])) == [vol.name]
    assert share['nfs']['rules'][0]['clients'] == '10.0.0.5'
    driver.unmanage(vol)
    assert_clean(driver, appliance, shares=1)


@pytest.mark.parametrize('ref', [{'source-name': 'nope'}, {'source-id': 'nope'}, {}])
def test_manage_existing_bad_reference(driver, new_volume, ref):
    with pytest.raises(exception.ManageExistingInvalidReference):
        driver.manage_existing_get_size(new_volume(), ref)


def test_manage_existing_share_with_two_files_is_refused(driver, appliance, foreign_share,
                                                         new_volume):
    (appliance.share_dir(foreign_share['id']) / 'other').write_bytes(b'x')
    with pytest.raises(exception.ManageExistingInvalidReference, match='exactly one'):
        driver.manage_existing(new_volume(), {'source-name': 'legacy'})
    assert driver._remotefsclient.table == {}


def test_get_manageable_volumes(driver, appliance, foreign_share, volume):
    managed = volume()
    entries = driver.get_manageable_volumes([managed], None, 10, 0, ['size'], ['asc'])
    by_name = {e['reference']['source-name']: e for e in entries}
    assert by_name['legacy']['safe_to_manage'] is True
    mine = by_name['cinder-' + managed.name]
    assert mine['safe_to_manage'] is False and mine['cinder_id'] == managed.id
    assert appliance.api_calls() == [('POST', '/shares'), ('GET', '/shares')]


def test_manage_existing_snapshot(driver, appliance, volume, new_snapshot):
    vol = volume()
    made = driver.client.shares  # noqa: F841 - the client is the test's appliance handle
    raw = driver.client.snapshots.create(vol.provider_id, 'before-upgrade')
    snap = new_snapshot(vol)
    assert driver.manage_existing_snapshot_get_size(snap, {'source-name': 'before-upgrade'}) == 1
    assert driver.manage_existing_snapshot(snap, {'source-id': raw['id']}) == {
        'provider_id': raw['id']}
    driver.unmanage_snapshot(snap)
    with pytest.raises(exception.ManageExistingInvalidReference):
        driver.manage_existing_snapshot(snap, {'source-name': 'nope'})


def test_get_manageable_snapshots_hides_internal_ones(driver, appliance, volume, snapshot,
                                                      new_volume):
    vol = volume()
    snap = snapshot(vol)
    driver.client.snapshots.create(vol.provider_id, 'foreign')
    clone = new_volume()
    clone.update(driver.create_cloned_volume(clone, vol))
    entries = driver.get_manageable_snapshots([snap], None, 10, 0, ['size'], ['asc'])
    by_name = {e['reference']['source-name']: e for e in entries}
    assert by_name['foreign']['safe_to_manage'] is True
    assert by_name[snap.name]['cinder_id'] == snap.id
    assert by_name['cinder-clone-' + clone.id]['safe_to_manage'] is False
