"""acme_share and acme_share_info through real ansible-playbook against the real simulator."""

import pytest

pytestmark = pytest.mark.integration
GIB, MIB = 1024 ** 3, 1024 ** 2
RULES = [{'clients': '10.0.0.0/24', 'access': 'rw', 'root_squash': False},
         {'clients': '*', 'access': 'ro'}]


def share(name, title=None, pool='pool1', **args):
    """A task of acme_share on share ``name``, titled ``title`` (results are read by title)."""
    return {'name': title or name, 'acme.nas.acme_share': dict(name=name, pool=pool, **args)}


def task(title, module, /, **args):
    return {'name': title, f'acme.nas.{module}': args}


def info(title, /, **args):
    return task(title, 'acme_share_info', **args)


def check(task_dict):
    return dict(task_dict, check_mode=True)


def tolerate(task_dict):
    return dict(task_dict, ignore_errors=True)


def test_share_lifecycle(ansible, client):
    """create, re-run, check mode, resize, NFS rules, rename, delete, absent re-run."""
    run = ansible.playbook([
        share('life', 'create', size='10GiB', nfs={'rules': RULES}),
        share('life', 'create again in MiB', size='10240MiB', nfs={'rules': RULES[::-1]}),
        check(share('life', 'check resize', size='20GiB')),
        info('after check resize', name='life', pool='pool1'),
        share('life', 'resize', size='20GiB'),
        share('life', 'resize again in bytes', size=20 * GIB),
        share('life', 'resize again in decimal units', size='21474836.48KB'),
        share('life', 'change rules', nfs={'rules': [dict(RULES[0], access='ro')]}),
        share('life', 'change rules again', nfs={'rules': [dict(RULES[0], access='ro')]}),
        share('life', 'disable nfs', nfs={'enabled': False}),
        check(share('life', 'check rename', new_name='life2')),
        share('life', 'rename', new_name='life2'),
        share('life', 'rename again', new_name='life2'),
        check(share('life2', 'check delete', state='absent')),
        info('after check delete', name='life2'),
        share('life2', 'delete', state='absent'),
        share('life2', 'delete again', state='absent'),
    ], '--diff')
    assert run.rc == 0, run.output
    r = run.results
    created = r['create']['share']
    assert r['create']['changed'] and r['create']['actions'] == ['create']
    assert created['quota_bytes'] == 10 * GIB and created['nfs']['enabled']
    assert {rule['clients'] for rule in created['nfs']['rules']} == {'10.0.0.0/24', '*'}
    assert r['create']['diff']['before'] == {}
    assert not r['create again in MiB']['changed']

    assert r['check resize']['changed'] and r['check resize']['share']['quota_bytes'] == 20 * GIB
    assert r['after check resize']['shares'][0]['quota_bytes'] == 10 * GIB

    resize = r['resize']
    assert resize['changed'] and resize['actions'] == ['resize']
    assert (resize['diff']['before']['quota_bytes'], resize['diff']['after']['quota_bytes']) == (
        10 * GIB, 20 * GIB)
    assert not r['resize again in bytes']['changed']
    assert not r['resize again in decimal units']['changed']

    assert r['change rules']['changed'] and r['change rules']['actions'] == ['nfs']
    assert r['change rules']['share']['nfs']['rules'] == [
        {'clients': '10.0.0.0/24', 'access': 'ro', 'root_squash': False}]
    assert not r['change rules again']['changed']
    disabled = r['disable nfs']
    assert disabled['changed'] and not disabled['share']['nfs']['enabled']
    assert disabled['share']['nfs']['rules'] == r['change rules']['share']['nfs']['rules']

    assert r['check rename']['changed']
    assert r['rename']['changed'] and r['rename']['share']['path'] == '/pool1/life2'
    assert (r['rename']['diff']['before']['name'], r['rename']['diff']['after']['name']) == (
        'life', 'life2')
    assert not r['rename again']['changed']
    assert r['check delete']['changed']
    assert [s['name'] for s in r['after check delete']['shares']] == ['life2']
    assert r['delete']['changed'] and r['delete']['share'] == {}
    assert r['delete']['diff']['after'] == {}
    assert not r['delete again']['changed']
    assert client.shares.find('life', 'pool1') is None
    assert client.shares.find('life2', 'pool1') is None


def test_check_mode_creates_nothing(ansible, client):
    run = ansible.playbook([share('ghost', size='1GiB', nfs={'rules': RULES})], '--check',
                           '--diff')
    assert run.rc == 0, run.output
    result = run['ghost']
    assert result['changed'] and 'id' not in result['share']
    assert result['diff']['after']['quota_bytes'] == GIB
    assert client.shares.find('ghost', 'pool1') is None


def test_diff_output_is_rendered(ansible, client):
    client.shares.create('shown', 'pool1', quota_bytes=GIB)
    run = ansible.playbook([share('shown', size='2GiB', nfs={'rules': [RULES[0]]})], '--diff')
    assert run.rc == 0, run.output
    assert f'-    "quota_bytes": {GIB}' in run.output
    assert f'+    "quota_bytes": {2 * GIB}' in run.output
    assert '+                "clients": "10.0.0.0/24",' in run.output
    assert 'changed: [localhost]' in run.output
    client.shares.delete(client.shares.find('shown', 'pool1')['id'])


def test_bad_parameters_fail_clearly_and_change_nothing(ansible, client, appliance,
                                                        appliance_state):
    keep = client.shares.create('keep', 'pool1', quota_bytes=10 * MIB)
    client.shares.create('other', 'pool1')
    client.snapshots.create(keep['id'], 'snap')
    (appliance.share_dir(keep['id']) / 'data.bin').write_bytes(b'x' * (3 * MIB))
    appliance.refresh_usage()
    assert client.shares.get(keep['id'])['used_bytes'] >= 3 * MIB
    before = appliance_state()
    run = ansible.playbook([tolerate(t) for t in [
        share('keep', 'size in words', size='ten GiB'),
        share('keep', 'shrink below used', size='1MiB'),
        share('big', 'larger than the pool', size='2GiB', pool='pool2'),
        share('bad/name', 'invalid name'),
        share('nfs-bad', 'invalid clients', nfs={'rules': [{'clients': 'not-an-ip'}]}),
        share('keep', 'unknown access', nfs={'rules': [{'clients': '*', 'access': 'rx'}]}),
        share('keep', 'delete with snapshots', state='absent'),
        share('keep', 'rename onto another share', new_name='other'),
        share('nope', 'rename of nothing', new_name='nope2'),
        share('clone', 'clone of a missing snapshot', from_snapshot={'share': 'keep',
                                                                     'snapshot': 'nope'}),
        share('x', 'missing pool', pool='nopool'),
    ]])
    assert run.rc == 0, run.output
    r = run.results
    assert all(result.get('failed') for result in r.values()), r
    messages = {name: result['msg'] for name, result in r.items()}
    assert messages['size in words'].startswith("size: invalid size 'ten GiB': use bytes")
    assert messages['shrink below used'].startswith('cannot resize share keep to 1 MiB')
    assert 'the size must be at least' in messages['shrink below used']
    assert messages['larger than the pool'] == (
        'size 2 GiB (2147483648 bytes) is larger than pool pool2 (1 GiB)')
    invalid = r['invalid name']
    assert invalid['msg'].startswith('cannot look up share bad/name in pool pool1: INVALID: ')
    assert invalid['error']['code'] == 'INVALID' and invalid['error']['status'] == 422
    assert invalid['error']['request_id'] and invalid['error']['request_id'] in invalid['msg']
    assert messages['invalid clients'] == (  # checked before the appliance is asked
        "nfs.rules: clients 'not-an-ip' is not an address, a network (CIDR) or *")
    assert 'value of access must be one of: rw, ro' in messages['unknown access']
    assert messages['delete with snapshots'] == (
        'share keep has 1 snapshot(s) (snap); set force=true to delete them with the share')
    assert 'already has a share named other' in messages['rename onto another share']
    assert 'has no share named nope (nor nope2)' in messages['rename of nothing']
    assert 'share keep in pool pool1 has no snapshot nope' in messages[
        'clone of a missing snapshot']
    assert messages['missing pool'] == 'pool nopool does not exist on the appliance'
    for result in r.values():
        assert 'Traceback (most recent call last)' not in str(result)
        assert result.get('exception') in (None, '(traceback unavailable)')
    assert appliance_state() == before


def test_clone_promote_and_force_delete(ansible, client):
    origin = client.shares.create('origin', 'pool1', quota_bytes=5 * GIB)
    snap = client.snapshots.create(origin['id'], 'gold')
    run = ansible.playbook([
        check(share('clone1', 'check clone', from_snapshot={'share': 'origin',
                                                            'snapshot': 'gold'})),
        share('clone1', 'clone', from_snapshot={'share': 'origin', 'snapshot': 'gold'}),
        share('clone1', 'clone again', from_snapshot={'share': 'origin', 'snapshot': 'gold'}),
        share('clone2', 'clone by id', from_snapshot={'snapshot': snap['id']}),
        tolerate(share('origin', 'delete origin with clones', state='absent', force=True)),
        share('clone1', 'promote', promote=True),
        share('clone1', 'promote again', promote=True),
        tolerate(share('clone2', 'delete clone2', state='absent')),
        share('origin', 'delete origin', state='absent', force=True),
    ], '--diff')
    assert run.rc == 0, run.output
    r = run.results
    assert r['check clone']['changed'] and r['check clone']['share']['quota_bytes'] == 5 * GIB
    clone = r['clone']['share']
    assert r['clone']['changed'] and clone['origin_snapshot_id'] == snap['id']
    assert clone['quota_bytes'] == 5 * GIB
    assert not r['clone again']['changed']
    assert r['clone by id']['share']['origin_snapshot_id'] == snap['id']
    blocked = r['delete origin with clones']
    assert blocked['failed'] and 'pool1/clone1, pool1/clone2' in blocked['msg']
    promoted = r['promote']
    assert promoted['changed'] and promoted['share']['origin_snapshot_id'] is None
    assert promoted['diff']['before']['origin_snapshot_id'] == snap['id']
    assert not r['promote again']['changed']
    assert r['delete clone2']['changed']
    assert r['delete origin']['changed']
    assert [s['name'] for s in client.snapshots.list(clone['id'])] == ['gold']
    assert client.shares.find('origin', 'pool1') is None


def test_share_info_filters_and_pool_capacity(ansible, client):
    client.shares.create('rep-a', 'pool1', quota_bytes=GIB)
    client.shares.create('rep-a', 'pool2', quota_bytes=MIB)
    client.shares.create('rep-b', 'pool2')
    run = ansible.playbook([
        info('all'),
        info('by name', name='rep-a'),
        info('by pool', pool='pool2'),
        info('missing pool', pool='nopool'),
    ])
    assert run.rc == 0, run.output
    r = run.results
    assert not r['all']['changed']
    assert {p['name'] for p in r['all']['pools']} == {'pool1', 'pool2'}
    assert [(s['pool'], s['name']) for s in r['by name']['shares']] == [
        ('pool1', 'rep-a'), ('pool2', 'rep-a')]
    by_pool = r['by pool']
    assert [s['name'] for s in by_pool['shares']] == ['rep-a', 'rep-b']
    (pool2,) = by_pool['pools']
    assert pool2['name'] == 'pool2' and pool2['total_bytes'] == GIB
    assert pool2['share_count'] == 2 and pool2['provisioned_bytes'] == MIB
    assert set(pool2) >= {'free_bytes', 'used_bytes'}
    assert r['missing pool']['shares'] == [] and r['missing pool']['pools'] == []
