"""The client without an appliance: its pure helpers and connection options, and the replies
the simulator never gives (a proxy's HTML error, a conflict that names no object in any shape,
a raw path), answered by a stand-in for the urllib3 pool (``Replies``). test_acme_client.py
runs the client against the simulator.
"""

import time
from email.utils import formatdate
from json import dumps

import pytest
from ansible_collections.acme.nas.plugins.module_utils import acme_client as ac
from urllib3.response import HTTPResponse

URL = 'https://acme.test:8443'
API = URL + '/api/v1'
PASSWORD = 'pa55-w0rd-never-shown'
MiB = 1024 * 1024
ROOT = {'uid': 165, 'gid': 165, 'mode': '0770'}
NO_NFS = {'enabled': False, 'rules': []}
SHARE = {'id': 's-1', 'name': 'vol1', 'pool': 'pool1', 'quota_bytes': MiB,
         'origin_snapshot_id': None, 'nfs': NO_NFS, 'root': ROOT}


class Replies:
    """Canned replies by (method, URL) in place of the client's urllib3 pool; ``calls`` lists
    what was asked, ``retries`` the retry policy of the last call to each URL."""

    def __init__(self):
        self.replies, self.calls, self.retries = {}, [], {}
        self.add('POST', API + '/auth/login', json={'token': 't', 'expires_in': 60})

    def add(self, method, url, status=200, json=None, body='', headers=None):
        data = body.encode() if json is None else dumps(json).encode()
        self.replies[method, url] = (data, status, headers or {})

    def request(self, method, url, retries=None, **_kwargs):
        self.calls.append((method, url))
        self.retries[url.removeprefix(API)] = retries
        data, status, headers = self.replies[method, url]
        return HTTPResponse(data, status=status, headers=headers)


@pytest.fixture
def api(monkeypatch):
    replies = Replies()
    monkeypatch.setattr(ac.urllib3.PoolManager, 'request',
                        lambda _pool, method, url, **kwargs: replies.request(method, url, **kwargs))
    return replies


def client(url=URL, **kwargs):
    return ac.AcmeClient(url, 'admin', PASSWORD, **{'retries': 3, 'backoff': 0.001, **kwargs})


# --- Replies the simulator never gives --------------------------------------------------------
CREATES = {
    'share': ('/shares', lambda c: c.shares.create('vol1', 'pool1')),
    'snapshot': ('/shares/s-1/snapshots', lambda c: c.snapshots.create('s-1', 'snap')),
}


@pytest.mark.parametrize('details', [{}, None, {'name': 'vol1'}, ['not', 'a', 'dict']])
@pytest.mark.parametrize('what', sorted(CREATES))
def test_conflict_without_existing_id_is_typed_already_exists_not_keyerror(api, what, details):
    path, create = CREATES[what]
    api.add('POST', API + path, status=409, headers={'X-Request-Id': 'req-409'},
            json={'code': 'ALREADY_EXISTS', 'message': 'name taken', 'details': details})
    with pytest.raises(ac.AlreadyExists) as raised:
        create(client())
    error = raised.value
    assert (error.code, error.status, error.request_id) == ('ALREADY_EXISTS', 409, 'req-409')
    assert str(error) == 'ALREADY_EXISTS: name taken (HTTP 409, request req-409)'
    assert len(api.calls) == 2  # the login and one POST: no blind retry, no GET of an unknown id


@pytest.mark.parametrize(('status', 'cls', 'call'), [
    (404, ac.NotFound, ('/shares/s-1', 'GET', lambda c: c.shares.get('s-1'))),
    *[(409, ac.AlreadyExists, (path, 'POST', create)) for path, create in CREATES.values()],
    (301, ac.ApplianceError, ('/shares/s-1', 'GET', lambda c: c.shares.get('s-1')))])  # a proxy's
def test_error_without_contract_body_maps_by_status(api, status, cls, call):
    path, method, send = call
    api.add(method, API + path, status=status, body='<html>nope</html>',
            headers={'X-Request-Id': 'req-p'})
    with pytest.raises(cls) as raised:
        send(client())
    assert (raised.value.status, raised.value.request_id) == (status, 'req-p')
    assert 'nope' in raised.value.message


def test_path_parts_are_quoted(api):
    api.add('GET', API + '/snapshots/a%2Fb', json={'id': 'a/b'})
    assert client().snapshots.get('a/b') == {'id': 'a/b'}


def test_connection_error_is_typed_and_has_no_password():
    with pytest.raises(ac.ConnectionFailed) as raised:
        client(retries=0, timeout=(0.5, 0.5), url='https://127.0.0.1:9').system.get()
    assert 'cannot reach the appliance at https://127.0.0.1:9/api/v1' in str(raised.value)
    assert PASSWORD not in str(raised.value)


# --- Pure helpers -----------------------------------------------------------------------------
def test_base_url_accepts_api_prefix():
    assert ac.api_base_url('https://h:8443/') == 'https://h:8443/api/v1'
    assert ac.api_base_url('https://h:8443/api/v1') == 'https://h:8443/api/v1'


@pytest.mark.parametrize(('requested', 'stored'), [
    (None, None), (0, 0), (1, MiB), (MiB, MiB), (MiB + 1, 2 * MiB),
    (10 * 1024 ** 3, 10 * 1024 ** 3)])
def test_round_quota_matches_appliance_granularity(requested, stored):
    assert ac.round_quota(requested) == stored


@pytest.mark.parametrize(('asked', 'same'), [
    ({}, True),
    ({'quota_bytes': MiB - 1}, True),  # rounded like the appliance rounds it
    ({'root': dict(ROOT, mode=0o770)}, True),
    ({'pool': 'pool2'}, False),
    ({'quota_bytes': 5 * MiB}, False),
    ({'origin_snapshot_id': 'snap-1'}, False),
    ({'nfs': {'enabled': True, 'rules': [{'clients': '10.0.0.1'}]}}, False),
    ({'root': dict(ROOT, gid=0)}, False),
    ({'root': dict(ROOT, mode='0755')}, False)])
def test_create_adopts_only_a_share_with_the_same_parameters(asked, same):
    body = {'name': 'vol1', 'pool': 'pool1', 'quota_bytes': MiB, 'nfs': NO_NFS, 'root': ROOT}
    assert ac.same_share(SHARE, dict(body, **asked)) is same


def test_share_without_root_has_the_contract_defaults():
    assert ac.same_root(None, {'uid': 0, 'gid': 0, 'mode': '0755'})
    assert not ac.same_root({}, ROOT)


def test_same_nfs_ignores_rule_order_and_defaults():
    current = {'enabled': True, 'rules': [
        {'clients': 'b', 'access': 'rw', 'root_squash': True},
        {'clients': 'a', 'access': 'ro', 'root_squash': True}]}
    wanted = {'enabled': True, 'rules': [
        {'clients': 'a', 'access': 'ro', 'root_squash': True}, {'clients': 'b'}]}
    assert ac.same_nfs(current, wanted)
    assert not ac.same_nfs(current, dict(wanted, enabled=False))


def test_verify_timeouts_and_retry_after_max_from_params():
    params = {'appliance_url': URL, 'username': 'u', 'password': 'p', 'validate_certs': True,
              'ca_path': '/etc/acme/ca.pem', 'timeout': 30}
    http = ac.AcmeClient.from_params(params).http
    assert (http.verify, http.timeout) == ('/etc/acme/ca.pem', (10.0, 30.0))
    assert http.retry_after_max == 60.0
    params.update(validate_certs=False, retry_after_max=2.5)
    http = ac.AcmeClient.from_params(params).http
    assert (http.verify, http.retry_after_max) == (False, 2.5)


# --- Retry-After and the retry policy ---------------------------------------------------------
def test_only_the_login_post_is_retried(api):
    api.add('POST', API + '/shares/s-1/promote', json={'id': 's-1'})
    client().shares.promote('s-1')
    login, other = api.retries['/auth/login'], api.retries['/shares/s-1/promote']
    assert login.is_retry('POST', 503) and not other.is_retry('POST', 503)
    assert login.total == other.total == 3


@pytest.mark.parametrize(('header', 'expected'), [
    ('0', 0.0), ('30', 30.0), (' 5 ', 5.0), ('soon', None), ('-3', None), ('', None), (None, None),
    (formatdate(0, usegmt=True), 0.0)])  # a date in the past
def test_parse_retry_after_seconds_and_dates(header, expected):
    assert ac.parse_retry_after(header) == expected


def test_retry_after_as_http_date_is_capped():
    in_three_hours = formatdate(time.time() + 3 * 3600, usegmt=True)
    assert 3 * 3600 - 5 < ac.parse_retry_after(in_three_hours) <= 3 * 3600
    assert ac.retry_delay(in_three_hours, 1, 0.5, 60) == 60.0


def test_retry_delay_without_header_is_backoff_with_jitter():
    for attempt, low in ((1, 0.5), (2, 1.0), (3, 2.0)):
        assert low <= ac.retry_delay(None, attempt, 0.5, 60) <= low + 0.5


# --- Library versions -------------------------------------------------------------------------
@pytest.mark.parametrize('found', [
    {'urllib3': '1.26.5'},   # Ubuntu 22.04, RHEL 9
    {'urllib3': '1.26.12'},  # Debian 12
    {'urllib3': '2.8.0'},
    {'urllib3': '2.0.0rc1'}])
def test_supported_library_versions_pass(found):
    assert ac.requirements_error(found) is None


@pytest.mark.parametrize('found', [
    {'urllib3': '1.25.8'},   # Ubuntu 20.04
    {'urllib3': '1.25.11'},
    {'urllib3': '1.7'}])
def test_too_old_libraries_give_one_message_naming_the_versions(found):
    message = ac.requirements_error(found)
    assert message.startswith('the ACME client needs urllib3 >= 1.26.5;')
    assert message.endswith(f"has urllib3 {found['urllib3']}")


def test_client_with_too_old_libraries_raises_the_typed_message(monkeypatch):
    assert ac.REQUIREMENTS_ERROR is None  # the installed libraries are supported
    monkeypatch.setattr(ac, 'REQUIREMENTS_ERROR', 'the ACME client needs urllib3 >= 1.26.5')
    with pytest.raises(ac.RequirementsError) as raised:
        client()
    assert isinstance(raised.value, ac.AcmeError)
    assert str(raised.value) == 'REQUIREMENTS: the ACME client needs urllib3 >= 1.26.5'
