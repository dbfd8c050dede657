"""The one client against the real appliance over HTTPS on loopback: every endpoint."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from acme_appliance import auth
from ansible_collections.acme.nas.plugins.module_utils import acme_client as ac

pytestmark = pytest.mark.integration
MiB = 1024 * 1024


@pytest.fixture
def client(appliance):
    return appliance.client(retries=3, backoff=0.05)


def test_system_pools_and_tls(appliance, client):
    system = client.system.get()
    assert system['vendor'] == 'ACME STORAGE, Inc' and system['api_version'] == '1'
    assert {p['name'] for p in client.pools.list()} == {'pool1', 'pool2'}
    pool = client.pools.get('pool1')
    assert pool['total_bytes'] == 100 * 1024 ** 3
    assert pool['free_bytes'] + pool['used_bytes'] == pool['total_bytes']
    with pytest.raises(ac.NotFound):
        client.pools.get('nope')
    untrusting = ac.AcmeClient(appliance.url, 'admin', appliance.password, retries=0)
    with pytest.raises(ac.ConnectionFailed, match='CERTIFICATE_VERIFY_FAILED|certificate'):
        untrusting.system.get()


def test_wrong_password_is_unauthorized_and_never_shown(appliance):
    bad = ac.AcmeClient(appliance.url, 'admin', 'not-the-password', verify=appliance.ca_path)
    with pytest.raises(ac.Unauthorized) as raised:
        bad.pools.list()
    assert raised.value.request_id
    assert 'not-the-password' not in str(raised.value)
    assert 'not-the-password' not in appliance.log_path.read_text(errors='replace')
    assert appliance.password not in appliance.log_path.read_text(errors='replace')


def test_share_lifecycle(client):
    nfs = {'enabled': True, 'rules': [{'clients': '127.0.0.1', 'access': 'rw',
                                       'root_squash': False}]}
    share = client.shares.create('vol-a', 'pool1', quota_bytes=MiB + 1, nfs=nfs)
    assert share['quota_bytes'] == 2 * MiB  # rounded up by the appliance
    assert share['path'] == '/pool1/vol-a'
    assert share['exports'] == ['127.0.0.1:/pool1/vol-a']
    assert ac.same_nfs(share['nfs'], nfs)
    assert client.shares.get(share['id'])['name'] == 'vol-a'
    assert client.shares.find('vol-a', pool='pool1')['id'] == share['id']
    assert client.shares.find('vol-a', pool='pool2') is None
    again = client.shares.create('vol-a', 'pool1', quota_bytes=2 * MiB, nfs=nfs)
    assert again['id'] == share['id']  # adopted, not duplicated
    with pytest.raises(ac.AlreadyExists):
        client.shares.create('vol-a', 'pool1', quota_bytes=8 * MiB)
    resized = client.shares.update(share['id'], quota_bytes=10 * MiB)
    assert resized['quota_bytes'] == 10 * MiB
    renamed = client.shares.update(share['id'], name='vol-b')
    assert renamed['path'] == '/pool1/vol-b' and client.shares.find('vol-a') is None
    assert client.shares.set_nfs(share['id'], False, [])['enabled'] is False
    assert client.shares.get_nfs(share['id']) == {'enabled': False, 'rules': []}
    assert client.shares.delete(share['id']) is True
    assert client.shares.delete(share['id']) is False
    with pytest.raises(ac.NotFound):
        client.shares.get(share['id'])


@pytest.mark.parametrize('name', ['', '.hidden', '-dash', 'a/b', '../etc', 'x' * 65, 'sp ace'],
                         ids=['empty', 'dot', 'dash', 'slash', 'dotdot', 'long', 'space'])
def test_invalid_names_are_rejected(client, name):
    with pytest.raises(ac.Invalid):
        client.shares.create(name, 'pool1')
    assert client.shares.list() == []


def test_shrink_below_used_and_oversized_quota(appliance, client):
    share = client.shares.create('vol-u', 'pool1', quota_bytes=8 * MiB)
    with open(appliance.share_dir(share['id']) / 'data', 'wb') as f:
        f.write(os.urandom(3 * MiB))
        f.flush()
        os.fsync(f.fileno())
    with pytest.raises(ac.Invalid):
        client.shares.update(share['id'], quota_bytes=MiB)
    with pytest.raises(ac.NoSpace):
        client.shares.create('too-big', 'pool2', quota_bytes=2 * 1024 ** 3)
    assert client.shares.get(share['id'])['used_bytes'] >= 3 * MiB


def test_snapshots_clone_rollback_promote(appliance, client):
    origin = client.shares.create('origin', 'pool1', quota_bytes=64 * MiB)
    volume = appliance.share_dir(origin['id']) / 'volume-1'
    volume.write_bytes(b'first')
    snap = client.snapshots.create(origin['id'], 'snap-1')
    assert client.snapshots.create(origin['id'], 'snap-1')['id'] == snap['id']
    assert client.snapshots.get(snap['id'])['share_id'] == origin['id']
    assert client.snapshots.find(origin['id'], 'snap-1')['id'] == snap['id']
    volume.write_bytes(b'second')
    snap2 = client.snapshots.create(origin['id'], 'snap-2')

    clone = client.shares.create('clone', 'pool1', origin_snapshot_id=snap['id'])
    assert (appliance.share_dir(clone['id']) / 'volume-1').read_bytes() == b'first'
    assert client.shares.list(origin_snapshot_id=snap['id'])[0]['id'] == clone['id']
    assert client.snapshots.get(snap['id'])['clones'] == [clone['id']]
    with pytest.raises(ac.InUse):
        client.snapshots.delete(origin['id'], snap['id'])

    with pytest.raises(ac.AcmeError) as raised:  # newer snapshot exists
        client.snapshots.rollback(origin['id'], snap['id'])
    assert raised.value.status == 409
    volume.write_bytes(b'third')
    client.snapshots.rollback(origin['id'], snap2['id'])
    assert volume.read_bytes() == b'second'

    with pytest.raises(ac.InUse):
        client.shares.delete(origin['id'])
    with pytest.raises(ac.InUse):  # snap-1 has a clone: never deleted implicitly
        client.shares.delete(origin['id'], recursive=True)
    with pytest.raises(ac.Invalid):  # not a clone
        client.shares.promote(origin['id'])
    client.shares.promote(clone['id'])
    assert client.snapshots.get(snap['id'])['share_id'] == clone['id']
    assert client.shares.get(clone['id'])['origin_snapshot_id'] is None
    assert client.shares.delete(origin['id'], recursive=True) is True
    assert client.snapshots.list(clone['id'])[0]['id'] == snap['id']
    assert client.shares.delete(clone['id'], recursive=True) is True
    assert client.shares.list() == []


def test_sparse_snapshot_keeps_holes(appliance, client):
    share = client.shares.create('sparse', 'pool1', quota_bytes=128 * MiB)
    path = appliance.share_dir(share['id']) / 'volume-sparse'
    with open(path, 'wb') as f:
        f.truncate(64 * MiB)
        f.seek(10 * MiB)
        f.write(os.urandom(MiB))
    snap = client.snapshots.create(share['id'], 'snap')
    clone = client.shares.create('sparse-clone', 'pool1', origin_snapshot_id=snap['id'])
    copy = appliance.share_dir(clone['id']) / 'volume-sparse'
    assert copy.stat().st_size == 64 * MiB
    assert copy.stat().st_blocks * 512 < 4 * MiB
    assert copy.read_bytes() == path.read_bytes()
    assert client.shares.get(clone['id'])['used_bytes'] < 4 * MiB


def test_pagination_through_client(client):
    for i in range(12):
        client.shares.create(f'page-{i:02d}', 'pool1')
    page = client.http.request('GET', '/shares', params={'limit': 5})
    assert len(page['items']) == 5 and page['next']
    assert len(client.shares.list(pool='pool1')) == 12
    with pytest.raises(ac.Invalid):
        client.http.request('GET', '/shares', params={'limit': 1001})


def test_state_survives_restart(appliance, client):
    share = client.shares.create('persist', 'pool1', quota_bytes=4 * MiB)
    (appliance.share_dir(share['id']) / 'f').write_bytes(b'kept')
    snap = client.snapshots.create(share['id'], 'keep')
    appliance.restart()
    assert client.shares.get(share['id'])['quota_bytes'] == 4 * MiB  # re-login transparently
    assert client.snapshots.get(snap['id'])['name'] == 'keep'
    assert (appliance.share_dir(share['id']) / 'f').read_bytes() == b'kept'


def test_twenty_parallel_creates_and_deletes(client):
    names = [f'par-{i}' for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        created = list(pool.map(lambda n: client.shares.create(n, 'pool1', quota_bytes=MiB),
                                names))
    assert len({s['id'] for s in created}) == 20
    assert sorted(s['name'] for s in client.shares.list()) == sorted(names)
    with ThreadPoolExecutor(max_workers=20) as pool:
        deleted = list(pool.map(lambda s: client.shares.delete(s['id']), created[:10]))
        recreated = list(pool.map(lambda n: client.shares.create(n, 'pool1', quota_bytes=MiB),
                                  names[10:]))
    assert all(deleted) and {s['id'] for s in recreated} == {s['id'] for s in created[10:]}
    assert sorted(s['name'] for s in client.shares.list()) == sorted(names[10:])
    assert client.pools.get('pool1')['share_count'] == 10


def test_fault_busy_is_retried_for_get(appliance, client):
    client.system.get()
    appliance.add_fault(method='GET', path='/pools/pool1', nth=1, times=2, action='fail',
                        status=503, code='BUSY', retry_after=0)
    assert client.pools.get('pool1')['name'] == 'pool1'


def test_fault_busy_on_create_is_retried_and_adopted(appliance, client):
    client.system.get()
    appliance.add_fault(method='POST', path='/shares', nth=1, times=1, action='fail',
                        status=503, code='BUSY', retry_after=0)
    share = client.shares.create('busy', 'pool1')
    assert [s['id'] for s in client.shares.list()] == [share['id']]


def test_fault_dropped_connection_get_retried(appliance, client):
    client.system.get()
    appliance.add_fault(method='GET', path='/shares', nth=1, times=1, action='drop')
    assert client.shares.list() == []


def test_fault_delay_hits_read_timeout(appliance):
    client = appliance.client(retries=0, timeout=(2, 0.5))
    client.system.get()
    appliance.add_fault(method='GET', path='/system', nth=1, times=1, action='delay', delay=2)
    with pytest.raises(ac.ConnectionFailed, match='timed out'):  # not the delayed answer
        client.system.get()
    assert client.system.get()['api_version'] == '1'


def test_fault_internal_error_on_nth_call(appliance, client):
    client.system.get()
    appliance.add_fault(method='DELETE', path='/shares/.*', nth=2, times=1, action='fail',
                        status=500, code='INTERNAL')
    first, second = (client.shares.create(n, 'pool1') for n in ('f1', 'f2'))
    assert client.shares.delete(first['id'])
    with pytest.raises(ac.ApplianceError) as raised:
        client.shares.delete(second['id'])
    assert raised.value.request_id
    assert client.shares.get(second['id'])['name'] == 'f2'


def test_token_expiry_relogin(appliance, monkeypatch):
    client = appliance.client()
    client.system.get()
    token = client.http.token
    later = time.time() + appliance.config.token_ttl + 1  # the simulator's clock, not a wait
    monkeypatch.setattr(auth, 'time', SimpleNamespace(time=lambda: later))
    assert client.pools.get('pool1')['name'] == 'pool1'
    assert client.http.token != token
    assert [c.path for c in appliance.calls].count('/auth/login') == 2


# --- Issue 9: login and PATCH retried, Retry-After capped ------------------------------------
@pytest.fixture
def sleeps(monkeypatch):
    """The waits the client asks for (transport and create retries); nothing sleeps."""
    asked = []
    monkeypatch.setattr(ac, '_sleep', asked.append)
    return asked


def test_login_retried_on_busy(appliance, sleeps):
    appliance.add_fault(method='POST', path='/auth/login', nth=1, times=2, action='fail',
                        status=503, code='BUSY', retry_after=1)
    client = appliance.client(retries=3)
    assert client.system.get()['api_version'] == '1'
    assert appliance.sent('POST', '/auth/login') == 3
    assert sleeps == [1.0, 1.0]


def test_login_retried_on_dropped_connection(appliance, sleeps):
    appliance.add_fault(method='POST', path='/auth/login', nth=1, times=1, action='drop')
    client = appliance.client(retries=3, backoff=0.05)
    assert client.pools.get('pool1')['name'] == 'pool1'
    assert appliance.sent('POST', '/auth/login') == 2
    assert len(sleeps) == 1 and 0.05 <= sleeps[0] <= 0.1


def test_login_gives_up_like_any_idempotent_call(appliance, sleeps):
    appliance.add_fault(method='POST', path='/auth/login', nth=1, times=10, action='fail',
                        status=503, code='BUSY', retry_after=0)
    with pytest.raises(ac.Busy) as raised:
        appliance.client(retries=2).system.get()
    assert raised.value.request_id
    assert appliance.sent('POST', '/auth/login') == 3


def test_patch_resize_and_rename_retried_on_busy(appliance, sleeps):
    client = appliance.client(retries=3)
    share = client.shares.create('patchy', 'pool1', quota_bytes=MiB)
    appliance.add_fault(method='PATCH', path='/shares/[^/]+', nth=1, times=1, action='fail',
                        status=503, code='BUSY', retry_after=0)
    assert client.shares.update(share['id'], quota_bytes=4 * MiB)['quota_bytes'] == 4 * MiB
    appliance.add_fault(method='PATCH', path='/shares/[^/]+', nth=1, times=1, action='fail',
                        status=503, code='BUSY', retry_after=0)
    assert client.shares.update(share['id'], name='patched')['name'] == 'patched'
    assert appliance.sent('PATCH') == 4
    assert sleeps == [0.0, 0.0]


def test_patch_applied_then_dropped_is_repeated_to_the_same_value(appliance, sleeps):
    client = appliance.client(retries=3, backoff=0.01)
    share = client.shares.create('twice', 'pool1', quota_bytes=MiB)
    appliance.add_fault(method='PATCH', path='/shares/[^/]+', nth=1, times=1, action='drop',
                        when='after')
    renamed = client.shares.update(share['id'], name='twice-b', quota_bytes=2 * MiB)
    assert (renamed['name'], renamed['quota_bytes']) == ('twice-b', 2 * MiB)
    assert appliance.sent('PATCH') == 2


@pytest.mark.parametrize(('kwargs', 'waited'), [({}, 60.0), ({'retry_after_max': 2.5}, 2.5)])
def test_retry_after_of_three_hours_waits_at_most_the_cap(appliance, sleeps, kwargs, waited):
    client = appliance.client(retries=3, **kwargs)
    client.system.get()
    appliance.add_fault(method='GET', path='/pools/pool1', nth=1, times=1, action='fail',
                        status=503, code='BUSY', retry_after=3 * 3600)
    appliance.add_fault(method='POST', path='/shares', nth=1, times=1, action='fail',
                        status=503, code='BUSY', retry_after=3 * 3600)
    assert client.pools.get('pool1')['name'] == 'pool1'
    assert client.shares.create('capped', 'pool1')['name'] == 'capped'
    assert sleeps == [waited, waited]
    assert appliance.sent('GET', '/pools/pool1') == 2 and appliance.sent('POST', '/shares') == 2


# --- Contract v1.1: share root ownership, snapshot rename ------------------------------------
def root_of(appliance, share_id: str) -> dict:
    """The share directory's owner and mode as the file system has them."""
    st = appliance.share_dir(share_id).stat()
    return {'uid': st.st_uid, 'gid': st.st_gid, 'mode': f'{st.st_mode & 0o7777:04o}'}


CINDER_ROOT = {'uid': 165, 'gid': 165, 'mode': '0770'}


def test_share_root_on_create_and_adoption(appliance, client):
    share = client.shares.create('owned', 'pool1', quota_bytes=MiB, root=CINDER_ROOT)
    assert share['root'] == CINDER_ROOT == root_of(appliance, share['id'])
    assert client.shares.create('owned', 'pool1', root=dict(CINDER_ROOT, mode='770'))['id'] \
        == share['id']
    assert client.shares.create('owned', 'pool1')['id'] == share['id']  # root not asked for
    with pytest.raises(ac.AlreadyExists) as raised:
        client.shares.create('owned', 'pool1', root=dict(CINDER_ROOT, uid=0))
    assert raised.value.details['id'] == share['id'] and raised.value.request_id
    plain = client.shares.create('plain-root', 'pool1')
    assert plain['root'] == {'uid': 0, 'gid': 0, 'mode': '0755'} == root_of(appliance, plain['id'])
    assert client.shares.create('plain-root', 'pool1', root=ac.DEFAULT_ROOT)['id'] == plain['id']


def test_share_root_update_is_retried_on_busy(appliance, client):
    share = client.shares.create('chown', 'pool1')
    wanted = {'uid': 1000, 'gid': 1001, 'mode': '0775'}
    appliance.add_fault(method='PATCH', path='/shares/[^/]+', nth=1, times=1, action='fail',
                        status=503, code='BUSY', retry_after=0)
    assert client.shares.update(share['id'], root=wanted)['root'] == wanted
    assert client.shares.update(share['id'], root=wanted)['root'] == wanted  # same value: 200
    assert root_of(appliance, share['id']) == wanted
    assert appliance.sent('PATCH') == 3


def test_clone_share_with_root(appliance, client):
    origin = client.shares.create('origin-r', 'pool1', root=CINDER_ROOT)
    snap = client.snapshots.create(origin['id'], 'base')
    clone = client.shares.create('clone-r', 'pool1', origin_snapshot_id=snap['id'],
                                 root=CINDER_ROOT)
    assert clone['root'] == CINDER_ROOT == root_of(appliance, clone['id'])
    again = client.shares.create('clone-r', 'pool1', origin_snapshot_id=snap['id'],
                                 root=CINDER_ROOT)
    assert again['id'] == clone['id']


def test_snapshot_rename(appliance, client):
    share = client.shares.create('renames', 'pool1')
    first = client.snapshots.create(share['id'], 'first')
    second = client.snapshots.create(share['id'], 'second')
    renamed = client.snapshots.update(share['id'], first['id'], 'first-b')
    assert (renamed['id'], renamed['name'], renamed['share_id']) == \
        (first['id'], 'first-b', share['id'])
    assert client.snapshots.find(share['id'], 'first-b')['id'] == first['id']
    assert client.snapshots.find(share['id'], 'first') is None
    assert client.snapshots.update(share['id'], first['id'], 'first-b')['name'] == 'first-b'
    with pytest.raises(ac.AlreadyExists) as raised:
        client.snapshots.update(share['id'], first['id'], 'second')
    assert raised.value.details['id'] == second['id'] and raised.value.request_id
    with pytest.raises(ac.NotFound):
        client.snapshots.update(share['id'], '00000000-0000-0000-0000-000000000000', 'x')
    with pytest.raises(ac.Invalid):
        client.snapshots.update(share['id'], first['id'], '../bad')


def test_snapshot_rename_is_retried_on_busy(appliance, client):
    share = client.shares.create('busy-rename', 'pool1')
    snap = client.snapshots.create(share['id'], 'before')
    appliance.add_fault(method='PATCH', path='/shares/[^/]+/snapshots/[^/]+', nth=1, times=1,
                        action='fail', status=503, code='BUSY', retry_after=0)
    assert client.snapshots.update(share['id'], snap['id'], 'after')['name'] == 'after'
    assert appliance.sent('PATCH') == 2
