"""acme.nas.smoke's openstack.cloud calls against the pinned openstack.cloud and openstacksdk.

The flows themselves need Keystone, Cinder and a kernel NFS client: `make lab` runs them. What
runs here: every openstack.cloud call of the role names options the module has (ansible-doc of
the collection Ansible resolves: requirements-collections.txt's, linked into build/), and the
role's modules load with the pinned openstacksdk, validate the role's arguments and go as far
as asking Keystone for a token (a closed loopback port: the connection is refused). With
openstack.cloud 2.5.0 and openstacksdk 4.15 or later they stopped before that, at
``module 'openstack' has no attribute 'version'``.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.ansible import BIN, Ansible
from tests.support.appliance import free_port
from tests.support.collection import collections_path

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]
SMOKE_TASKS = REPO / 'roles' / 'smoke' / 'tasks'
PREFIX = 'openstack.cloud.'
TASK_KEYWORDS = {'name', 'register', 'when', 'vars', 'loop', 'no_log', 'until', 'retries',
                 'delay', 'tags', 'ignore_errors', 'changed_when', 'failed_when',
                 'environment', 'module_defaults', 'block', 'rescue', 'always', 'loop_control',
                 'delegate_to', 'become', 'check_mode', 'notify', 'listen', 'run_once'}


def pinned(path: Path, name: str) -> str:
    """The version of ``name`` in a pin file (``name==version`` or ``pin collection version``)."""
    for line in path.read_text().splitlines():
        words = line.split('#', 1)[0].split()
        if words and words[0].startswith(f'{name}=='):
            return words[0].split('==', 1)[1]
        if len(words) == 3 and words[1] == name:
            return words[2]
    raise LookupError(f'{name} is not pinned in {path}')


def openstack_calls(tasks: list, found: dict[str, set[str]]) -> dict[str, set[str]]:
    """Module name -> option names, of every openstack.cloud task and module_defaults entry."""
    for task in tasks or []:
        for module, defaults in (task.get('module_defaults') or {}).items():
            found.setdefault(module, set()).update(defaults)
        for key in ('block', 'rescue', 'always'):
            openstack_calls(task.get(key), found)
        for key, args in task.items():
            if key.startswith(PREFIX) and key not in TASK_KEYWORDS:
                found.setdefault(key, set()).update(args or {})
    return found


def smoke_calls() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(SMOKE_TASKS.rglob('*.yml')):
        openstack_calls(yaml.safe_load(path.read_text()), found)
    return found


def module_docs(modules: list[str]) -> dict:
    env = {'ANSIBLE_COLLECTIONS_PATH': str(collections_path()), 'PATH': str(BIN),
           'ANSIBLE_NOCOLOR': '1'}
    result = subprocess.run([BIN / 'ansible-doc', '-t', 'module', '--json', *modules],
                            env=env, capture_output=True, text=True, check=True, timeout=300)
    return json.loads(result.stdout)


def test_ansible_uses_the_pinned_openstack_cloud_and_openstacksdk():
    doc = module_docs(['openstack.cloud.auth'])['openstack.cloud.auth']['doc']
    manifest = Path(doc['filename']).parents[2] / 'MANIFEST.json'
    version = json.loads(manifest.read_text())['collection_info']['version']
    assert version == pinned(REPO / 'requirements-collections.txt', 'openstack.cloud')
    assert importlib.metadata.version('openstacksdk') == pinned(
        REPO / 'requirements-dev.txt', 'openstacksdk')


def test_every_openstack_cloud_call_of_the_smoke_role_names_options_the_module_has():
    calls = smoke_calls()
    assert {'openstack.cloud.auth', 'openstack.cloud.volume',
            'openstack.cloud.volume_snapshot'} <= calls.keys()
    docs = module_docs(sorted(calls))
    unknown = {}
    for module, used in calls.items():
        options = docs[module]['doc']['options']
        known = set(options) | {alias for option in options.values()
                                for alias in option.get('aliases', [])}
        if used - known:
            unknown[module] = sorted(used - known)
    assert not unknown, f'options the installed openstack.cloud does not have: {unknown}'


def test_the_smoke_roles_modules_load_and_ask_keystone_for_a_token(tmp_path):
    auth_url = f'http://127.0.0.1:{free_port()}/v3'  # nothing listens: connection refused
    cloud = {'auth': {'auth_url': auth_url, 'username': 'smoke', 'password': 'smoke',
                      'project_name': 'smoke', 'user_domain_name': 'Default',
                      'project_domain_name': 'Default'}}
    calls = {  # the arguments the role passes (roles/smoke/tasks)
        'openstack.cloud.auth': {},
        'openstack.cloud.volume_service_info': {'binary': 'cinder-volume'},
        'openstack.cloud.volume_info': {'all_projects': True, 'details': True},
        'openstack.cloud.resources': {'service': 'block_storage', 'type': 'type',
                                      'parameters': {'is_public': 'none'}},
        'openstack.cloud.volume_type': {'name': 'acme-smoke', 'is_public': False,
                                        'extra_specs': {'volume_backend_name': 'acme-1'},
                                        'description': 'acme.nas.smoke run'},
        'openstack.cloud.volume_type_info': {'name': 'acme-smoke'},
        'openstack.cloud.volume': {'name': 'acme-smoke-src', 'size': 1,
                                   'volume_type': 'acme-smoke'},
        'openstack.cloud.volume_snapshot': {'name': 'acme-smoke-snap',
                                            'volume': 'acme-smoke-src'},
        'openstack.cloud.volume_backup': {'name': 'acme-smoke-backup',
                                          'volume': 'acme-smoke-src'},
    }
    play = [{'hosts': 'localhost', 'gather_facts': False,
             'module_defaults': {module: {'cloud': cloud, 'timeout': 5} for module in calls},
             'tasks': [{'name': module, module: args, 'ignore_errors': True}
                       for module, args in calls.items()]}]
    playbook = tmp_path / 'smoke-calls.yml'
    playbook.write_text(yaml.safe_dump(play))
    run = Ansible(tmp_path / 'ansible').playbook(playbook)
    refused = f'Unable to establish connection to {auth_url}/auth/tokens'
    messages = {module: run[module].get('msg', '') for module in calls}
    assert all(refused in message for message in messages.values()), messages
