"""acme_snapshot and acme_snapshot_info through real ansible-playbook against the simulator."""

import pytest

pytestmark = pytest.mark.integration


def snapshot(title, name, share='vol', **args):
    return {'name': title, 'acme.nas.acme_snapshot': dict(share=share, name=name, **args)}


def snapshot_info(title, /, **args):
    return {'name': title, 'acme.nas.acme_snapshot_info': args}


def test_snapshot_lifecycle_and_rollback(ansible, client, appliance):
    vol = client.shares.create('vol', 'pool1', quota_bytes=1024 ** 3)
    data = appliance.share_dir(vol['id']) / 'data.txt'
    data.write_text('version 1\n')
    first = ansible.playbook([
        dict(snapshot('check create', 's1', pool='pool1'), check_mode=True),
        snapshot_info('after check create', share='vol'),
        snapshot('create', 's1', pool='pool1'),
        snapshot('create again', 's1'),
    ], '--diff')
    assert first.rc == 0, first.output
    r = first.results
    assert r['check create']['changed'] and r['after check create']['snapshots'] == []
    created = r['create']
    assert created['changed'] and created['snapshot']['name'] == 's1'
    assert created['diff'] == {'before': {'share': 'pool1/vol', 'snapshots': []},
                               'after': {'share': 'pool1/vol', 'snapshots': ['s1']}}
    assert not r['create again']['changed']
    assert r['create again']['snapshot']['id'] == created['snapshot']['id']

    data.write_text('version 2\n')
    second = ansible.playbook([
        snapshot('newer', 's2'),
        dict(snapshot('rollback past s2', 's1', state='rolled_back'), ignore_errors=True),
        dict(snapshot('check rollback', 's1', state='rolled_back', destroy_newer=True),
             check_mode=True),
        snapshot_info('after check rollback', share='vol', pool='pool1'),
        snapshot('rollback', 's1', state='rolled_back', destroy_newer=True),
        dict(snapshot('rollback to nothing', 'nope', state='rolled_back'), ignore_errors=True),
        dict(snapshot('check delete', 's1', state='absent'), check_mode=True),
        snapshot('delete', 's1', state='absent'),
        snapshot('delete again', 's1', state='absent'),
        snapshot('delete on a missing share', 's1', share='nope', state='absent'),
    ], '--diff')
    assert second.rc == 0, second.output
    r = second.results
    assert r['rollback past s2']['failed']
    assert r['rollback past s2']['msg'] == (
        'cannot roll back to snapshot s1: newer snapshots exist (s2); set destroy_newer=true '
        'to destroy them')
    assert r['check rollback']['changed'] and r['check rollback']['destroyed_snapshots'] == ['s2']
    assert [s['name'] for s in r['after check rollback']['snapshots']] == ['s1', 's2']
    rollback = r['rollback']
    assert rollback['changed'] and rollback['destroyed_snapshots'] == ['s2']
    assert rollback['diff']['before']['snapshots'] == ['s1', 's2']
    assert rollback['diff']['after']['snapshots'] == ['s1']
    assert data.read_text() == 'version 1\n'
    assert r['rollback to nothing']['msg'] == 'cannot roll share vol back: it has no snapshot nope'
    assert r['check delete']['changed']
    assert r['delete']['changed'] and r['delete']['snapshot'] == {}
    assert not r['delete again']['changed']
    assert not r['delete on a missing share']['changed']
    assert client.snapshots.list(vol['id']) == []


def test_snapshot_with_clones_is_kept(ansible, client):
    base = client.shares.create('base', 'pool1')
    snap = client.snapshots.create(base['id'], 'gold')
    client.shares.create('base-clone', 'pool1', origin_snapshot_id=snap['id'])
    run = ansible.playbook([
        dict(snapshot('delete cloned', 'gold', share='base', state='absent'),
             ignore_errors=True),
    ])
    assert run.rc == 0, run.output
    assert run['delete cloned']['msg'] == (
        'cannot delete snapshot gold: shares were cloned from it (pool1/base-clone); '
        'delete or promote them first')
    assert client.snapshots.find(base['id'], 'gold') is not None


def test_snapshot_info_filters(ansible, client):
    for pool in ('pool1', 'pool2'):
        share = client.shares.create('inv', pool)
        client.snapshots.create(share['id'], 'nightly')
        client.snapshots.create(share['id'], 'weekly')
    run = ansible.playbook([
        snapshot_info('nightly', name='nightly', share='inv'),
        snapshot_info('pool2', share='inv', pool='pool2'),
        snapshot_info('missing share', share='nope'),
    ])
    assert run.rc == 0, run.output
    r = run.results
    assert [(s['pool'], s['share_name'], s['name']) for s in r['nightly']['snapshots']] == [
        ('pool1', 'inv', 'nightly'), ('pool2', 'inv', 'nightly')]
    assert [s['name'] for s in r['pool2']['snapshots']] == ['nightly', 'weekly']
    assert r['missing share']['snapshots'] == []
    assert not r['nightly']['changed']
