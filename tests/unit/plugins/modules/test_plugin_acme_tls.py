"""The modules' TLS messages (issue 14): a refused certificate (untrusted, or for another name)
and a missing ca_path say what to set; validate_certs=false skips the check. That the client
verifies (an untrusted certificate and one for another name refused, a configured CA accepted):
tests/unit/client/test_acme_client.py (test_client_verifies_tls_by_default)."""

import pytest
from ansible_collections.acme.nas.plugins.modules.acme_share import ShareModule
from ansible_collections.acme.nas.plugins.modules.acme_share_info import ShareInfoModule

from tests.support import tls_server


@pytest.mark.parametrize('check', [True, False])
def test_a_missing_ca_path_file_names_the_option_and_the_variable(
        run_module, connection, appliance, tmp_path, check):
    missing = str(tmp_path / 'no-such-ca.pem')
    result = run_module(ShareModule, _check=check, name='db01', pool='pool1',
                        **dict(connection, ca_path=missing))
    assert result.get('failed'), result
    assert result['msg'] == f'ca_path: {missing} does not exist; {CA_HINT}'
    assert 'exception' not in result
    assert appliance.calls == []


def test_a_missing_ca_path_from_the_environment_is_refused_the_same_way(
        run_module, connection, appliance, tmp_path, monkeypatch):
    missing = str(tmp_path / 'gone.pem')
    monkeypatch.setenv('ACME_CA_PATH', missing)
    args = {key: value for key, value in connection.items() if key != 'ca_path'}
    result = run_module(ShareInfoModule, _connection=False, **args)
    assert result.get('failed') and result['msg'].startswith(f'ca_path: {missing} does not exist')
    assert 'ACME_CA_PATH' in result['msg'] and appliance.calls == []


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')
def test_validate_certs_false_ignores_a_missing_ca_path(run_module, connection, tmp_path):
    args = dict(connection, validate_certs=False, ca_path=str(tmp_path / 'no-such-ca.pem'))
    result = run_module(ShareInfoModule, **args)
    assert not result.get('failed') and result['pools'], result


CA_HINT = ('set ca_path (or the environment variable ACME_CA_PATH) to the PEM file of the '
           "certificate authority that signed the appliance's certificate")
# A refused certificate -> the end of the message: which option or variable to set.
REFUSAL_HINTS = {
    'untrusted certificate (system trust store)':
        f'{CA_HINT}, or validate_certs=false to skip the check (trusted lab networks only)',
    'hostname mismatch':
        'the certificate does not name the host of appliance_url (or the environment variable '
        'ACME_URL): use a host name the certificate names',
}


@pytest.fixture(params=list(REFUSAL_HINTS))
def refusing(request, appliance, tmp_path):
    """(url, CA file or None, the hint the message must end with)."""
    for url, ca_file, _refusal in tls_server.endpoint(request.param, appliance, tmp_path):
        yield url, ca_file, REFUSAL_HINTS[request.param]


def test_a_refused_certificate_says_what_to_set(run_module, connection, refusing):
    url, ca_file, hint = refusing
    result = run_module(ShareInfoModule, _connection=False,
                        **dict(connection, appliance_url=url, ca_path=ca_file))
    assert result.get('failed') and 'CERTIFICATE_VERIFY_FAILED' in result['msg'], result
    assert result['msg'].endswith(f'; {hint}'), result['msg']
    assert result['error']['code'] == 'CONNECTION_FAILED'
