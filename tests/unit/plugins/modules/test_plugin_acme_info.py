"""acme_share_info and acme_snapshot_info: filters, pool capacity, report-ready keys."""

import pytest
from ansible_collections.acme.nas.plugins.modules.acme_share_info import ShareInfoModule
from ansible_collections.acme.nas.plugins.modules.acme_snapshot_info import SnapshotInfoModule

GIB = 1024 ** 3


@pytest.fixture
def populated(appliance):
    a = appliance.create_share('a', quota_bytes=GIB)
    b = appliance.create_share('b')
    a2 = appliance.create_share('a', 'pool2')
    appliance.create_snapshot(a['id'], 'nightly')
    appliance.create_snapshot(a['id'], 'weekly')
    appliance.create_snapshot(a2['id'], 'nightly')
    appliance.set_used(a['id'], GIB // 2)  # after the snapshots: taking one re-measures
    return dict(a=a, b=b, a2=a2)


def test_all_shares_and_pools(run_module, appliance, populated):
    result = run_module(ShareInfoModule)
    assert not result['changed']
    assert [(s['pool'], s['name']) for s in result['shares']] == [
        ('pool1', 'a'), ('pool1', 'b'), ('pool2', 'a')]
    assert [p['name'] for p in result['pools']] == ['pool1', 'pool2']
    pool1 = result['pools'][0]
    assert pool1['share_count'] == 2
    assert (pool1['provisioned_bytes'], pool1['used_bytes']) == (GIB, GIB // 2)
    assert pool1['free_bytes'] == pool1['total_bytes'] - pool1['used_bytes']
    assert appliance.writes == []


@pytest.mark.parametrize('filters, expected', [
    ({'name': 'a'}, [('pool1', 'a'), ('pool2', 'a')]),
    ({'pool': 'pool2'}, [('pool2', 'a')]),
    ({'name': 'a', 'pool': 'pool1'}, [('pool1', 'a')]),
    ({'name': 'zzz'}, []),
])
def test_share_filters(run_module, populated, filters, expected):
    result = run_module(ShareInfoModule, **filters)
    assert [(s['pool'], s['name']) for s in result['shares']] == expected


def test_pool_filter_returns_only_that_pool(run_module, populated):
    assert [p['name'] for p in run_module(ShareInfoModule, pool='pool2')['pools']] == ['pool2']
    missing = run_module(ShareInfoModule, pool='nope')
    assert missing['pools'] == [] and missing['shares'] == []


def test_info_runs_in_check_mode(run_module, populated):
    assert len(run_module(ShareInfoModule, _check=True)['shares']) == 3


@pytest.mark.parametrize('filters, expected', [
    ({}, [('pool1', 'a', 'nightly'), ('pool1', 'a', 'weekly'), ('pool2', 'a', 'nightly')]),
    ({'name': 'nightly'}, [('pool1', 'a', 'nightly'), ('pool2', 'a', 'nightly')]),
    ({'share': 'a', 'pool': 'pool1'}, [('pool1', 'a', 'nightly'), ('pool1', 'a', 'weekly')]),
    ({'pool': 'pool2'}, [('pool2', 'a', 'nightly')]),
    ({'share': 'b'}, []),
    ({'share': 'nope'}, []),  # a missing share is no error: nothing to report
])
def test_snapshot_filters_and_share_keys(run_module, populated, filters, expected):
    result = run_module(SnapshotInfoModule, **filters)
    assert not result['changed']
    assert [(s['pool'], s['share_name'], s['name']) for s in result['snapshots']] == expected
    for item in result['snapshots']:
        assert {'id', 'share_id', 'created_at', 'used_bytes', 'clones'} <= set(item)
