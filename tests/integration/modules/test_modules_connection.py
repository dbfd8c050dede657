"""Connection options: environment, module_defaults action group, wrong password, secrecy."""

import re
import secrets

import pytest
import yaml

pytestmark = pytest.mark.integration
MODULES = ('acme_share', 'acme_snapshot', 'acme_share_info', 'acme_snapshot_info', 'acme_info')


def test_wrong_password_fails_with_the_401_and_shows_no_password(ansible, client):
    wrong = 'wrong-' + secrets.token_urlsafe(12)
    run = ansible.playbook([
        {'name': 'create', 'acme.nas.acme_share': {'name': 'denied', 'pool': 'pool1',
                                                   'size': '1GiB'}},
    ], '-vvv', password=wrong)
    assert run.rc != 0
    result = run['create']
    assert result['failed']
    assert re.fullmatch(r'cannot look up share denied in pool pool1: UNAUTHORIZED: invalid '
                        r'username or password \(HTTP 401, request [0-9a-f-]{36}\)', result['msg'])
    assert result['error']['code'] == 'UNAUTHORIZED' and result['error']['status'] == 401
    assert wrong not in run.output and ansible.appliance.password not in run.output
    assert client.shares.find('denied', 'pool1') is None


def test_wrong_password_ad_hoc(ansible):
    """Ad hoc, the password comes from ACME_PASSWORD: ansible itself echoes ``-a`` arguments
    in its error report (and ``ps`` shows them), so the README never puts it there."""
    wrong = 'wrong-' + secrets.token_urlsafe(12)
    run = ansible.adhoc('acme.nas.acme_share_info', 'pool=pool1', '-vvv', password=wrong)
    assert run.rc != 0
    assert 'UNAUTHORIZED: invalid username or password (HTTP 401, request' in run.output
    assert wrong not in run.output and ansible.appliance.password not in run.output
    assert 'Traceback' not in run.output


def grouped(appliance, tmp_path, password: str) -> dict:
    """A play header with the connection only in module_defaults, the password in a vars file."""
    secret_vars = tmp_path / 'secret.yml'
    secret_vars.write_text(yaml.safe_dump({'acme_password': password}))
    connection = {'appliance_url': appliance.url, 'username': 'admin',
                  'password': '{{ acme_password }}', 'ca_path': appliance.ca_path}
    return {'vars_files': [str(secret_vars)],
            'module_defaults': {'group/acme.nas.acme': connection}}


def task(title: str, module: str, /, **args) -> dict:
    return {'name': title, f'acme.nas.{module}': args}


def test_module_defaults_group_sets_the_connection_once(ansible, appliance, tmp_path):
    """No ACME_* variables: every module gets the connection from group/acme.nas.acme."""
    run = ansible.playbook([
        task('share', 'acme_share', name='grouped', pool='pool1', size='1GiB'),
        task('snapshot', 'acme_snapshot', share='grouped', pool='pool1', name='s1'),
        task('share info', 'acme_share_info', name='grouped'),
        task('snapshot info', 'acme_snapshot_info', share='grouped'),
        task('delete', 'acme_share', name='grouped', pool='pool1', state='absent', force=True),
    ], '-vvv', play=grouped(appliance, tmp_path, appliance.password), connection=False)
    assert run.rc == 0, run.output
    r = run.results
    assert r['share']['changed'] and r['snapshot']['changed'] and r['delete']['changed']
    assert [s['name'] for s in r['share info']['shares']] == ['grouped']
    assert [s['name'] for s in r['snapshot info']['snapshots']] == ['s1']
    assert appliance.password not in run.output
    invocation = r['share']['invocation']['module_args']
    assert invocation['password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_ansible_doc_renders_every_module(ansible):
    for module in MODULES:
        run = ansible.shell(f'ansible-doc acme.nas.{module}')
        assert run.rc == 0, run.output
        for section in ('OPTIONS', 'ATTRIBUTES', 'EXAMPLES', 'RETURN VALUES'):
            assert section in run.output, (module, section)
        assert 'appliance_url' in run.output and 'ACME_PASSWORD' in run.output
