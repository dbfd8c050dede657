"""The module examples of README.md run as written against the simulator."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
DOC = Path(__file__).resolve().parents[3] / 'README.md'


def blocks(language):
    return re.findall(rf'```{language}\n(.*?)```', DOC.read_text(), re.DOTALL)


def playbook_titled(title):
    for block in blocks('yaml'):
        plays = yaml.safe_load(block)
        if isinstance(plays, list) and plays[0].get('name') == title:
            return block
    raise AssertionError(f'no playbook {title!r} in {DOC}')


def test_ad_hoc_examples(ansible, client):
    (console,) = blocks('console')
    commands = [line[2:] for line in console.splitlines() if line.startswith('$ ansible ')]
    assert len(commands) >= 6
    for command in commands:
        command, _sep, expectation = command.partition('  # ')
        run = ansible.shell(command)
        assert run.rc == 0, (command, run.output)
        if expectation == 'changed: false':
            assert 'localhost | SUCCESS' in run.output, (command, run.output)
        if '--check' in command:
            assert '+    "quota_bytes": 42949672960' in run.output
    assert client.shares.find('db01', 'pool1') is None


@pytest.fixture
def vault_vars(ansible, tmp_path):
    path = tmp_path / 'acme.yml'
    path.write_text(yaml.safe_dump({'acme_url': ansible.appliance.url,
                                    'acme_password': ansible.appliance.password,
                                    'acme_ca_path': ansible.appliance.ca_path}))
    return f'@{path}'


def test_playbook_example(ansible, client, vault_vars):
    playbook = playbook_titled('A database share, its snapshot and a test copy')
    run = ansible.playbook(playbook, '-e', vault_vars, connection=False)
    assert run.rc == 0, run.output
    assert run.stats['failures'] == 0 and run.stats['changed'] == 6
    mount = run['Mount it with']['msg']
    assert re.fullmatch(r'mount -t nfs \S+:/pool1/db01 /mnt/db01', mount)
    assert 'shares, ' in run['Report']['msg'] and 'free' in run['Report']['msg']
    db01 = client.shares.find('db01', 'pool1')
    assert db01['quota_bytes'] == 40 * 1024 ** 3
    assert client.shares.find('db01-test', 'pool1') is None
    client.shares.delete(db01['id'], recursive=True)


def test_json_query_example(ansible, client):
    if importlib.util.find_spec('jmespath') is None:
        pytest.skip('community.general.json_query needs jmespath on the controller '
                    '(not in requirements-dev.txt)')
    client.shares.create('big1', 'pool1', quota_bytes=20 * 1024 ** 3,
                         nfs={'enabled': True, 'rules': [{'clients': '*', 'access': 'ro',
                                                          'root_squash': True}]})
    small = client.shares.create('small1', 'pool1', quota_bytes=1024 ** 2)
    client.snapshots.create(small['id'], 'nightly')
    run = ansible.playbook(playbook_titled('Reports on shares and snapshots'))
    assert run.rc == 0, run.output
    report = run['Exported shares with a quota over 10 GiB, and the shares that have snapshots']
    assert report['msg']['big_exported'] == [{'name': 'big1', 'pool': 'pool1',
                                              'path': '/pool1/big1'}]
    assert report['msg']['with_snapshots'] == ['pool1/small1']


def test_diff_output_is_rendered(ansible, client):
    """What an operator sees with --diff (the results are in tests/integration/targets)."""
    gib = 1024 ** 3
    client.shares.create('shown', 'pool1', quota_bytes=gib)
    run = ansible.playbook([{'name': 'shown', 'acme.nas.acme_share': {
        'name': 'shown', 'pool': 'pool1', 'size': '2GiB',
        'nfs': {'rules': [{'clients': '10.0.0.0/24', 'access': 'rw', 'root_squash': False}]}}}],
        '--diff')
    assert run.rc == 0, run.output
    assert f'-    "quota_bytes": {gib}' in run.output
    assert f'+    "quota_bytes": {2 * gib}' in run.output
    assert '+                "clients": "10.0.0.0/24",' in run.output
    assert 'changed: [localhost]' in run.output
    client.shares.delete(client.shares.find('shown', 'pool1')['id'])
