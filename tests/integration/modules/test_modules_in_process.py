"""Where an acme.nas module runs (plugins/plugin_utils/acme_action.py): in the controller's
worker when the task would run it on the controller anyway, one login for a whole loop; as a
module process otherwise (another interpreter, async), with the same results."""

from __future__ import annotations

import re
import secrets

import pytest

from tests.support.ansible import other_python, strategy_env

pytestmark = pytest.mark.integration
LOOP = [1, 2, 3]


def share(title: str, **args) -> dict:
    return {'name': title, 'acme.nas.acme_share': dict(pool='pool1', **args)}


def tasks(prefix: str) -> list[dict]:
    """Create in a loop, again unchanged, resize in check mode, a refused size, an info."""
    return [
        dict(share('create', name=f'{prefix}-{{{{ item }}}}', size='1GiB'), loop=LOOP),
        dict(share('again', name=f'{prefix}-{{{{ item }}}}', size='1GiB'), loop=LOOP),
        dict(share('resize in check mode', name=f'{prefix}-1', size='2GiB'), check_mode=True),
        dict(share('refused', name=f'{prefix}-1', size='1Gb'), ignore_errors=True),
        {'name': 'info', 'acme.nas.acme_share_info': {'name': f'{prefix}-2', 'pool': 'pool1'}},
    ]


def comparable(result: dict, prefix: str) -> dict:
    """A result without the run's own names, the appliance's ids and times, the pool's sums."""
    own = {key: value for key, value in result.items() if key not in ('invocation', 'results')}
    text = re.sub(rf'\b{prefix}-', 'X-', repr(own))
    text = re.sub(r"'(id|share_id|created_at|updated_at|export_path|path)': '[^']*'",
                  r"'\1': ?", text)
    text = re.sub(r"'(provisioned_bytes|share_count)': \d+", r"'\1': ?", text)  # the pool's
    items = [comparable(item, prefix) for item in result.get('results', [])]
    return {'result': text, 'items': items}


def logins(appliance) -> int:
    return appliance.sent('POST', '/auth/login', exact=True)


def test_a_loop_runs_in_the_controller_with_one_login(ansible, appliance):
    before = logins(appliance)
    run = ansible.playbook(tasks('c')[:2], '-vvv').ok()
    assert [item['changed'] for item in run['create']['results']] == [True] * 3
    assert [item['changed'] for item in run['again']['results']] == [False] * 3
    assert logins(appliance) - before == 2  # one per task (worker), not one per item
    assert 'AnsiballZ_acme_share' not in run.output


@pytest.mark.parametrize('way', ['another interpreter', 'async'])
def test_module_processes_where_the_module_would_not_run_here(ansible, appliance, tmp_path, way):
    python = other_python(tmp_path / 'other-bin')
    play = {'vars': {'ansible_python_interpreter': str(python)}} if way != 'async' else None
    task = dict(tasks('p')[0], **({'async': 60, 'poll': 1} if way == 'async' else {}))
    before = logins(appliance)
    run = ansible.playbook([task], '-vvv', play=play).ok()
    assert [item['changed'] for item in run['create']['results']] == [True] * 3
    assert logins(appliance) - before == 3
    assert 'AnsiballZ_acme_share' in run.output


@pytest.mark.parametrize('strategy', ['linear', 'mitogen_linear'])
def test_both_ways_give_the_same_results(ansible, tmp_path, strategy):
    ansible.env.update(strategy_env(strategy))
    here = ansible.playbook(tasks('c'), '--diff')
    python = other_python(tmp_path / 'other-bin')
    there = ansible.playbook(tasks('p'), '--diff',
                             play={'vars': {'ansible_python_interpreter': str(python)}})
    assert here.rc == there.rc == 0, (here.output[-3000:], there.output[-3000:])
    for name in ('create', 'again', 'resize in check mode', 'refused', 'info'):
        assert comparable(here[name], 'c') == comparable(there[name], 'p'), name
    assert here['refused']['failed'] and 'Gb' in here['refused']['msg']
    assert here['create']['results'][0]['invocation']['module_args']['password'] == \
        'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_the_tasks_environment_reaches_the_module_and_goes_with_it(ansible, client):
    wrong = 'wrong-' + secrets.token_urlsafe(12)
    denied = dict(share('denied', name='env-1', size='1GiB'), environment={'ACME_PASSWORD': wrong},
                  ignore_errors=True)
    run = ansible.playbook([denied, share('allowed', name='env-2', size='1GiB')], '-vvv').ok()
    assert run['denied']['failed'] and run['denied']['error']['code'] == 'UNAUTHORIZED'
    assert run['allowed']['changed'] and wrong not in run.output
    assert client.shares.find('env-1', 'pool1') is None
