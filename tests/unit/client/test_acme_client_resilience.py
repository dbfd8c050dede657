"""Unit tests of the client's conflict, retry, version and v1.1 behaviour (issue 9).

Only what the simulator cannot produce is answered by `responses` here (a 409 without the
existing object's id, a proxy's 409); the waits are recorded, never slept.
tests/integration/test_client_against_simulator.py proves the rest against the real simulator.
"""

import json
import time
from email.utils import formatdate

import pytest
import requests
import responses
from ansible_collections.acme.nas.plugins.module_utils import acme_client as ac
from urllib3.response import HTTPResponse

URL = 'https://acme.test:8443'
API = URL + '/api/v1'
SHARE = {'id': 's-1', 'name': 'vol1', 'pool': 'pool1', 'quota_bytes': 1048576,
         'origin_snapshot_id': None, 'nfs': {'enabled': False, 'rules': []},
         'root': {'uid': 165, 'gid': 165, 'mode': '0770'}}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, API + '/auth/login', json={'token': 't', 'expires_in': 60})
        yield mock


@pytest.fixture
def sleeps(monkeypatch):
    """Every wait the client asks for, in seconds; nothing sleeps."""
    asked = []
    monkeypatch.setattr(ac, '_sleep', asked.append)
    return asked


def client(**kwargs):
    return ac.AcmeClient(URL, 'admin', 'pw', **{'retries': 3, 'backoff': 0.001, **kwargs})


def conflict(mock, path, details, request_id='req-409'):
    mock.add(responses.POST, API + path, status=409, headers={'X-Request-Id': request_id},
             json={'code': 'ALREADY_EXISTS', 'message': 'name taken', 'details': details})


def count(mock, method, path):
    return sum(1 for c in mock.calls
               if c.request.method == method and c.request.url.split('?')[0] == API + path)


# --- A conflict without the existing object's id -------------------------------------------
CREATES = {
    'share': ('/shares', lambda c: c.shares.create('vol1', 'pool1')),
    'snapshot': ('/shares/s-1/snapshots', lambda c: c.snapshots.create('s-1', 'snap')),
}


@pytest.mark.parametrize('details', [{}, None, {'name': 'vol1'}, ['not', 'a', 'dict']])
@pytest.mark.parametrize('what', sorted(CREATES))
def test_conflict_without_existing_id_is_typed_already_exists_not_keyerror(api, what, details):
    path, create = CREATES[what]
    conflict(api, path, details)
    with pytest.raises(ac.AlreadyExists) as raised:
        create(client())
    error = raised.value
    assert (error.code, error.status, error.request_id) == ('ALREADY_EXISTS', 409, 'req-409')
    assert str(error) == 'ALREADY_EXISTS: name taken (HTTP 409, request req-409)'
    assert count(api, 'POST', path) == 1  # no blind retry, no GET of an unknown id


@pytest.mark.parametrize('what', sorted(CREATES))
def test_conflict_from_a_proxy_without_contract_body_is_typed(api, what):
    path, create = CREATES[what]
    api.add(responses.POST, API + path, status=409, body='<html>Conflict</html>',
            headers={'X-Request-Id': 'req-p'})
    with pytest.raises(ac.AlreadyExists) as raised:
        create(client())
    assert (raised.value.status, raised.value.request_id) == (409, 'req-p')


def test_conflict_after_dropped_create_without_id_is_typed(api, sleeps):
    api.add(responses.POST, API + '/shares', body=requests.ConnectionError('reset by peer'))
    conflict(api, '/shares', {})
    with pytest.raises(ac.AlreadyExists):
        client().shares.create('vol1', 'pool1')
    assert count(api, 'POST', '/shares') == 2 and len(sleeps) == 1


# --- Retry-After is honoured up to a cap ------------------------------------------------------
def busy(mock, method, path, retry_after):
    mock.add(method, API + path, status=503,
             headers={'Retry-After': retry_after, 'X-Request-Id': 'req-b'},
             json={'code': 'BUSY', 'message': 'busy', 'details': {}})


@pytest.mark.parametrize(('cap', 'waited'), [({}, 60.0), ({'retry_after_max': 5}, 5.0),
                                             ({'retry_after_max': 0}, 0.0)])
def test_create_retry_after_of_three_hours_waits_at_most_the_cap(api, sleeps, cap, waited):
    busy(api, responses.POST, '/shares', '10800')
    api.add(responses.POST, API + '/shares', status=201, json=SHARE)
    assert client(**cap).shares.create('vol1', 'pool1')['id'] == 's-1'
    assert sleeps == [waited]


def test_create_retry_after_below_the_cap_is_honoured(api, sleeps):
    busy(api, responses.POST, '/shares', '7')
    api.add(responses.POST, API + '/shares', status=201, json=SHARE)
    client().shares.create('vol1', 'pool1')
    assert sleeps == [7.0]


def test_transport_retry_after_is_capped_and_kept_by_new():
    http = client(retry_after_max=12.5).http
    policy = http.session.get_adapter(API + '/pools').max_retries
    later = policy.new(total=1)  # what urllib3 does on every increment
    assert isinstance(later, ac.CappedRetry) and later.retry_after_max == 12.5
    asked = []
    response = HTTPResponse(status=503, headers={'Retry-After': '10800'})
    original, ac._sleep = ac._sleep, asked.append
    try:
        later.sleep(response)
        later.sleep()  # a connection error: backoff with jitter, no header
    finally:
        ac._sleep = original
    assert asked[0] == 12.5
    assert 0 <= asked[1] <= 2 * http.backoff


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


def test_retry_after_max_from_module_params():
    params = {'appliance_url': URL, 'username': 'u', 'password': 'p', 'timeout': 30}
    assert ac.AcmeClient.from_params(params).http.retry_after_max == 60.0
    params['retry_after_max'] = 2.5
    assert ac.AcmeClient.from_params(params).http.retry_after_max == 2.5


# --- Login and PATCH are retried like idempotent calls ---------------------------------------
def test_login_is_retried_on_busy():
    with responses.RequestsMock() as mock:
        busy(mock, responses.POST, '/auth/login', '0')
        busy(mock, responses.POST, '/auth/login', '0')
        mock.add(responses.POST, API + '/auth/login', json={'token': 't', 'expires_in': 60})
        mock.add(responses.GET, API + '/system', json={'api_version': '1'})
        assert client().system.get() == {'api_version': '1'}
        assert count(mock, 'POST', '/auth/login') == 3


def test_login_gives_up_after_the_same_retries_as_get():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for _attempt in range(6):
            busy(mock, responses.POST, '/auth/login', '0')
        with pytest.raises(ac.Busy) as raised:
            client(retries=2).system.get()
        assert count(mock, 'POST', '/auth/login') == 3
    assert raised.value.request_id == 'req-b'


def test_only_the_login_post_is_retried():
    http = client().http
    login = http.session.get_adapter(API + '/auth/login').max_retries
    other = http.session.get_adapter(API + '/shares/s-1/promote').max_retries
    assert login.is_retry('POST', 503) and not other.is_retry('POST', 503)
    assert login.total == other.total == 3


@pytest.mark.parametrize('change', [{'quota_bytes': 2097152}, {'name': 'vol2'},
                                    {'root': {'uid': 1, 'gid': 1, 'mode': '0700'}}])
def test_patch_is_retried_on_busy(api, change):
    busy(api, responses.PATCH, '/shares/s-1', '0')
    api.add(responses.PATCH, API + '/shares/s-1', json=SHARE)
    assert client().shares.update('s-1', **change) == SHARE
    assert count(api, 'PATCH', '/shares/s-1') == 2


def test_snapshot_rename_is_retried_on_busy(api):
    busy(api, responses.PATCH, '/shares/s-1/snapshots/sn-1', '0')
    api.add(responses.PATCH, API + '/shares/s-1/snapshots/sn-1', json={'id': 'sn-1'})
    assert client().snapshots.update('s-1', 'sn-1', 'new')['id'] == 'sn-1'
    assert count(api, 'PATCH', '/shares/s-1/snapshots/sn-1') == 2


# --- Library versions -------------------------------------------------------------------------
@pytest.mark.parametrize('found', [
    {'requests': '2.25.1', 'urllib3': '1.26.5'},   # Ubuntu 22.04, RHEL 9
    {'requests': '2.28.1', 'urllib3': '1.26.12'},  # Debian 12
    {'requests': '2.34.2', 'urllib3': '2.8.0'},
    {'requests': '2.32.0.dev1', 'urllib3': '2.0.0rc1'}])
def test_supported_library_versions_pass(found):
    assert ac.requirements_error(found) is None


@pytest.mark.parametrize('found', [
    {'requests': '2.22.0', 'urllib3': '1.25.8'},   # Ubuntu 20.04
    {'requests': '2.28.1', 'urllib3': '1.25.11'},
    {'requests': '2.20.0', 'urllib3': '1.26.12'}])
def test_too_old_libraries_give_one_message_naming_the_versions(found):
    message = ac.requirements_error(found)
    assert message.startswith('the ACME client needs requests >= 2.25.1 and urllib3 >= 1.26.5;')
    assert f"has requests {found['requests']} and urllib3 {found['urllib3']}" in message


def test_client_with_too_old_libraries_raises_the_typed_message(monkeypatch):
    monkeypatch.setattr(ac, 'REQUIREMENTS_ERROR', 'the ACME client needs urllib3 >= 1.26.5')
    with pytest.raises(ac.RequirementsError) as raised:
        client()
    assert isinstance(raised.value, ac.AcmeError)
    assert str(raised.value) == 'REQUIREMENTS: the ACME client needs urllib3 >= 1.26.5'


def test_installed_libraries_are_supported():
    assert ac.REQUIREMENTS_ERROR is None


# --- v1.1: share root ownership, snapshot rename ---------------------------------------------
ROOT = {'uid': 165, 'gid': 165, 'mode': '0770'}


def test_share_create_and_update_send_root(api):
    api.add(responses.POST, API + '/shares', status=201, json=SHARE)
    api.add(responses.PATCH, API + '/shares/s-1', json=SHARE)
    c = client()
    c.shares.create('vol1', 'pool1', root=ROOT)
    c.shares.update('s-1', root=ROOT)
    post, patch = (json.loads(call.request.body) for call in api.calls[1:])
    assert post == {'name': 'vol1', 'pool': 'pool1', 'root': ROOT}
    assert patch == {'root': ROOT}


@pytest.mark.parametrize('root', [ROOT, {'uid': 165, 'gid': 165, 'mode': '770'},
                                  {'uid': 165, 'gid': 165, 'mode': 0o770}])
def test_create_adopts_a_share_with_the_same_root(api, root):
    conflict(api, '/shares', {'id': 's-1'})
    api.add(responses.GET, API + '/shares/s-1', json=SHARE)
    assert client().shares.create('vol1', 'pool1', root=root)['id'] == 's-1'


@pytest.mark.parametrize('root', [{'uid': 0, 'gid': 165, 'mode': '0770'},
                                  {'uid': 165, 'gid': 0, 'mode': '0770'},
                                  {'uid': 165, 'gid': 165, 'mode': '0755'}])
def test_create_refuses_to_adopt_a_share_with_another_root(api, root):
    conflict(api, '/shares', {'id': 's-1'})
    api.add(responses.GET, API + '/shares/s-1', json=SHARE)
    with pytest.raises(ac.AlreadyExists):
        client().shares.create('vol1', 'pool1', root=root)


def test_same_share_without_root_in_the_request_ignores_root():
    assert ac.same_share(SHARE, {'name': 'vol1', 'pool': 'pool1'})


def test_share_without_root_has_the_contract_defaults():
    assert ac.same_root(None, {'uid': 0, 'gid': 0, 'mode': '0755'})
    assert not ac.same_root({}, ROOT)


def test_snapshot_rename_body_and_errors(api):
    api.add(responses.PATCH, API + '/shares/s-1/snapshots/sn-1',
            json={'id': 'sn-1', 'name': 'b', 'share_id': 's-1'})
    api.add(responses.PATCH, API + '/shares/s-1/snapshots/sn-2', status=409,
            json={'code': 'ALREADY_EXISTS', 'message': 'taken', 'details': {'id': 'sn-1'}})
    c = client()
    assert c.snapshots.update('s-1', 'sn-1', 'b')['name'] == 'b'
    assert json.loads(api.calls[1].request.body) == {'name': 'b'}
    with pytest.raises(ac.AlreadyExists) as raised:
        c.snapshots.update('s-1', 'sn-2', 'b')
    assert raised.value.details == {'id': 'sn-1'}


# --- The modules: the retry_after_max option and the version message -------------------------
MODULE_ARGS = {'appliance_url': URL, 'username': 'admin', 'password': 'pw'}


def probe_module():
    from ansible_collections.acme.nas.plugins.module_utils.acme_module import AcmeModule

    class Probe(AcmeModule):
        def run(self):
            return {'changed': False}
    return Probe


@pytest.mark.parametrize(('args', 'env', 'expected'), [
    ({}, None, 60.0), ({}, '7.5', 7.5), ({'retry_after_max': 3}, '7.5', 3.0)])
def test_module_option_retry_after_max_reaches_the_client(monkeypatch, args, env, expected):
    from tests.support.module_args import patch_module_args
    if env is None:
        monkeypatch.delenv('ACME_RETRY_AFTER_MAX', raising=False)
    else:
        monkeypatch.setenv('ACME_RETRY_AFTER_MAX', env)
    with patch_module_args({**MODULE_ARGS, **args}):
        module = probe_module()()
    assert module.client.http.retry_after_max == expected


def test_module_with_too_old_libraries_fails_with_one_message(monkeypatch, capsys):
    from tests.support.module_args import patch_module_args
    from ansible_collections.acme.nas.plugins.module_utils import acme_module
    message = 'the ACME client needs requests >= 2.25.1 and urllib3 >= 1.26.5; x has ...'
    monkeypatch.setattr(acme_module, 'REQUIREMENTS_ERROR', message)
    with patch_module_args(MODULE_ARGS), pytest.raises(SystemExit):
        probe_module()()
    result = json.loads(capsys.readouterr().out)
    assert (result['failed'], result['msg']) == (True, message)
    assert 'exception' not in result


def test_doc_fragment_requirements_are_the_client_minimum_versions():
    import yaml
    from ansible_collections.acme.nas.plugins.doc_fragments.acme import ModuleDocFragment
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['requirements']
    assert documented == [f"{name} >= {'.'.join(map(str, version))}"
                          for name, version in ac.MIN_VERSIONS]
