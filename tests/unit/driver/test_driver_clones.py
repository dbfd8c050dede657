"""Snapshots, clones and deletes with Cinder's dependency semantics (issue 9).

Users may delete a snapshot or a volume that other volumes were made from; the
appliance keeps what those still need, hidden, and the driver removes it with the
last dependent share. Every test ends with the appliance holding exactly what Cinder
still knows and nothing mounted.
"""

from __future__ import annotations

import itertools
import os
import threading

import pytest
from driver_helpers import QUOTA, assert_clean

from tests.support.cinder_driver import read, volume_file, write
from tests.support.polling import wait_until

from acme_cinder import names

DATA = b'acme-data-' * 1000


def has_data(appliance, vol) -> bool:
    return read(appliance, vol, len(DATA)) == DATA


def _made_from(new_volume, create):
    """A factory of volumes made by ``create(volume, source)`` (provider fields set)."""
    def build(source, size=1):
        vol = new_volume(size=size)
        vol.update(create(vol, source))
        return vol
    return build


@pytest.fixture
def from_snapshot(driver, new_volume):
    return _made_from(new_volume, driver.create_volume_from_snapshot)


@pytest.fixture
def clone(driver, new_volume):
    return _made_from(new_volume, driver.create_cloned_volume)


# -- snapshots with dependent volumes ---------------------------------------------------
def test_delete_snapshot_with_dependent_volume_succeeds_and_keeps_it_hidden(
        driver, appliance, volume, snapshot, from_snapshot):
    source = volume()
    write(appliance, source, DATA)
    snap = snapshot(source)
    child = from_snapshot(snap)

    driver.delete_snapshot(snap)  # today: SnapshotIsBusy

    hidden = appliance.snapshots(source.provider_id)
    assert [s.name for s in hidden] == [names.DELETED_SNAPSHOT + snap.id]
    assert has_data(appliance, child)
    driver.delete_volume(child)
    assert_clean(driver, appliance, shares=1, snapshots=0)  # collected with its last clone
    driver.delete_volume(source)
    assert_clean(driver, appliance)


def test_delete_snapshot_without_dependents_deletes_it(driver, appliance, volume, snapshot):
    source = volume()
    snap = snapshot(source)
    appliance.calls.clear()
    driver.delete_snapshot(snap)
    assert appliance.writes == [f'DELETE /shares/{source.provider_id}/snapshots/{snap.provider_id}']
    assert_clean(driver, appliance, shares=1)


def test_delete_snapshot_already_gone_from_the_appliance_succeeds(
        driver, appliance, volume, snapshot):
    source = volume()
    snap = snapshot(source)
    appliance.call('DELETE', f'/shares/{source.provider_id}/snapshots/{snap.provider_id}', 204)
    driver.delete_snapshot(snap)
    assert_clean(driver, appliance, shares=1)


# -- volumes with clones -----------------------------------------------------------------
def test_delete_volume_with_clones_hides_its_share_until_the_last_clone_goes(
        driver, appliance, volume, clone):
    source = volume()
    write(appliance, source, DATA)
    first, second = clone(source), clone(source)

    driver.delete_volume(source)

    hidden = appliance.share_named(driver._names.deleted(source.id))
    assert hidden is not None and not hidden.nfs_enabled and hidden.nfs_rules == ()
    assert has_data(appliance, first) and has_data(appliance, second)
    driver.delete_volume(first)
    assert appliance.share_named(driver._names.deleted(source.id)) is not None
    driver.delete_volume(second)
    assert_clean(driver, appliance)


def test_clone_reads_the_source_data_and_passes_no_data_through_this_host(
        driver, appliance, volume, clone):
    source = volume()
    write(appliance, source, DATA)
    driver._execute.commands.clear()
    child = clone(source)
    assert has_data(appliance, child)
    assert not [c for c in driver._execute.commands if c[0] in ('cp', 'dd', 'cat', 'rsync')]
    driver.delete_volume(source)
    driver.delete_volume(child)
    assert_clean(driver, appliance)


# -- chains deleted in any order -----------------------------------------------------------
def _snapshot_chain(appliance, volume, snapshot, from_snapshot):
    """volume -> snapshot -> volume -> snapshot -> volume, DATA in each volume."""
    v1 = volume()
    write(appliance, v1, DATA)
    s1 = snapshot(v1)
    v2 = from_snapshot(s1)
    s2 = snapshot(v2)
    v3 = from_snapshot(s2)
    return {'v1': v1, 's1': s1, 'v2': v2, 's2': s2, 'v3': v3}


def _cinder_orders():
    """Every order Cinder allows: a volume goes only after its own snapshots."""
    for order in itertools.permutations(['v1', 's1', 'v2', 's2', 'v3']):
        if order.index('s1') < order.index('v1') and order.index('s2') < order.index('v2'):
            yield order


@pytest.mark.parametrize('order', list(_cinder_orders()), ids='-'.join)
def test_snapshot_chain_deleted_in_any_order_leaves_nothing(
        driver, appliance, volume, snapshot, from_snapshot, order):
    chain = _snapshot_chain(appliance, volume, snapshot, from_snapshot)
    for name in order:
        if name.startswith('s'):
            driver.delete_snapshot(chain[name])
        else:
            driver.delete_volume(chain[name])
        for alive in [n for n in ('v2', 'v3') if n not in order[:order.index(name) + 1]]:
            assert has_data(appliance, chain[alive]), f'{alive} lost data after {name}'
    assert_clean(driver, appliance)


@pytest.mark.parametrize('order', list(itertools.permutations(['a', 'b', 'c'])), ids='-'.join)
def test_clone_chain_deleted_in_any_order_leaves_nothing(driver, appliance, volume, clone,
                                                         order):
    a = volume()
    write(appliance, a, DATA)
    b = clone(a)
    c = clone(b)
    vols = {'a': a, 'b': b, 'c': c}
    for step, name in enumerate(order):
        driver.delete_volume(vols[name])
        for alive in order[step + 1:]:
            assert has_data(appliance, vols[alive]), f'{alive} lost data after {name}'
    assert_clean(driver, appliance)


# -- leftovers and what the collector may touch ----------------------------------------------
def test_leftover_of_an_interrupted_revert_never_blocks_deleting_snapshot_or_volume(
        driver, appliance, volume, snapshot):
    source = volume()
    snap = snapshot(source)
    appliance.create_share(driver._names.revert(source.id), origin_snapshot_id=snap.provider_id)
    driver.delete_snapshot(snap)
    assert_clean(driver, appliance, shares=1)
    driver.delete_volume(source)
    assert_clean(driver, appliance)


def test_managed_snapshot_is_never_collected_whatever_its_name(
        driver, appliance, volume, new_snapshot, from_snapshot):
    source = volume()
    made_by_operator = appliance.create_snapshot(source.provider_id,
                                                 names.CLONE_SOURCE_SNAPSHOT + 'nightly')
    managed = new_snapshot(source)
    managed.update(driver.manage_existing_snapshot(managed, {'source-name':
                                                             made_by_operator['name']}))
    child = from_snapshot(managed)
    driver.delete_volume(child)
    assert [s.name for s in appliance.snapshots(source.provider_id)] == [managed.name]
    assert_clean(driver, appliance, shares=1, snapshots=1)


def test_operator_snapshot_with_a_reserved_name_is_not_collected_with_a_volume(
        driver, appliance, volume, new_volume):
    """Only shares the driver deletes start a collection, and only of hidden snapshots."""
    source = volume()
    kept = appliance.create_snapshot(source.provider_id, names.DELETED_SNAPSHOT + 'ops')
    appliance.call('DELETE', f"/shares/{source.provider_id}/snapshots/{kept['id']}", 204)
    other = volume()
    driver.delete_volume(other)
    assert_clean(driver, appliance, shares=1)


# -- failures clean up what they made ---------------------------------------------------------
def test_volume_from_snapshot_larger_than_the_snapshot_grows_the_file(
        driver, appliance, volume, snapshot, from_snapshot):
    snap = snapshot(volume(size=1))
    child = from_snapshot(snap, size=2)
    assert os.path.getsize(volume_file(appliance, child)) == 2 * 1024**3
    assert appliance.share_named(f'cinder-{child.name}').quota_bytes == QUOTA[2]


# -- locks ---------------------------------------------------------------------------------
def test_lock_files_go_with_volumes_and_shares(driver, appliance, volume, snapshot,
                                               cinder_runtime):
    locks = cinder_runtime / 'locks'
    vol = volume()
    snap = snapshot(vol)
    driver.delete_snapshot(snap)
    driver.delete_volume(vol)
    driver.clean_volume_file_locks(vol.id)
    left = [p.name for p in locks.iterdir()] if locks.exists() else []
    assert not [n for n in left if vol.id in n or vol.provider_id in n], left


def test_snapshot_hidden_while_its_last_clone_goes_on_another_host_is_still_collected(
        make_driver, appliance, volume, snapshot, from_snapshot, tmp_path):
    """Host A deletes the snapshot while host B deletes its last clone: B judges the snapshot
    again under its share's lock, after A's hide, and collects it (issue 20)."""
    host_a, host_b = make_driver(), make_driver(base=tmp_path / 'mnt-b')
    source = volume(drv=host_a)
    snap = snapshot(source, drv=host_a)
    child = from_snapshot(snap)
    hide = host_a.client.snapshots.update
    other_host = threading.Thread(target=host_b.delete_volume, args=(child,))

    def hide_while_the_clone_goes(*args, **kwargs):
        other_host.start()  # B deletes the last clone between A's check and A's hide
        wait_until(lambda: child.provider_id not in {s.id for s in appliance.shares()},
                   timeout=30)
        return hide(*args, **kwargs)

    host_a.client.snapshots.update = hide_while_the_clone_goes
    host_a.delete_snapshot(snap)
    other_host.join(timeout=60)
    assert appliance.snapshots(source.provider_id) == []
    for drv in (host_a, host_b):
        assert_clean(drv, appliance, shares=1, snapshots=0)
