"""The modules under Mitogen's strategy (mitogen_linear), which docs/performance.md measures:
modules run inside kept interpreters there, so results, check mode, diff, errors and secrecy
must be what ansible's own strategy gives."""

import secrets

import pytest

from tests.support.ansible import strategy_env

pytestmark = pytest.mark.integration
STRATEGY = strategy_env('mitogen_linear')


def share(title: str, **args) -> dict:
    return {'name': title, 'acme.nas.acme_share': dict(pool='pool1', **args)}


def test_shares_in_a_loop_then_unchanged_check_mode_and_diff(ansible, client):
    ansible.env.update(STRATEGY)
    loop = dict(share('create', name='m-{{ item }}', size='1GiB'), loop=[1, 2, 3])
    resize = dict(share('resize in check mode', name='m-1', size='2GiB'), check_mode=True)
    run = ansible.playbook([loop, dict(loop, name='again'), resize], '--diff').ok()
    assert [item['changed'] for item in run['create']['results']] == [True] * 3
    assert [item['changed'] for item in run['again']['results']] == [False] * 3
    assert run['resize in check mode']['changed'] is True
    assert run['resize in check mode']['diff']['after']['quota_bytes'] == 2 << 30
    assert client.shares.find('m-1', 'pool1')['quota_bytes'] == 1 << 30


def test_a_failure_is_a_message_and_shows_no_password(ansible, client):
    ansible.env.update(STRATEGY)
    wrong = 'wrong-' + secrets.token_urlsafe(12)
    run = ansible.playbook([share('create', name='denied', size='1GiB')], '-vvv', password=wrong)
    assert run.rc != 0 and run['create']['error']['code'] == 'UNAUTHORIZED'
    assert 'Traceback' not in run.output and wrong not in run.output
    assert client.shares.find('denied', 'pool1') is None
    # ansible's local connection logs each module's EXEC at -vvv; under Mitogen there is none
    assert ' EXEC ' not in run.output
