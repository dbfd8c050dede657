"""The one appliance client (plugins/module_utils/acme_client.py) against the real simulator,
served in-process over HTTPS (tests/support/appliance.py): every endpoint, the error mapping,
login, retries, adoption and TLS verification; what the appliance itself does with a call is
tested in tests/unit/appliance. The waits the client asks for are recorded (``sleeps``), never
slept. What the simulator never answers is in test_acme_client_offline.py; requests outside the
appliance's schema in test_acme_client_validation.py.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests
from acme_appliance import auth
from ansible_collections.acme.nas.plugins.module_utils import acme_client as ac

from tests.support import tls_server
from tests.support.appliance import USER

MiB = 1024 * 1024
CINDER_ROOT = {'uid': 165, 'gid': 165, 'mode': '0770'}


@pytest.fixture
def client(appliance):
    return appliance.client(retries=3, backoff=0.05)


@pytest.fixture
def sleeps(monkeypatch):
    """The waits the client asks for (transport and create retries); nothing sleeps."""
    asked = []
    monkeypatch.setattr(ac, '_sleep', asked.append)
    return asked


def fail(appliance, method, path, code, times=1, **spec):
    """The next ``times`` calls of ``method`` to ``path`` (a regex) fail with ``code``."""
    appliance.add_fault(method=method, path=path, times=times, action='fail', code=code, **spec)


# --- Login and tokens -------------------------------------------------------------------------
def test_login_on_first_use_then_the_token_is_reused(appliance, client):
    client.pools.list()
    client.system.get()
    assert [c.path for c in appliance.calls] == ['/auth/login', '/pools', '/system']
    assert appliance.calls[0].json == {'username': 'admin', 'password': appliance.password}


def test_expired_token_logs_in_again_once_and_repeats_the_call(appliance, client, monkeypatch):
    client.system.get()
    token = client.http.token
    later = time.time() + appliance.config.token_ttl + 1  # the simulator's clock, not a wait
    monkeypatch.setattr(auth, 'time', SimpleNamespace(time=lambda: later))
    assert client.pools.get('pool1')['name'] == 'pool1'
    assert client.http.token != token
    assert [str(c) for c in appliance.calls[2:]] == [
        'GET /pools/pool1', 'POST /auth/login', 'GET /pools/pool1']


def test_a_second_401_is_raised_not_looped(appliance, client):
    client.system.get()
    fail(appliance, 'GET', '/pools', 'UNAUTHORIZED', times=5)
    with pytest.raises(ac.Unauthorized):
        client.pools.list()
    assert appliance.sent('GET', '/pools') == 2 and appliance.sent('POST', '/auth/login') == 2


def test_wrong_password_is_unauthorized_and_never_shown(appliance):
    bad = ac.AcmeClient(appliance.url, 'admin', 'not-the-password', verify=appliance.ca_path)
    with pytest.raises(ac.Unauthorized) as raised:
        bad.pools.list()
    assert raised.value.request_id
    shown = str(raised.value) + repr(raised.value) + appliance.log_path.read_text(errors='replace')
    assert 'not-the-password' not in shown and appliance.password not in shown


def test_password_never_in_repr_or_logs(appliance, client, caplog):
    caplog.set_level(logging.DEBUG)
    fail(appliance, 'GET', '/system', 'INTERNAL')
    with pytest.raises(ac.ApplianceError) as raised:
        client.system.get()
    assert appliance.password not in repr(client) + repr(client.http) + str(vars(client.http))
    assert appliance.password not in caplog.text
    assert f'GET /system -> 500 (request {raised.value.request_id})' in caplog.text


# --- Errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(('status', 'code', 'cls'), [
    (401, 'UNAUTHORIZED', ac.Unauthorized),
    (403, 'FORBIDDEN', ac.Forbidden),
    (404, 'NOT_FOUND', ac.NotFound),
    (409, 'ALREADY_EXISTS', ac.AlreadyExists),
    (409, 'IN_USE', ac.InUse),
    (422, 'INVALID', ac.Invalid),
    (507, 'NO_SPACE', ac.NoSpace),
    (503, 'BUSY', ac.Busy),
    (500, 'INTERNAL', ac.ApplianceError),
])
def test_every_error_code_maps_to_its_exception(appliance, status, code, cls):
    fail(appliance, 'PATCH', '/shares/s-1', code, times=5, message=f'{code} happened',
         retry_after=0)
    with pytest.raises(cls) as raised:
        appliance.client(retries=0).shares.update('s-1', quota_bytes=1)
    err = raised.value
    assert isinstance(err, ac.AcmeError) and err.request_id
    assert (err.code, err.status, err.details) == (code, status, {'injected': True})
    assert str(err) == f'{code}: {code} happened (HTTP {status}, request {err.request_id})'
    assert err.to_dict()['request_id'] == err.request_id


def test_internal_error_on_the_nth_call_only(appliance, client):
    fail(appliance, 'DELETE', '/shares/.*', 'INTERNAL', nth=2)
    first, second = (client.shares.create(n, 'pool1') for n in ('f1', 'f2'))
    assert client.shares.delete(first['id'])
    with pytest.raises(ac.ApplianceError) as raised:
        client.shares.delete(second['id'])
    assert raised.value.request_id
    assert client.shares.get(second['id'])['name'] == 'f2'


def test_read_timeout_is_a_connection_failure_not_the_late_answer(appliance):
    client = appliance.client(retries=0, timeout=(2, 0.5))
    client.system.get()
    appliance.add_fault(method='GET', path='/system', action='delay', delay=2)
    with pytest.raises(ac.ConnectionFailed, match='timed out'):
        client.system.get()
    assert client.system.get()['api_version'] == '1'


# --- Retries ----------------------------------------------------------------------------------
def test_get_gives_up_after_its_retries(appliance, client, sleeps):
    fail(appliance, 'GET', '/pools/pool1', 'BUSY', times=10)
    with pytest.raises(ac.Busy):
        client.pools.get('pool1')
    assert appliance.sent('GET', '/pools/pool1') == 4  # first try + 3 retries


def test_get_is_retried_on_a_dropped_connection(appliance, client, sleeps):
    appliance.add_fault(method='GET', path='/shares', action='drop')
    assert client.shares.list() == []
    assert appliance.sent('GET', '/shares', exact=True) == 2


def test_post_is_not_retried_by_the_transport(appliance, client, sleeps):
    share = appliance.create_share('vol1')
    fail(appliance, 'POST', '/shares/[^/]+/promote', 'BUSY', times=3)
    with pytest.raises(ac.Busy):
        client.shares.promote(share['id'])
    assert appliance.sent('POST', f"/shares/{share['id']}/promote") == 1


def test_create_is_retried_on_busy_and_done_once(appliance, client, sleeps):
    fail(appliance, 'POST', '/shares', 'BUSY', retry_after=0)
    share = client.shares.create('busy', 'pool1')
    assert [row.id for row in appliance.shares()] == [share['id']]
    assert appliance.sent('POST', '/shares', exact=True) == 2
    assert len(sleeps) == 1 and sleeps[0] > 0  # Retry-After: 0 is still a back-off


def test_create_gives_up_after_its_retries(appliance, client, sleeps):
    appliance.add_fault(method='POST', path='/shares', action='drop', times=10)
    with pytest.raises(ac.ConnectionFailed):
        client.shares.create('vol1', 'pool1')
    assert appliance.sent('POST', '/shares', exact=True) == 4  # first try + 3 retries
    assert appliance.shares() == []


def test_create_whose_answer_was_dropped_adopts_its_first_attempt(appliance, client, sleeps):
    appliance.add_fault(method='POST', path='/shares', action='drop', when='after')
    share = client.shares.create('vol1', 'pool1', quota_bytes=1000)
    assert [row.id for row in appliance.shares()] == [share['id']]
    assert [str(c) for c in appliance.calls[1:]] == [
        'POST /shares', 'POST /shares', f"GET /shares/{share['id']}"]


def test_dropped_create_then_a_conflict_without_id_is_raised(appliance, client, sleeps):
    appliance.add_fault(method='POST', path='/shares', action='drop')
    fail(appliance, 'POST', '/shares', 'ALREADY_EXISTS', nth=2)
    with pytest.raises(ac.AlreadyExists):
        client.shares.create('vol1', 'pool1')
    assert appliance.sent('POST', '/shares', exact=True) == 2 and len(sleeps) == 1


def test_login_is_retried_on_busy(appliance, sleeps):
    fail(appliance, 'POST', '/auth/login', 'BUSY', times=2, retry_after=1)
    assert appliance.client(retries=3).system.get()['api_version'] == '1'
    assert appliance.sent('POST', '/auth/login') == 3
    assert sleeps == [1.0, 1.0]


def test_login_is_retried_on_a_dropped_connection(appliance, sleeps):
    appliance.add_fault(method='POST', path='/auth/login', action='drop')
    assert appliance.client(retries=3, backoff=0.05).pools.get('pool1')['name'] == 'pool1'
    assert appliance.sent('POST', '/auth/login') == 2
    assert len(sleeps) == 1 and 0.05 <= sleeps[0] <= 0.1


def test_retry_after_0_is_a_retry_with_back_off(appliance, sleeps):
    fail(appliance, 'GET', '/pools', 'BUSY', times=2, retry_after=0)
    assert appliance.client(retries=3, backoff=0.05).pools.list()
    assert appliance.sent('GET', '/pools') == 3
    assert len(sleeps) == 2 and 0.05 <= sleeps[0] <= 0.1 and 0.1 <= sleeps[1] <= 0.15


def test_logout_revokes_the_token_when_the_client_is_done(appliance):
    with appliance.client() as client:
        client.system.get()
        token = client.http.token
    assert [str(c) for c in appliance.calls] == [
        'POST /auth/login', 'GET /system', 'POST /auth/logout']
    reply = requests.get(f'{appliance.api_url}/system', verify=str(appliance.ca_path),
                         headers={'Authorization': f'Bearer {token}'}, timeout=30)
    assert reply.status_code == 401
    assert client.system.get()['api_version'] == '1'  # logs in again
    client.logout()
    client.logout()  # nothing left to revoke: no call
    assert appliance.sent('POST', '/auth/logout') == 2


def test_login_gives_up_like_any_idempotent_call(appliance, sleeps):
    fail(appliance, 'POST', '/auth/login', 'BUSY', times=10, retry_after=0)
    with pytest.raises(ac.Busy) as raised:
        appliance.client(retries=2).system.get()
    assert raised.value.request_id
    assert appliance.sent('POST', '/auth/login') == 3


@pytest.mark.parametrize('change', [{'quota_bytes': 4 * MiB}, {'name': 'patched'},
                                    {'root': {'uid': 1000, 'gid': 1001, 'mode': '0775'}}])
def test_patch_is_retried_on_busy(appliance, client, sleeps, change):
    share = appliance.create_share('patchy', quota_bytes=MiB)
    fail(appliance, 'PATCH', '/shares/[^/]+', 'BUSY', retry_after=0)
    assert client.shares.update(share['id'], **change).items() >= change.items()
    assert appliance.sent('PATCH') == 2 and len(sleeps) == 1 and sleeps[0] > 0


def test_patch_applied_then_dropped_is_repeated_to_the_same_value(appliance, sleeps):
    client = appliance.client(retries=3, backoff=0.01)
    share = client.shares.create('twice', 'pool1', quota_bytes=MiB)
    appliance.add_fault(method='PATCH', path='/shares/[^/]+', action='drop', when='after')
    renamed = client.shares.update(share['id'], name='twice-b', quota_bytes=2 * MiB)
    assert (renamed['name'], renamed['quota_bytes']) == ('twice-b', 2 * MiB)
    assert appliance.sent('PATCH') == 2


def test_snapshot_rename_is_retried_on_busy(appliance, client, sleeps):
    share = client.shares.create('busy-rename', 'pool1')
    snap = client.snapshots.create(share['id'], 'before')
    fail(appliance, 'PATCH', '/shares/[^/]+/snapshots/[^/]+', 'BUSY', retry_after=0)
    assert client.snapshots.update(share['id'], snap['id'], 'after')['name'] == 'after'
    assert appliance.sent('PATCH') == 2


@pytest.mark.parametrize(('retry_after', 'cap', 'waited'), [
    (3 * 3600, {}, 60.0), (3 * 3600, {'retry_after_max': 2.5}, 2.5),
    (3 * 3600, {'retry_after_max': 0}, 0.0), (7, {}, 7.0)])
def test_retry_after_is_honoured_up_to_the_cap(appliance, sleeps, retry_after, cap, waited):
    client = appliance.client(retries=3, **cap)
    for method, path in (('GET', '/pools/pool1'), ('POST', '/shares')):
        fail(appliance, method, path, 'BUSY', retry_after=retry_after)
    assert client.pools.get('pool1')['name'] == 'pool1'
    assert client.shares.create('capped', 'pool1')['name'] == 'capped'
    assert sleeps == [waited, waited]
    assert appliance.sent('GET', '/pools/pool1') == 2 and appliance.sent('POST', '/shares') == 2


# --- Every endpoint ---------------------------------------------------------------------------
def test_system_and_pools(client):
    system = client.system.get()
    assert system['vendor'] == 'ACME STORAGE, Inc' and system['api_version'] == '1'
    assert {p['name'] for p in client.pools.list()} == {'pool1', 'pool2'}
    pool = client.pools.get('pool1')
    assert pool['total_bytes'] == 100 * 1024 ** 3
    assert pool['free_bytes'] + pool['used_bytes'] == pool['total_bytes']
    with pytest.raises(ac.NotFound):
        client.pools.get('nope')


@pytest.fixture(params=list(tls_server.TLS_CASES))
def endpoint(request, appliance, tmp_path):
    yield from tls_server.endpoint(request.param, appliance, tmp_path)


def test_client_verifies_tls_by_default(appliance, endpoint):
    """An untrusted certificate (the system's trust store) and one for another name are
    refused, a configured CA is accepted."""
    url, ca_file, refusal = endpoint
    client = ac.AcmeClient(url, USER, appliance.password, retries=0,
                           **({'verify': ca_file} if ca_file else {}))
    if refusal is None:
        assert client.system.get()['api_version'] == '1'
        return
    with pytest.raises(ac.ConnectionFailed, match=refusal):
        client.system.get()


def test_share_lifecycle(appliance, client):
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
    assert [str(c) for c in appliance.calls[-2:]] == [  # one request per find
        'GET /shares?name=vol-a&pool=pool1&limit=1', 'GET /shares?name=vol-a&pool=pool2&limit=1']
    again = client.shares.create('vol-a', 'pool1', quota_bytes=2 * MiB, nfs=nfs)
    assert again['id'] == share['id']  # adopted, not duplicated
    with pytest.raises(ac.AlreadyExists):
        client.shares.create('vol-a', 'pool1', quota_bytes=8 * MiB)
    resized = client.shares.update(share['id'], quota_bytes=10 * MiB)
    assert resized['quota_bytes'] == 10 * MiB
    renamed = client.shares.update(share['id'], name='vol-b')
    assert appliance.calls[-1].json == {'name': 'vol-b'}  # only the fields given
    assert renamed['path'] == '/pool1/vol-b' and client.shares.find('vol-a') is None
    assert client.shares.set_nfs(share['id'], False, [])['enabled'] is False
    assert appliance.calls[-1].json == {'enabled': False, 'rules': []}
    assert client.shares.get_nfs(share['id']) == {'enabled': False, 'rules': []}
    assert client.shares.delete(share['id']) is True
    assert client.shares.delete(share['id']) is False
    with pytest.raises(ac.NotFound):
        client.shares.get(share['id'])


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
    with pytest.raises(ac.InUse) as raised:
        client.snapshots.delete(origin['id'], snap['id'])
    assert raised.value.details == {'clones': [clone['id']]}

    with pytest.raises(ac.AcmeError) as raised:  # newer snapshot exists
        client.snapshots.rollback(origin['id'], snap['id'])
    assert raised.value.status == 409
    volume.write_bytes(b'third')
    client.snapshots.rollback(origin['id'], snap2['id'])
    assert volume.read_bytes() == b'second'
    client.snapshots.rollback(origin['id'], snap['id'], destroy_newer=True)
    assert appliance.calls[-1].json == {'destroy_newer': True}
    assert volume.read_bytes() == b'first' and client.snapshots.find(origin['id'], 'snap-2') is None

    with pytest.raises(ac.InUse):
        client.shares.delete(origin['id'])
    with pytest.raises(ac.InUse):  # snap-1 has a clone: never deleted implicitly
        client.shares.delete(origin['id'], recursive=True)
    assert appliance.calls[-1].query == 'recursive=true'
    with pytest.raises(ac.Invalid):  # not a clone
        client.shares.promote(origin['id'])
    client.shares.promote(clone['id'])
    assert client.snapshots.get(snap['id'])['share_id'] == clone['id']
    assert client.shares.get(clone['id'])['origin_snapshot_id'] is None
    assert client.shares.delete(origin['id'], recursive=True) is True
    assert client.snapshots.list(clone['id'])[0]['id'] == snap['id']
    assert client.shares.delete(clone['id'], recursive=True) is True
    assert client.shares.list() == []


def test_list_follows_cursors(appliance, client, monkeypatch):
    names = [f'page-{i:02d}' for i in range(12)]
    for name in names:
        appliance.create_share(name)
    monkeypatch.setattr(ac, 'LIST_PAGE_SIZE', 5)
    assert sorted(s['name'] for s in client.shares.list(pool='pool1')) == names
    queries = [c.query for c in appliance.calls if c.path == '/shares']
    assert len(queries) == 3 and all('limit=5' in q for q in queries) and 'cursor=' in queries[1]


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


# --- Contract v1.1: share root ownership, snapshot rename ------------------------------------
def test_share_root_on_create_adoption_and_update(appliance, client):
    share = client.shares.create('owned', 'pool1', quota_bytes=MiB, root=CINDER_ROOT)
    assert appliance.calls[-1].json == {'name': 'owned', 'pool': 'pool1', 'quota_bytes': MiB,
                                        'root': CINDER_ROOT}
    assert share['root'] == CINDER_ROOT  # on disk: test_appliance_share_root.py
    for same in (dict(CINDER_ROOT, mode='770'), None):  # None: root not asked for
        assert client.shares.create('owned', 'pool1', root=same)['id'] == share['id']
    with pytest.raises(ac.AlreadyExists) as raised:
        client.shares.create('owned', 'pool1', root=dict(CINDER_ROOT, uid=0))
    assert raised.value.details['id'] == share['id'] and raised.value.request_id
    plain = client.shares.create('plain-root', 'pool1')
    assert plain['root'] == {'uid': 0, 'gid': 0, 'mode': '0755'}
    assert client.shares.create('plain-root', 'pool1', root=ac.DEFAULT_ROOT)['id'] == plain['id']
    wanted = {'uid': 1000, 'gid': 1001, 'mode': '0775'}
    for _same_value_again in range(2):
        assert client.shares.update(share['id'], root=wanted)['root'] == wanted


def test_clone_share_with_root(client):
    origin = client.shares.create('origin-r', 'pool1', root=CINDER_ROOT)
    snap = client.snapshots.create(origin['id'], 'base')
    clone = client.shares.create('clone-r', 'pool1', origin_snapshot_id=snap['id'],
                                 root=CINDER_ROOT)
    assert clone['root'] == CINDER_ROOT
    again = client.shares.create('clone-r', 'pool1', origin_snapshot_id=snap['id'],
                                 root=CINDER_ROOT)
    assert again['id'] == clone['id']


def test_snapshot_rename(appliance, client):
    share = client.shares.create('renames', 'pool1')
    first = client.snapshots.create(share['id'], 'first')
    second = client.snapshots.create(share['id'], 'second')
    renamed = client.snapshots.update(share['id'], first['id'], 'first-b')
    assert appliance.calls[-1].json == {'name': 'first-b'}
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


@pytest.mark.parametrize('name', [None, '', 0], ids=['none', 'empty', 'not-a-string'])
def test_lookup_by_name_refuses_a_missing_name_and_asks_nothing(appliance, client, name):
    """Without a name the appliance's first object would match: no caller means that."""
    share = client.shares.create('vol1', 'pool1', quota_bytes=MiB)
    client.snapshots.create(share['id'], 'oldest')
    appliance.calls.clear()
    for lookup in (lambda: client.shares.find(name, 'pool1'),
                   lambda: client.snapshots.find(share['id'], name)):
        with pytest.raises(ac.Invalid, match='needs a name'):
            lookup()
    assert appliance.calls == []
