"""The module base: shared spec = doc fragment, env fallbacks, one error path, one exit."""

import json
import sys

import pytest
import yaml
from ansible_collections.acme.nas.plugins.doc_fragments.acme import ModuleDocFragment
from ansible_collections.acme.nas.plugins.module_utils import acme_client as ac
from ansible_collections.acme.nas.plugins.module_utils import acme_module
from ansible_collections.acme.nas.plugins.module_utils.acme_module import (
    AcmeModule,
    acme_argument_spec,
    diff_result,
    error_result,
)
from ansible_collections.acme.nas.plugins.modules.acme_share_info import ShareInfoModule
from ansible.module_utils.testing import patch_module_args

PASSWORD = 'S3cret-never-shown'


class Probe(AcmeModule):
    """A module whose run() does what the test asks."""

    argument_spec = dict(outcome=dict(type='str', default='ok'))
    module_kwargs = dict(supports_check_mode=True)
    raise_this = None

    def run(self):
        if self.raise_this is not None:
            with self.step('do the thing'):
                raise self.raise_this
        return dict(changed=False, url=self.params['appliance_url'], user=self.params['username'],
                    ca=self.params['ca_path'], client=repr(self.client))


def test_doc_fragment_matches_the_spec_and_the_client_requirements():
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    assert fragment['requirements'] == [f"{name} >= {'.'.join(map(str, version))}"
                                        for name, version in ac.MIN_VERSIONS]
    documented = fragment['options']
    spec = acme_argument_spec()
    assert set(documented) == set(spec)
    for key, option in spec.items():
        doc = documented[key]
        assert doc['type'] == option['type'], key
        assert doc.get('required', False) == option.get('required', False), key
        assert doc.get('default') == option.get('default'), key
        assert doc.get('choices') == option.get('choices'), key
        fallback = option.get('fallback')
        if fallback:
            for variable in fallback[1]:
                assert f'E({variable})' in ' '.join(doc['description']), key
    assert spec['password']['no_log'] is True


def test_spec_is_fresh_and_extended():
    first = acme_argument_spec(name=dict(type='str'))
    first['timeout']['default'] = 1
    assert acme_argument_spec()['timeout']['default'] == 60
    assert 'name' in first and 'name' not in acme_argument_spec()


def test_connection_from_the_environment(run_module, monkeypatch, tmp_path):
    ca_file = tmp_path / 'ca.pem'
    ca_file.write_text('a CA file (read only when a request is made)\n')
    monkeypatch.setenv('ACME_URL', 'https://env.test:8443')
    monkeypatch.setenv('ACME_USERNAME', 'env-user')
    monkeypatch.setenv('ACME_PASSWORD', PASSWORD)
    monkeypatch.setenv('ACME_CA_PATH', str(ca_file))
    result = run_module(Probe, _connection=False)
    assert 'failed' not in result
    assert (result['url'], result['user'], result['ca']) == (
        'https://env.test:8443', 'env-user', str(ca_file))


def test_explicit_options_win_over_the_environment(run_module, monkeypatch, connection):
    monkeypatch.setenv('ACME_URL', 'https://env.test:8443')
    result = run_module(Probe)
    assert result['url'] == connection['appliance_url']


def test_missing_connection_fails_clearly(run_module, monkeypatch):
    for variable in ('ACME_URL', 'ACME_USERNAME', 'ACME_PASSWORD'):
        monkeypatch.delenv(variable, raising=False)
    result = run_module(Probe, _connection=False, username='admin')
    assert result['failed']
    assert result['msg'] == (
        'missing required arguments: appliance_url, password (the connection options can also '
        'be set in the environment variables ACME_URL, ACME_PASSWORD, or for every acme.nas '
        'module with module_defaults: group/acme.nas.acme)')


def test_missing_module_options_name_only_the_variables_of_connection_options(
        run_module, monkeypatch):
    monkeypatch.delenv('ACME_PASSWORD', raising=False)

    class Named(Probe):
        argument_spec = dict(name=dict(type='str', required=True))

    assert run_module(Named)['msg'] == 'missing required arguments: name'
    result = run_module(Named, _connection=False, appliance_url='https://a:8443',
                        username='admin')
    assert result['msg'].startswith('missing required arguments: name, password (the '
                                    'connection options can also be set in the environment '
                                    'variable ACME_PASSWORD, or')


@pytest.mark.parametrize('timeout', [0, -1, -60])
def test_a_timeout_not_above_zero_is_refused(run_module, appliance, timeout):
    result = run_module(Probe, timeout=timeout)
    assert result.get('failed'), result
    assert result['msg'] == (f'timeout: {timeout} is not a number of seconds above 0 (leave '
                             f'timeout out for the default of 60 seconds)')
    assert appliance.calls == []


def test_appliance_error_is_code_message_and_request_id(run_module, monkeypatch):
    error = ac.Unauthorized('invalid username or password', status=401, request_id='req-42')
    monkeypatch.setattr(Probe, 'raise_this', error)
    result = run_module(Probe)
    assert result['failed']
    assert result['msg'] == ('cannot do the thing: UNAUTHORIZED: invalid username or password '
                             '(HTTP 401, request req-42)')
    assert result['error'] == dict(code='UNAUTHORIZED', message='invalid username or password',
                                   status=401, details={}, request_id='req-42')
    assert 'exception' not in result
    assert PASSWORD not in json.dumps(result)


def test_connection_error_has_no_traceback(run_module, monkeypatch):
    error = ac.ConnectionFailed('cannot reach the appliance at https://nas.test:8443/api/v1: '
                                'timed out')
    monkeypatch.setattr(Probe, 'raise_this', error)
    result = run_module(Probe)
    assert result['error']['code'] == 'CONNECTION_FAILED'
    assert 'Traceback' not in json.dumps(result)


def test_innermost_step_names_the_error():
    module = Probe.__new__(Probe)
    error = ac.NotFound('gone', status=404)
    with pytest.raises(ac.NotFound):
        with module.step('outer'):
            with module.step('inner'):
                raise error
    assert error_result(error)['msg'] == 'cannot inner: NOT_FOUND: gone (HTTP 404)'


def test_module_failure_is_a_plain_message(run_module, monkeypatch):
    monkeypatch.setattr(Probe, 'run', lambda self: self.fail('size: invalid size', hint=1))
    result = run_module(Probe)
    assert result['failed'] and result['msg'] == 'size: invalid size' and result['hint'] == 1


def test_unexpected_error_is_a_message_with_the_trace_kept_for_vvv(run_module, monkeypatch):
    def boom(self):
        raise KeyError('quota_bytes')
    monkeypatch.setattr(Probe, 'run', boom)
    result = run_module(Probe)
    assert result['msg'] == "unexpected error: 'quota_bytes'"
    assert 'Traceback' in result['exception']


def test_password_is_masked_even_if_a_module_echoes_it(run_module, monkeypatch):
    monkeypatch.setattr(Probe, 'run',
                        lambda self: dict(changed=False, echo=self.params['password']))
    result = run_module(Probe)
    assert PASSWORD not in json.dumps(result)


def test_missing_urllib3_names_the_library(run_module, monkeypatch):
    monkeypatch.setattr(acme_module, 'HAS_URLLIB3', False)
    monkeypatch.setattr(acme_module, 'URLLIB3_IMPORT_ERROR', 'ImportError: urllib3')
    result = run_module(Probe)
    assert result['failed'] and 'urllib3' in result['msg']


def test_client_is_built_from_the_connection_options(monkeypatch):
    seen = {}
    monkeypatch.setattr(acme_module.AcmeClient, 'from_params',
                        classmethod(lambda cls, params: seen.update(params) or 'client'))
    with patch_module_args(dict(appliance_url='https://a:8443', username='u', password='p',
                                ca_path='/ca.pem', validate_certs=False, timeout=5)):
        module = Probe()
    assert module.client == 'client'
    assert (seen['ca_path'], seen['validate_certs'], seen['timeout']) == ('/ca.pem', False, 5)


@pytest.mark.parametrize(('args', 'env', 'expected'), [
    ({}, None, 60.0), ({}, '7.5', 7.5), ({'retry_after_max': 3}, '7.5', 3.0)])
def test_option_retry_after_max_reaches_the_client(monkeypatch, args, env, expected):
    monkeypatch.delenv('ACME_RETRY_AFTER_MAX', raising=False)
    if env is not None:
        monkeypatch.setenv('ACME_RETRY_AFTER_MAX', env)
    with patch_module_args(dict(appliance_url='https://a:8443', username='u', password='p',
                                **args)):
        assert Probe().client.http.retry_after_max == expected


@pytest.mark.parametrize(('args', 'env', 'expected'), [
    ({}, None, ac.DEFAULT_RETRIES), ({}, '7', 7), ({'retries': 0}, '7', 0)])
def test_option_retries_reaches_the_client(monkeypatch, args, env, expected):
    monkeypatch.delenv('ACME_RETRIES', raising=False)
    if env is not None:
        monkeypatch.setenv('ACME_RETRIES', env)
    with patch_module_args(dict(appliance_url='https://a:8443', username='u', password='p',
                                **args)):
        http = Probe().client.http
    assert http.retries == expected
    assert http.retry.total == http.login_retry.total == expected


@pytest.mark.parametrize(('retries', 'fails'), [(0, True), (1, True), (2, False)])
def test_retries_decide_how_many_busy_answers_a_module_outlasts(run_module, appliance,
                                                                monkeypatch, retries, fails):
    """The appliance answers BUSY twice: retries=2 outlasts it, fewer fail with BUSY."""
    waits = []
    monkeypatch.setattr(ac, '_sleep', waits.append)
    appliance.add_fault(method='GET', path='/pools', times=2, action='fail', code='BUSY')
    result = run_module(ShareInfoModule, retries=retries)
    assert bool(result.get('failed')) is fails, result
    if fails:
        assert 'BUSY' in result['msg'] and result['error']['code'] == 'BUSY'
    assert appliance.sent('GET', '/pools') == min(retries, 2) + 1
    assert len(waits) == min(retries, 2)


def test_too_old_libraries_fail_with_one_message(run_module, monkeypatch):
    message = 'the ACME client needs requests >= 2.25.1 and urllib3 >= 1.26.5; x has ...'
    monkeypatch.setattr(acme_module, 'REQUIREMENTS_ERROR', message)
    result = run_module(Probe)
    assert (result['failed'], result['msg']) == (True, message) and 'exception' not in result


def test_diff_result_uses_empty_dicts_for_absent():
    assert diff_result(None, {'a': 1}) == {'before': {}, 'after': {'a': 1}}


def test_one_client_module_in_a_test_run():
    """The driver's acme_cinder.acme_client is the module the modules import: one AcmeError."""
    pytest.importorskip('acme_cinder')
    from acme_cinder import acme_client
    assert acme_client is ac and acme_client.AcmeError is ac.AcmeError
    assert 'acme_client' not in sys.modules  # no third name through plugins/module_utils
