"""acme_info as an operator runs it: its EXAMPLES as written, in the action group, ansible-doc."""

import pytest
import yaml
from ansible_collections.acme.nas.plugins.modules import acme_info

pytestmark = pytest.mark.integration
EXAMPLE_URL = 'https://nas1.example.com:8443'


def test_examples_run_as_written(ansible, client, tmp_path):
    """EXAMPLES against the simulator: only the URL is the simulator's; the password comes from
    a vars file as ``acme_password``, the CA from ACME_CA_PATH, later tasks from ACME_*."""
    base = client.shares.create('db01', 'pool1', quota_bytes=1024 ** 3)
    client.snapshots.create(base['id'], 'nightly')
    assert EXAMPLE_URL in acme_info.EXAMPLES
    tasks = yaml.safe_load(acme_info.EXAMPLES.replace(EXAMPLE_URL, ansible.appliance.url))
    secret_vars = tmp_path / 'secret.yml'
    secret_vars.write_text(yaml.safe_dump({'acme_password': ansible.appliance.password}))
    run = ansible.playbook(tasks, '-e', f'@{secret_vars}')
    assert run.rc == 0, run.output
    assert run.stats['failures'] == 0 and run.stats['changed'] == 0
    nas = run["The appliance's version and its pools (the default subsets)"]
    assert nas['gathered_subset'] == ['system', 'pools'] and 'shares' not in nas
    shown = run['Show them']['msg']
    assert shown.startswith(f"{nas['system']['model']} {nas['system']['version']}: ")
    assert shown.endswith(' free in 2 pools')
    everything = run['Everything, shares and snapshots included']
    assert [s['name'] for s in everything['shares']] == ['db01']
    assert run['Names of the shares that have snapshots']['msg'] == ['db01']
    assert ansible.appliance.password not in run.output


def test_acme_info_is_in_the_action_group(ansible, appliance, tmp_path):
    connection = {'appliance_url': appliance.url, 'username': 'admin',
                  'password': appliance.password, 'ca_path': appliance.ca_path}
    run = ansible.playbook([{'name': 'info', 'acme.nas.acme_info': {'gather_subset': 'system'}}],
                           play={'module_defaults': {'group/acme.nas.acme': connection}},
                           connection=False)
    assert run.rc == 0, run.output
    assert run['info']['system']['vendor'] == 'ACME STORAGE, Inc'
