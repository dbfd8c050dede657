"""acme_info: gather_subset decides what is read and returned; nothing is ever changed."""

import pytest
from ansible_collections.acme.nas.plugins.modules.acme_info import InfoModule

GIB = 1024 ** 3
SYSTEM = {'vendor': 'ACME STORAGE, Inc', 'model': 'ACME NAS Simulator', 'api_version': '1'}


@pytest.fixture
def populated(appliance):
    a = appliance.create_share('a', quota_bytes=GIB)
    b = appliance.create_share('b', 'pool2')
    appliance.create_snapshot(a['id'], 'nightly')
    appliance.create_snapshot(b['id'], 'weekly')
    return dict(a=a, b=b)


def gets(appliance):
    """The paths the module read (logins left out)."""
    return [c.path for c in appliance.calls if c.path != '/auth/login']


def test_default_is_system_and_pools_without_listing_the_shares(run_module, appliance,
                                                                populated):
    result = run_module(InfoModule)
    assert not result['changed'] and result['gathered_subset'] == ['system', 'pools']
    assert SYSTEM.items() <= result['system'].items() and result['system']['version']
    counts = [(p['name'], p['share_count']) for p in result['pools']]
    assert counts == [('pool1', 1), ('pool2', 1)]
    assert result['pools'][0]['provisioned_bytes'] == GIB
    assert 'shares' not in result and 'snapshots' not in result
    assert [path.removeprefix('/api/v1') for path in gets(appliance)] == ['/system', '/pools']


def test_all_gathers_every_subset(run_module, appliance, populated):
    result = run_module(InfoModule, gather_subset=['all'])
    assert result['gathered_subset'] == ['system', 'pools', 'shares', 'snapshots']
    assert result['system']['vendor'] == 'ACME STORAGE, Inc'
    assert [(s['pool'], s['name']) for s in result['shares']] == [('pool1', 'a'), ('pool2', 'b')]
    assert [(s['pool'], s['share_name'], s['name']) for s in result['snapshots']] == [
        ('pool1', 'a', 'nightly'), ('pool2', 'b', 'weekly')]
    assert result['snapshots'][0]['share_id'] == populated['a']['id']
    assert appliance.writes == []


@pytest.mark.parametrize('subset, keys', [
    (['shares'], {'shares'}),
    (['snapshots'], {'snapshots'}),
    (['pools', 'system'], {'system', 'pools'}),
    (['snapshots', 'all'], {'system', 'pools', 'shares', 'snapshots'}),
])
def test_only_the_subsets_asked_for_are_returned(run_module, populated, subset, keys):
    result = run_module(InfoModule, gather_subset=subset)
    gathered = {'system', 'pools', 'shares', 'snapshots'} & set(result)
    assert gathered == keys and set(result['gathered_subset']) == keys


def test_snapshots_alone_do_not_return_the_shares(run_module, appliance, populated):
    result = run_module(InfoModule, gather_subset=['snapshots'])
    assert [s['name'] for s in result['snapshots']] == ['nightly', 'weekly']
    assert 'shares' not in result
    assert not any(path.endswith(('/system', '/pools')) for path in gets(appliance))


def test_check_mode_returns_the_same_and_changes_nothing(run_module, appliance, populated):
    normal = run_module(InfoModule, gather_subset=['all'])
    checked = run_module(InfoModule, _check=True, gather_subset=['all'])
    assert checked == normal and appliance.writes == []


def test_an_empty_appliance_gives_empty_lists(run_module):
    result = run_module(InfoModule, gather_subset=['all'])
    assert result['shares'] == [] and result['snapshots'] == []
    assert [p['share_count'] for p in result['pools']] == [0, 0]


def test_an_unknown_subset_fails_before_any_call(run_module, appliance):
    result = run_module(InfoModule, gather_subset=['system', 'volumes'])
    assert result.get('failed') and 'gather_subset' in result['msg']
    assert 'volumes' in result['msg'] and 'snapshots' in result['msg']
    assert appliance.calls == []


def test_an_appliance_error_is_a_message_with_its_code(run_module, appliance):
    appliance.add_fault(method='GET', path='/pools', action='fail', code='INTERNAL', status=500)
    result = run_module(InfoModule, retries=0)
    assert result.get('failed') and result['msg'].startswith('cannot list pools: INTERNAL: ')
    assert result['error']['status'] == 500 and 'exception' not in result
