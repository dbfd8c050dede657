"""Unit tests of the one appliance client (plugins/module_utils/acme_client.py).

HTTP is answered by `responses`; nothing runs. urllib3's Retry is honoured by
`responses`, so the retry policy is exercised for real.
"""

import json
import logging

import pytest
import requests
import responses
from ansible_collections.acme.nas.plugins.module_utils import acme_client as ac

URL = 'https://acme.test:8443'
API = URL + '/api/v1'
PASSWORD = 'pa55-w0rd-never-shown'
SHARE = {'id': 's-1', 'name': 'vol1', 'pool': 'pool1', 'path': '/pool1/vol1',
         'exports': ['192.0.2.7:/pool1/vol1'], 'quota_bytes': 1048576, 'used_bytes': 0,
         'origin_snapshot_id': None, 'nfs': {'enabled': False, 'rules': []},
         'created_at': '2026-11-25T10:00:00Z'}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, API + '/auth/login',
                 json={'token': 'tok-1', 'expires_in': 3600})
        yield mock


@pytest.fixture
def client():
    return ac.AcmeClient(URL, 'admin', PASSWORD, retries=3, backoff=0.001)


def error(mock, method, path, status, code, details=None, headers=None):
    mock.add(method, API + path, status=status, headers=headers or {'X-Request-Id': 'req-9'},
             json={'code': code, 'message': f'{code} happened', 'details': details or {}})


def calls(mock, method=None, path=None):
    return [c for c in mock.calls
            if (method is None or c.request.method == method)
            and (path is None or c.request.url.split('?')[0] == API + path)]


def test_login_on_first_use_and_token_reuse(api, client):
    api.add(responses.GET, API + '/system', json={'vendor': 'ACME STORAGE, Inc'})
    assert client.system.get()['vendor'] == 'ACME STORAGE, Inc'
    client.system.get()
    assert len(calls(api, 'POST', '/auth/login')) == 1
    login_body = json.loads(calls(api, 'POST', '/auth/login')[0].request.body)
    assert login_body == {'username': 'admin', 'password': PASSWORD}
    for call in calls(api, 'GET', '/system'):
        assert call.request.headers['Authorization'] == 'Bearer tok-1'


def test_base_url_accepts_api_prefix():
    assert ac.api_base_url('https://h:8443/') == 'https://h:8443/api/v1'
    assert ac.api_base_url('https://h:8443/api/v1') == 'https://h:8443/api/v1'


def test_relogin_once_on_401_then_repeat(api, client):
    error(api, responses.GET, '/system', 401, 'UNAUTHORIZED')
    api.add(responses.GET, API + '/system', json={'vendor': 'ACME STORAGE, Inc'})
    client.http.token = 'expired'
    assert client.system.get()['vendor'] == 'ACME STORAGE, Inc'
    assert len(calls(api, 'POST', '/auth/login')) == 1
    assert len(calls(api, 'GET', '/system')) == 2


def test_second_401_is_raised_not_looped(api, client):
    for _attempt in range(3):
        error(api, responses.GET, '/system', 401, 'UNAUTHORIZED')
    with pytest.raises(ac.Unauthorized):
        client.system.get()
    assert len(calls(api, 'GET', '/system')) == 2
    assert len(calls(api, 'POST', '/auth/login')) == 2


def test_wrong_credentials_raise_unauthorized_without_password():
    with responses.RequestsMock() as mock:
        error(mock, responses.POST, '/auth/login', 401, 'UNAUTHORIZED')
        client = ac.AcmeClient(URL, 'admin', PASSWORD)
        with pytest.raises(ac.Unauthorized) as raised:
            client.pools.list()
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in repr(raised.value)
    assert raised.value.request_id == 'req-9'


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
def test_every_error_code_maps_to_its_exception(status, code, cls):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, API + '/auth/login', json={'token': 't', 'expires_in': 60})
        for _attempt in range(5):
            error(mock, responses.PATCH, '/shares/s-1', status, code, details={'id': 'x'},
                  headers={'X-Request-Id': 'req-9', 'Retry-After': '0'})
        client = ac.AcmeClient(URL, 'admin', PASSWORD, retries=0)
        with pytest.raises(cls) as raised:
            client.shares.update('s-1', quota_bytes=1)
    err = raised.value
    assert isinstance(err, ac.AcmeError)
    assert (err.code, err.status, err.request_id) == (code, status, 'req-9')
    assert err.details == {'id': 'x'}
    assert f'{code}: {code} happened (HTTP {status}, request req-9)' == str(err)
    assert err.to_dict()['request_id'] == 'req-9'


def test_non_contract_error_body_maps_by_status(api, client):
    api.add(responses.GET, API + '/shares/s-1', status=404, body='<html>nope</html>')
    with pytest.raises(ac.NotFound) as raised:
        client.shares.get('s-1')
    assert 'nope' in raised.value.message


def test_get_retried_on_503_honouring_retry_after(api, client):
    error(api, responses.GET, '/pools/pool1', 503, 'BUSY',
          headers={'Retry-After': '0', 'X-Request-Id': 'r'})
    api.add(responses.GET, API + '/pools/pool1', json={'name': 'pool1'})
    assert client.pools.get('pool1') == {'name': 'pool1'}
    assert len(calls(api, 'GET', '/pools/pool1')) == 2


def test_get_gives_up_after_retries(api, client):
    for _attempt in range(10):
        error(api, responses.GET, '/pools/pool1', 503, 'BUSY', headers={'Retry-After': '0'})
    with pytest.raises(ac.Busy):
        client.pools.get('pool1')
    assert len(calls(api, 'GET', '/pools/pool1')) == 4  # first try + 3 retries


def test_post_is_not_retried_by_the_transport(api, client):
    for _attempt in range(3):
        error(api, responses.POST, '/shares/s-1/promote', 503, 'BUSY',
              headers={'Retry-After': '0'})
    with pytest.raises(ac.Busy):
        client.shares.promote('s-1')
    assert len(calls(api, 'POST', '/shares/s-1/promote')) == 1


def test_create_retries_busy_then_succeeds(api, client):
    error(api, responses.POST, '/shares', 503, 'BUSY', headers={'Retry-After': '0'})
    api.add(responses.POST, API + '/shares', status=201, json=SHARE)
    assert client.shares.create('vol1', 'pool1', quota_bytes=1048576) == SHARE
    assert len(calls(api, 'POST', '/shares')) == 2


def test_create_after_dropped_connection_adopts_its_first_attempt(api, client):
    api.add(responses.POST, API + '/shares', body=requests.ConnectionError('reset by peer'))
    error(api, responses.POST, '/shares', 409, 'ALREADY_EXISTS', details={'id': 's-1'})
    api.add(responses.GET, API + '/shares/s-1', json=SHARE)
    assert client.shares.create('vol1', 'pool1', quota_bytes=1000)['id'] == 's-1'


@pytest.mark.parametrize('kwargs', [
    {},  # the same parameters: adopted
    {'pool': 'pool2'},
    {'quota_bytes': 5 * 1048576},
    {'origin_snapshot_id': 'snap-1'},
    {'nfs': {'enabled': True, 'rules': [{'clients': '10.0.0.1'}]}},
])
def test_create_adopts_only_an_existing_share_with_the_same_parameters(api, client, kwargs):
    error(api, responses.POST, '/shares', 409, 'ALREADY_EXISTS', details={'id': 's-1'})
    api.add(responses.GET, API + '/shares/s-1', json=SHARE)
    args = {'pool': 'pool1', 'quota_bytes': 1048576, 'nfs': {'enabled': False, 'rules': []},
            **kwargs}
    if not kwargs:
        assert client.shares.create('vol1', **args) == SHARE
        return
    with pytest.raises(ac.AlreadyExists):
        client.shares.create('vol1', **args)


def test_snapshot_create_adopts_same_share_snapshot(api, client):
    error(api, responses.POST, '/shares/s-1/snapshots', 409, 'ALREADY_EXISTS',
          details={'id': 'sn-1'})
    api.add(responses.GET, API + '/snapshots/sn-1', json={'id': 'sn-1', 'share_id': 's-1'})
    assert client.snapshots.create('s-1', 'snap')['id'] == 'sn-1'


def test_delete_of_missing_object_is_success_false(api, client):
    error(api, responses.DELETE, '/shares/s-1', 404, 'NOT_FOUND')
    api.add(responses.DELETE, API + '/shares/s-2', status=204)
    assert client.shares.delete('s-1') is False
    assert client.shares.delete('s-2', recursive=True) is True
    assert calls(api, 'DELETE', '/shares/s-2')[0].request.url.endswith('?recursive=true')


def test_delete_in_use_is_raised(api, client):
    error(api, responses.DELETE, '/shares/s-1/snapshots/sn-1', 409, 'IN_USE',
          details={'clones': ['s-2']})
    with pytest.raises(ac.InUse) as raised:
        client.snapshots.delete('s-1', 'sn-1')
    assert raised.value.details == {'clones': ['s-2']}


def test_find_by_name_is_one_request_and_none_when_absent(api, client):
    api.add(responses.GET, API + '/shares', json={'items': [SHARE], 'next': None})
    assert client.shares.find('vol1', pool='pool1') == SHARE
    (call,) = calls(api, 'GET', '/shares')
    assert 'name=vol1' in call.request.url and 'pool=pool1' in call.request.url
    api.add(responses.GET, API + '/shares/s-1/snapshots', json={'items': [], 'next': None})
    assert client.snapshots.find('s-1', 'nope') is None


def test_list_follows_cursors(api, client):
    api.add(responses.GET, API + '/shares', json={'items': [SHARE], 'next': 'c2'})
    api.add(responses.GET, API + '/shares', json={'items': [dict(SHARE, id='s-2')], 'next': None})
    assert [s['id'] for s in client.shares.list(pool='pool1')] == ['s-1', 's-2']
    second = calls(api, 'GET', '/shares')[1].request.url
    assert 'cursor=c2' in second and 'limit=1000' in second


def test_path_parts_are_quoted(api, client):
    api.add(responses.GET, API + '/snapshots/a%2Fb', json={'id': 'a/b'})
    assert client.snapshots.get('a/b') == {'id': 'a/b'}


def test_nfs_and_rollback_bodies(api, client):
    api.add(responses.PUT, API + '/shares/s-1/nfs', json={'enabled': True})
    api.add(responses.POST, API + '/shares/s-1/snapshots/sn-1/rollback', status=204)
    client.shares.set_nfs('s-1', True, [{'clients': '*', 'access': 'ro'}])
    assert client.snapshots.rollback('s-1', 'sn-1', destroy_newer=True) is None
    put = json.loads(calls(api, 'PUT')[0].request.body)
    assert put == {'enabled': True, 'rules': [{'clients': '*', 'access': 'ro'}]}
    assert json.loads(calls(api, 'POST', '/shares/s-1/snapshots/sn-1/rollback')[0]
                      .request.body) == {'destroy_newer': True}


def test_update_sends_only_given_fields(api, client):
    api.add(responses.PATCH, API + '/shares/s-1', json=SHARE)
    client.shares.update('s-1', name='vol2')
    assert json.loads(calls(api, 'PATCH')[0].request.body) == {'name': 'vol2'}


def test_connection_error_is_typed_and_has_no_password():
    client = ac.AcmeClient('https://127.0.0.1:9', 'admin', PASSWORD, retries=0,
                           timeout=(0.5, 0.5))
    with pytest.raises(ac.ConnectionFailed) as raised:
        client.system.get()
    assert 'cannot reach the appliance at https://127.0.0.1:9/api/v1' in str(raised.value)
    assert PASSWORD not in str(raised.value)


def test_password_never_in_repr_or_logs(api, client, caplog):
    caplog.set_level(logging.DEBUG)
    error(api, responses.GET, '/system', 500, 'INTERNAL')
    with pytest.raises(ac.ApplianceError):
        client.system.get()
    assert PASSWORD not in repr(client) + repr(client.http) + str(vars(client.http))
    assert PASSWORD not in caplog.text
    assert 'GET /system -> 500 (request req-9)' in caplog.text


def test_verify_and_timeouts_from_params():
    params = {'appliance_url': URL, 'username': 'u', 'password': 'p', 'validate_certs': True,
              'ca_path': '/etc/acme/ca.pem', 'timeout': 30}
    client = ac.AcmeClient.from_params(params)
    assert client.http.verify == '/etc/acme/ca.pem'
    assert client.http.timeout == (10.0, 30.0)
    params.update(validate_certs=False)
    assert ac.AcmeClient.from_params(params).http.verify is False


@pytest.mark.parametrize(('requested', 'stored'), [
    (None, None), (0, 0), (1, 1048576), (1048576, 1048576), (1048577, 2097152),
    (10 * 1024 ** 3, 10 * 1024 ** 3)])
def test_round_quota_matches_appliance_granularity(requested, stored):
    assert ac.round_quota(requested) == stored


def test_same_nfs_ignores_rule_order_and_defaults():
    current = {'enabled': True, 'rules': [
        {'clients': 'b', 'access': 'rw', 'root_squash': True},
        {'clients': 'a', 'access': 'ro', 'root_squash': True}]}
    wanted = {'enabled': True, 'rules': [
        {'clients': 'a', 'access': 'ro', 'root_squash': True}, {'clients': 'b'}]}
    assert ac.same_nfs(current, wanted)
    assert not ac.same_nfs(current, dict(wanted, enabled=False))
