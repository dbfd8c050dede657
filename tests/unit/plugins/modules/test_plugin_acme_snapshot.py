"""acme_snapshot: create, delete, roll back, guards, check mode, diff (real simulator)."""

import pytest
from ansible_collections.acme.nas.plugins.modules.acme_snapshot import SnapshotModule, newer_than


@pytest.fixture
def db01(appliance):
    return appliance.create_share('db01')


@pytest.fixture
def snapshot(run_module, db01):
    def run(_check=False, **args):
        args.setdefault('share', 'db01')
        args.setdefault('pool', 'pool1')
        args.setdefault('name', 's1')
        return run_module(SnapshotModule, _check=_check, **args)
    return run


def test_create_then_rerun(snapshot, appliance, db01):
    result = snapshot()
    assert result['changed'] and result['actions'] == ['create']
    assert result['snapshot']['name'] == 's1' and result['snapshot']['share_id'] == db01['id']
    assert result['share']['name'] == 'db01'
    assert result['diff'] == {'before': {'share': 'pool1/db01', 'snapshots': []},
                              'after': {'share': 'pool1/db01', 'snapshots': ['s1']}}
    again = snapshot()
    assert not again['changed'] and again['snapshot']['id'] == result['snapshot']['id']
    assert len(appliance.writes) == 1


def test_check_mode_create(snapshot, appliance):
    result = snapshot(_check=True)
    assert result['changed'] and 'id' not in result['snapshot']
    assert appliance.writes == []


def test_share_found_without_pool(snapshot, appliance):
    assert snapshot(pool=None)['changed']


def test_share_in_two_pools_needs_pool(snapshot, appliance):
    appliance.create_share('db01', 'pool2')
    result = snapshot(pool=None)
    assert result['failed']
    assert result['msg'] == 'share db01 exists in several pools (pool1, pool2); set pool'


def test_missing_share(snapshot, appliance):
    assert snapshot(share='nope')['msg'] == 'share pool1/nope not found'
    gone = snapshot(share='nope', state='absent')
    assert not gone['changed'] and gone['share'] == {}


def test_delete_then_rerun(snapshot, appliance, db01):
    snapshot()
    checked = snapshot(_check=True, state='absent')
    assert checked['changed'] and appliance.snapshot_names(db01['id']) == ['s1']
    result = snapshot(state='absent')
    assert result['changed'] and result['snapshot'] == {}
    assert result['diff']['after']['snapshots'] == []
    assert not snapshot(state='absent')['changed']


def test_snapshot_with_clones_is_not_deleted(snapshot, appliance, refused, db01):
    s1 = appliance.create_snapshot(db01['id'], 's1')
    appliance.create_share('c1', origin_snapshot_id=s1['id'])
    for check in (True, False):
        assert refused(snapshot(_check=check, state='absent')) == (
            'cannot delete snapshot s1: shares were cloned from it (pool1/c1); '
            'delete or promote them first')


def test_rollback_to_the_newest(snapshot, appliance, db01):
    snapshot()
    result = snapshot(state='rolled_back')
    assert result['changed'] and result['actions'] == ['rollback']
    assert result['destroyed_snapshots'] == []
    rollback = appliance.calls[-1]
    snapshot_id = result['snapshot']['id']
    assert str(rollback) == f"POST /shares/{db01['id']}/snapshots/{snapshot_id}/rollback"
    assert not (rollback.json or {}).get('destroy_newer')


@pytest.mark.parametrize('check', [False, True])
def test_rollback_past_newer_snapshots_needs_destroy_newer(snapshot, appliance, refused, db01,
                                                           check):
    for name in ('s1', 's2', 's3'):
        appliance.create_snapshot(db01['id'], name)
    assert refused(snapshot(_check=check, state='rolled_back')) == (
        'cannot roll back to snapshot s1: newer snapshots exist (s2, s3); '
        'set destroy_newer=true to destroy them')


def test_rollback_with_destroy_newer(snapshot, appliance, db01):
    for name in ('s1', 's2', 's3'):
        appliance.create_snapshot(db01['id'], name)
    checked = snapshot(_check=True, state='rolled_back', destroy_newer=True)
    assert checked['changed'] and checked['destroyed_snapshots'] == ['s2', 's3']
    assert appliance.snapshot_names(db01['id']) == ['s1', 's2', 's3']
    result = snapshot(state='rolled_back', destroy_newer=True)
    assert result['destroyed_snapshots'] == ['s2', 's3']
    assert result['diff']['before']['snapshots'] == ['s1', 's2', 's3']
    assert result['diff']['after']['snapshots'] == ['s1']
    assert appliance.snapshot_names(db01['id']) == ['s1']


def test_rollback_does_not_destroy_a_snapshot_with_clones(snapshot, appliance, db01):
    appliance.create_snapshot(db01['id'], 's1')
    s2 = appliance.create_snapshot(db01['id'], 's2')
    appliance.create_share('c1', origin_snapshot_id=s2['id'])
    result = snapshot(state='rolled_back', destroy_newer=True)
    assert result['failed'] and result['msg'].startswith('cannot destroy snapshot s2')
    assert appliance.writes == []


def test_rollback_to_a_missing_snapshot(snapshot, appliance):
    result = snapshot(state='rolled_back')
    assert result['failed']
    assert result['msg'] == 'cannot roll share db01 back: it has no snapshot s1'


def test_newer_than():
    items = [{'id': 'a'}, {'id': 'b'}, {'id': 'c'}]
    assert newer_than({'id': 'a'}, items) == items[1:]
    assert newer_than({'id': 'c'}, items) == []
    assert newer_than({'id': 'x'}, items) == []
