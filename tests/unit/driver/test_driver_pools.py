"""Several appliance pools behind one backend (issue 20, "Several appliance pools").

With ``acme_pools`` the backend reports each appliance pool to Cinder as a pool of its own
(host@backend#<pool>) with its own capacity; every volume operation then works in the pool
of the volume's host. A clone stays in its source's pool (Cinder's scheduler asks for it,
the appliance makes clones nowhere else); a retype to another pool is Cinder's migration.
"""

from __future__ import annotations

import pytest
from driver_helpers import GROUP, HOST, assert_clean

from tests.support.appliance import POOLS

from cinder import exception

GIB = 1024 ** 3
BOTH = ['pool1', 'pool2']


@pytest.fixture
def pools_driver(make_driver):
    """A backend over pool1 (100 GiB) and pool2 (1 GiB: no quota headroom, so 1 GiB fits)."""
    return make_driver(acme_pool=None, acme_pools=BOTH, acme_share_quota_headroom=0)


def in_pool(pool: str) -> dict:
    return {'host': f'{HOST}@{GROUP}#{pool}'}


def test_each_pool_is_reported_to_the_scheduler_with_its_own_capacity(pools_driver):
    stats = pools_driver.get_volume_stats(refresh=True)
    reported = {pool['pool_name']: pool for pool in stats['pools']}
    assert list(reported) == BOTH
    for name, pool in reported.items():
        assert pool['total_capacity_gb'] == POOLS[name] / GIB
        assert pool['thin_provisioning_support'] is True and pool['multiattach'] is True
    assert 'total_capacity_gb' not in stats  # only per pool


def test_a_single_pool_backend_reports_as_before(driver):
    stats = driver.get_volume_stats(refresh=True)
    assert 'pools' not in stats and stats['total_capacity_gb'] == POOLS['pool1'] / GIB
    legacy = type('V', (), {'provider_location': None, 'host': 'x@y#z'})
    assert driver.get_pool(legacy) is None  # Cinder names the pool after volume_backend_name


@pytest.mark.parametrize('pool', BOTH)
def test_a_volume_is_made_in_the_pool_the_scheduler_chose(
        pools_driver, appliance, volume, pool):
    vol = volume(drv=pools_driver, **in_pool(pool))
    share, = appliance.shares()
    assert share.pool == pool and vol.provider_location.endswith(f':/{pool}/{share.name}')
    assert pools_driver.get_pool(vol) == pool
    pools_driver.extend_volume(vol, 1)
    pools_driver.delete_volume(vol)
    assert_clean(pools_driver, appliance)


def test_snapshot_clone_and_revert_stay_in_the_volumes_pool(
        pools_driver, appliance, volume, snapshot, new_volume):
    source = volume(drv=pools_driver, **in_pool('pool2'))
    snap = snapshot(source, drv=pools_driver)
    child = new_volume(**in_pool('pool2'))
    child.update(pools_driver.create_volume_from_snapshot(child, snap))
    clone = new_volume(**in_pool('pool2'))
    clone.update(pools_driver.create_cloned_volume(clone, source))
    pools_driver.revert_to_snapshot(None, source, snap)
    assert {s.pool for s in appliance.shares()} == {'pool2'}
    for vol in (child, clone):
        pools_driver.delete_volume(vol)
    pools_driver.delete_snapshot(snap)
    pools_driver.delete_volume(source)
    assert_clean(pools_driver, appliance)


def test_a_clone_asked_for_another_pool_is_refused_with_the_reason(
        pools_driver, appliance, volume, snapshot, new_volume):
    source = volume(drv=pools_driver, **in_pool('pool1'))
    snap = snapshot(source, drv=pools_driver)
    elsewhere = new_volume(**in_pool('pool2'))
    with pytest.raises(exception.VolumeBackendAPIException, match="origin's pool"):
        pools_driver.create_volume_from_snapshot(elsewhere, snap)
    assert [s.pool for s in appliance.shares()] == ['pool1']  # nothing made in pool2
    pools_driver.delete_snapshot(snap)
    pools_driver.delete_volume(source)
    assert_clean(pools_driver, appliance)


def test_a_migration_destination_is_made_in_its_own_pool_not_the_sources(
        pools_driver, appliance, volume, new_volume):
    """Cinder's generic migration (a retype to another pool or backend) makes the destination
    volume with the source's fields, its provider_location included (seen in the lab: a volume
    moved to a pool2/pool3 backend got its share in the source backend's pool1)."""
    source = volume(drv=pools_driver, **in_pool('pool1'))
    destination = new_volume(provider_location=source.provider_location, **in_pool('pool2'))
    destination.update(pools_driver.create_volume(destination))
    assert destination.provider_location.split(':/')[1].startswith('pool2/')
    assert sorted(s.pool for s in appliance.shares()) == ['pool1', 'pool2']
    pools_driver.delete_volume(destination)
    pools_driver.delete_volume(source)
    assert_clean(pools_driver, appliance)


def test_retype_to_another_pool_of_the_backend_is_left_to_cinders_migration(
        pools_driver, volume):
    vol = volume(drv=pools_driver, **in_pool('pool1'))
    same, _update = pools_driver.retype(None, vol, {}, {}, in_pool('pool1'))
    other, _update = pools_driver.retype(None, vol, {}, {}, in_pool('pool2'))
    assert (same, other) == (True, False)


@pytest.mark.parametrize('ref_key', ['source-name', 'source-id'])
def test_manage_takes_the_share_in_the_pool_of_the_volumes_host(
        pools_driver, appliance, new_volume, ref_key):
    share = appliance.create_share('legacy', pool='pool2')
    (appliance.share_dir(share['id']) / 'disk.img').write_bytes(b'x')
    ref = {ref_key: share['name'] if ref_key == 'source-name' else share['id']}
    with pytest.raises(exception.ManageExistingInvalidReference, match='in pool pool1'):
        pools_driver.manage_existing(new_volume(**in_pool('pool1')), ref)
    vol = new_volume(**in_pool('pool2'))
    vol.update(pools_driver.manage_existing(vol, ref))
    assert vol.provider_id == share['id'] and ':/pool2/' in vol.provider_location
    assert pools_driver.get_pool(vol) == 'pool2'


def test_manageable_lists_cover_every_pool_and_name_it(pools_driver, appliance):
    for pool in BOTH:
        share = appliance.create_share(f'legacy-{pool}', pool=pool)
        appliance.create_snapshot(share['id'], f'snap-{pool}')
    volumes = pools_driver.get_manageable_volumes([], None, 10, 0, ['reference'], ['asc'])
    snapshots = pools_driver.get_manageable_snapshots([], None, 10, 0, ['reference'], ['asc'])
    assert sorted(e['extra_info']['pool'] for e in volumes) == BOTH
    assert sorted(e['extra_info']['pool'] for e in snapshots) == BOTH


def test_a_volume_from_before_acme_pools_keeps_working(make_driver, appliance, volume):
    old = volume(drv=make_driver(), host=f'{HOST}@{GROUP}#{GROUP}')  # single-pool name
    now = make_driver(acme_pool=None, acme_pools=BOTH)
    assert now.get_pool(old) == 'pool1'  # what cinder-manage volume update_host should say
    now.extend_volume(old, 2)
    now.delete_volume(old)
    assert_clean(now, appliance)


@pytest.mark.parametrize('pools', [
    {'acme_pool': None, 'acme_pools': []},
    {'acme_pool': 'pool1', 'acme_pools': BOTH},
], ids=['neither', 'both'])
def test_a_backend_sets_exactly_one_of_acme_pool_and_acme_pools(make_driver, appliance, pools):
    with pytest.raises(exception.InvalidConfigurationValue, match='acme_pool'):
        make_driver(**pools)
    assert appliance.calls == []


def test_an_unknown_pool_of_acme_pools_is_named_at_start(make_driver):
    with pytest.raises(exception.VolumeBackendAPIException, match="pool 'pool9' does not exist"):
        make_driver(acme_pool=None, acme_pools=['pool1', 'pool9'])
