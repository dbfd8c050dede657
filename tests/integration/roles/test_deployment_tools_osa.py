"""openstack-ansible: the steps of docs/deployment-tools.md, run on localhost.

Every file the page shows for openstack-ansible is taken from the page, its paths under
/etc/openstack_deploy, /opt/acme, /etc/ansible, /var/www/repo and /tmp/acme-wheel moved into a
temporary directory. ansible-playbook and ansible run the way the openstack-ansible wrapper runs
them (openstack/openstack-ansible ff0803744ab5, scripts/openstack-ansible.sh and
openstack-ansible.rc): each /etc/openstack_deploy/user_*.yml as `-e @file`, in `ls` order; the
inventory is the dynamic inventory (here a script printing what osa_toolkit/generate.py gives
for these hosts) and /etc/openstack_deploy/inventory.ini, next to group_vars/ and host_vars/.
os_cinder's backend template and volume type task, python_venv_build's repo-path templates: verbatim
copies under files/.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from oslo_config import cfg

from tests.support.collection import collections_path

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / 'docs' / 'deployment-tools.md'
FILES = Path(__file__).parent / 'files'
BIN = Path(sys.executable).parent
# Where the page's files live on an openstack-ansible deploy host (moved under tmp_path here).
MOVED = ('/etc/openstack_deploy', '/etc/ansible', '/opt/acme', '/var/www/repo', '/tmp/acme-wheel')
PASSWORD = 'ACME-s3cret$'  # the page's user_secrets_acme.yml
CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBacmeTestCA\n-----END CERTIFICATE-----'
# The placement the page documented before: cinder_backends in a user_*.yml file.
EARLIER_USER_VARIABLES = """\
cinder_backends: >-
  {{ acme_cinder_backends | acme.nas.osa_cinder_backends(ca_file='/etc/cinder/acme-ca.pem') }}
"""


# --- the page ------------------------------------------------------------------------------

def osa_section() -> str:
    text = DOC.read_text()
    start = text.index('\n## openstack-ansible\n')
    end = text.find('\n## ', start + 1)
    return text[start:end if end != -1 else len(text)]


def fenced_blocks(language: str) -> list[str]:
    """The page's ```language blocks, dedented (they sit inside list items)."""
    pattern = re.compile(rf'^( *)```{language}\n(.*?)^\1```', re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(body) for _indent, body in pattern.findall(osa_section())]


def doc_files() -> dict[str, str]:
    """The files the page shows: yaml blocks whose first line is `# /path`."""
    return {body.split('\n', 1)[0][2:]: body for body in fenced_blocks('yaml')
            if body.startswith('# /')}


def doc_command(prefix: str) -> str:
    """The console line (after the `# ` prompt) starting with ``prefix``."""
    lines = [line[2:] for body in fenced_blocks('console') for line in body.splitlines()
             if line.startswith(f'# {prefix}')]
    assert len(lines) == 1, f'the page shows {len(lines)} commands starting with {prefix!r}'
    return lines[0]


# --- openstack-ansible, in a temporary root ------------------------------------------------

def osa_inventory(user_config: dict) -> dict:
    """What osa_toolkit/generate.py gives for these hosts: storage hosts run cinder-volume and
    cinder-backup on the host (env.d/cinder.yml: is_metal), an infra host gets a cinder-api and
    a repo container; each host's container_vars become its variables, without a dict value's
    limit_container_types key."""
    hostvars: dict[str, dict] = {}
    groups: dict[str, list[str]] = {'storage_hosts': [], 'cinder_volume': [], 'cinder_backup': [],
                                    'storage_infra_hosts': [], 'cinder_api': [], 'repo_all': []}
    for name, host in (user_config.get('storage_hosts') or {}).items():
        hostvars[name] = {'ansible_host': host['ip'], **container_vars(host)}
        for group in ('storage_hosts', 'cinder_volume', 'cinder_backup'):
            groups[group].append(name)
    for name, host in (user_config.get('storage_infra_hosts') or {}).items():
        groups['storage_infra_hosts'].append(name)
        for group, container in (('cinder_api', 'cinder-api'), ('repo_all', 'repo')):
            hostvars[f'{name}-{container}-container'] = {'physical_host': name,
                                                         **container_vars(host)}
            groups[group].append(f'{name}-{container}-container')
    inventory: dict = {group: {'hosts': hosts} for group, hosts in groups.items()}
    inventory['cinder_all'] = {'children': ['cinder_api', 'cinder_volume', 'cinder_backup']}
    inventory['_meta'] = {'hostvars': hostvars}
    return inventory


def container_vars(host: dict) -> dict:
    variables = {}
    for key, value in (host.get('container_vars') or {}).items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != 'limit_container_types'}
        variables[key] = value
    return variables


class Osa:
    """A deploy host's files under ``root``, and the openstack-ansible wrapper's commands."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = self.moved('/etc/openstack_deploy')
        self.config.mkdir(parents=True)
        (self.config / 'inventory.ini').write_text('[all]\n')
        (self.config / 'acme').mkdir()
        (self.config / 'acme' / 'acme-ca.pem').write_text(CA_PEM + '\n')

    def moved(self, path: str) -> Path:
        return Path(self.place(path))

    def place(self, text: str) -> str:
        for path in MOVED:
            text = text.replace(path, f'{self.root}{path}')
        return text

    def write(self, path: str, text: str) -> Path:
        dest = self.moved(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(self.place(text))
        return dest

    def write_doc_files(self) -> None:
        for path, text in doc_files().items():
            self.write(path, text)

    @property
    def user_config(self) -> dict:
        return yaml.safe_load((self.config / 'openstack_user_config.yml').read_text())

    def save_user_config(self, config: dict) -> None:
        config.setdefault('storage_infra_hosts', {'infra1': {'ip': '172.29.236.11'}})
        (self.config / 'openstack_user_config.yml').write_text(yaml.safe_dump(config))

    def run(self, tool: str, *args: str) -> dict:
        """``tool`` (ansible-playbook or ansible) as the wrapper runs it; the json callback's
        report (``rc`` added)."""
        script = self.root / 'dynamic_inventory.py'
        script.write_text('#!/bin/sh\ncat <<"EOF"\n'
                          f'{json.dumps(osa_inventory(self.user_config))}\nEOF\n')
        script.chmod(0o755)
        user_files = [arg for path in sorted(self.config.glob('user_*.yml'))
                      for arg in ('-e', f'@{path}')]
        env = {**os.environ, 'PATH': f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               'ANSIBLE_INVENTORY': f'{script},{self.config}/inventory.ini',
               'ANSIBLE_COLLECTIONS_PATH': str(collections_path()),
               'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
               'ANSIBLE_HOME': str(self.root / 'ansible-home'),
               'ANSIBLE_LOCAL_TEMP': str(self.root / 'ansible-tmp'),
               'ANSIBLE_STDOUT_CALLBACK': 'json', 'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
               'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_NOCOLOR': '1',
               'ANSIBLE_TRANSFORM_INVALID_GROUP_CHARS': 'always'}
        result = subprocess.run([BIN / tool, *user_files, '-c', 'local', *args], env=env,
                                capture_output=True, text=True, timeout=600, check=False)
        assert result.stdout.lstrip().startswith('{'), result.stdout + result.stderr
        report = json.loads(result.stdout[result.stdout.index('{'):])
        report['rc'] = result.returncode
        return report


def ok(report: dict) -> dict:
    assert report['rc'] == 0, json.dumps(report, indent=1)[-6000:]
    return report


def task_results(report: dict, host: str) -> dict[str, dict]:
    """Each task's result on ``host`` by task name (without the "role : " prefix)."""
    return {task['task']['name'].split(' : ', 1)[-1]: task['hosts'][host]
            for play in report['plays'] for task in play['tasks'] if host in task['hosts']}


@pytest.fixture
def osa(tmp_path) -> Osa:
    deploy = Osa(tmp_path)
    deploy.write_doc_files()
    deploy.save_user_config(deploy.user_config)  # and an infra host (cinder-api, repo)
    return deploy


# --- steps 2 and 3: where the backends go ---------------------------------------------------

def render_cinder_conf(osa: Osa) -> tuple[Path, dict]:
    """os_cinder's backend part of cinder.conf on each cinder-volume host (``out/<host>``), and
    the backends its volume types are made from, with Ansible's precedence over the inventory."""
    out = osa.root / 'out'
    playbook = osa.root / 'os_cinder.yml'
    playbook.write_text(yaml.safe_dump([
        {'name': "os_cinder's cinder.conf on the cinder-volume hosts", 'hosts': 'cinder_volume',
         'gather_facts': False, 'tasks': [
             {'name': 'Create the directory', 'ansible.builtin.file': {
                 'path': f'{out}/{{{{ inventory_hostname }}}}', 'state': 'directory',
                 'mode': '0700'}},
             {'name': 'Backend part of cinder.conf.j2', 'ansible.builtin.template': {
                 'src': str(FILES / 'os_cinder_backends.conf.j2'),
                 'dest': f'{out}/{{{{ inventory_hostname }}}}/cinder.conf', 'mode': '0600'}}]},
        {'name': "os_cinder's volume types, on a cinder-api host", 'hosts': 'cinder_api',
         'gather_facts': False,
         'vars': {'cinder_services': {'cinder-volume': {'group': 'cinder_volume'}}},
         'tasks': [{'ansible.builtin.import_tasks': str(FILES / 'os_cinder_volume_types.yml')},
                   {'name': 'Keep them', 'ansible.builtin.copy': {
                       'content': '{{ _cinder_backends | to_nice_json }}',
                       'dest': str(out / 'volume_types.json'), 'mode': '0600'}}]}]))
    ok(osa.run('ansible-playbook', str(playbook)))
    return out, json.loads((out / 'volume_types.json').read_text())


def load(path: Path, own: str) -> cfg.ConfigOpts:
    """``path`` as oslo.config reads it, the options of ``own`` and acme-gold registered."""
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.ListOpt('enabled_backends')])
    for group in (own, 'acme-gold'):
        conf.register_opts([cfg.StrOpt('volume_backend_name'), cfg.StrOpt('volume_driver'),
                            cfg.StrOpt('volume_group'), cfg.StrOpt('acme_pool'),
                            cfg.StrOpt('acme_ca_file'), cfg.StrOpt('nas_password', secret=True)],
                           group=group)
    conf(['--config-file', str(path)], project='cinder', default_config_files=[])
    return conf


def three_storage_hosts(osa: Osa) -> None:
    """storage1 as the page shows it (container_vars); storage2 and storage3 keep their backends
    (the page's, lvm renamed lvm-2 / lvm-3, with the ACME line) in host_vars/storage2.yml and in
    group_vars/storage_hosts.yml. The page says which one wins where a host has several:
    host_vars over storage2's container_vars (an old backend), group_vars (for all three) loses
    to both."""
    config = osa.user_config
    page_backends = config['storage_hosts']['storage1']['container_vars']['cinder_backends']
    for number in (2, 3):
        config['storage_hosts'][f'storage{number}'] = {'ip': f'172.29.236.{15 + number}'}
    config['storage_hosts']['storage2']['container_vars'] = {
        'cinder_backends': {'lvm-old': page_backends['lvm']}}
    osa.save_user_config(config)
    for number, path in ((2, 'host_vars/storage2.yml'), (3, 'group_vars/storage_hosts.yml')):
        backends = {(f'lvm-{number}' if name == 'lvm' else name): value
                    for name, value in page_backends.items() if name != 'limit_container_types'}
        osa.write(f'/etc/openstack_deploy/{path}', yaml.safe_dump({'cinder_backends': backends}))


def test_osa_acme_backends_join_each_hosts_own_backends(osa):
    three_storage_hosts(osa)
    out, volume_types = render_cinder_conf(osa)
    for host, own in (('storage1', 'lvm'), ('storage2', 'lvm-2'), ('storage3', 'lvm-3')):
        conf = load(out / host / 'cinder.conf', own)
        assert conf.enabled_backends == ['acme-gold', own], host
        assert (conf[own].volume_driver, conf[own].volume_group,
                conf[own].volume_backend_name) == (
            'cinder.volume.drivers.lvm.LVMVolumeDriver', 'cinder-volumes', 'LVM_iSCSI'), host
        gold = conf['acme-gold']
        assert (gold.acme_pool, gold.volume_backend_name, gold.acme_ca_file) == (
            'gold', 'acme-gold', '/etc/cinder/acme-ca.pem'), host
        assert gold.nas_password == PASSWORD
    # os_cinder makes a volume type per backend (named after it) and each extra_volume_types
    assert sorted(volume_types) == ['acme-gold', 'lvm', 'lvm-2', 'lvm-3']
    assert volume_types['acme-gold']['extra_volume_types'] == ['gold']


def test_osa_the_pages_check_lists_both_backends(osa):
    check = shlex.split(doc_command('ansible cinder_volume '))
    report = ok(osa.run(check[0], *check[1:]))
    listed = report['plays'][0]['tasks'][0]['hosts']['storage1']['msg']
    assert sorted(listed) == ['acme-gold', 'lvm']


def test_osa_earlier_user_variables_placement_drops_the_hosts_own_backends(osa):
    """What the page documented before, told apart by the same test: cinder_backends as extra
    vars replaces the storage host's lvm backend."""
    config = osa.user_config
    config['storage_hosts']['storage1']['container_vars']['cinder_backends'].pop('acme-gold')
    osa.save_user_config(config)
    (osa.config / 'user_variables_acme.yml').write_text(EARLIER_USER_VARIABLES)
    out, volume_types = render_cinder_conf(osa)
    rendered = out / 'storage1' / 'cinder.conf'
    assert load(rendered, 'lvm').enabled_backends == ['acme-gold']
    assert '[lvm]' not in rendered.read_text()
    assert sorted(volume_types) == ['acme-gold']


# --- step 4: the driver wheel in cinder_user_pip_packages -----------------------------------

def installed_collection(osa: Osa) -> Path:
    """The collection's driver/ as ansible-galaxy installs it: the client module a symlink."""
    collection = osa.moved('/etc/ansible') / 'ansible_collections' / 'acme' / 'nas'
    shutil.copytree(REPO / 'driver', collection / 'driver', symlinks=True,
                    ignore=shutil.ignore_patterns('build', '*.egg-info', '__pycache__'))
    client = collection / 'plugins' / 'module_utils' / 'acme_client.py'
    client.parent.mkdir(parents=True)
    shutil.copy(REPO / 'plugins' / 'module_utils' / 'acme_client.py', client)
    assert (collection / 'driver' / 'acme_cinder' / 'acme_client.py').is_symlink()
    return collection


@pytest.fixture
def repo_url(osa):
    """The repo server's directory, served over HTTP on loopback."""
    directory = osa.moved('/var/www/repo')
    directory.mkdir(parents=True)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(directory))
    server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


def pip(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, '-m', 'pip', '--disable-pip-version-check', *args],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def new_venv(path: Path) -> Path:
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', path], check=True)
    return path / 'bin' / 'python'


def installed_driver(python: Path) -> tuple[str, bool]:
    """The driver's version in ``python``, and whether its client module is a regular file."""
    code = ('import importlib.metadata as m, os; d = m.distribution("acme-cinder-driver"); '
            'c = d.locate_file("acme_cinder/acme_client.py"); '
            'print(d.version, os.path.isfile(c) and not os.path.islink(c))')
    version, regular = subprocess.run([python, '-I', '-c', code], capture_output=True, text=True,
                                      check=True).stdout.split()
    return version, regular == 'True'


def test_osa_driver_wheel_installs_from_cinder_user_pip_packages(osa, repo_url, tmp_path):
    installed_collection(osa)
    wheel_command = shlex.split(osa.place(doc_command('python3 -m pip wheel ')))
    assert wheel_command[:3] == ['python3', '-m', 'pip']
    pip(*wheel_command[3:], '--quiet')
    copy = shlex.split(osa.place(doc_command('ansible repo_all ')))
    copied = ok(osa.run(copy[0], *copy[1:]))['plays'][0]['tasks'][0]['hosts']
    assert list(copied) == ['infra1-repo-container']
    version = re.search(r"(?m)^__version__ = '([^']+)'",
                        (REPO / 'driver' / 'acme_cinder' / '__init__.py').read_text())[1]
    wheel_name = f'acme_cinder_driver-{version}-py3-none-any.whl'
    assert (osa.moved('/var/www/repo') / 'acme' / wheel_name).is_file()
    assert 'acme_cinder/acme_client.py' in zipfile.ZipFile(
        osa.moved('/var/www/repo') / 'acme' / wheel_name).namelist()

    packages = yaml.safe_load((osa.config / 'user_variables_acme.yml').read_text())[
        'cinder_user_pip_packages']
    assert packages == [f'acme-cinder-driver @ {{{{ openstack_repo_url }}}}/acme/{wheel_name}']
    requirement = packages[0].replace('{{ openstack_repo_url }}', repo_url)

    # No repo server: each host's venv installs the URL.
    direct = new_venv(tmp_path / 'venv-direct')
    pip('--python', str(direct), 'install', '--quiet', '--no-deps', '--no-index', requirement)
    assert installed_driver(direct) == (version, True)

    # Repo servers: the build host fetches the URL into its wheel directory, the constraints
    # pin its version, each host installs the bare name from there.
    wheels, requirements = tmp_path / 'wheels', tmp_path / 'requirements'
    requirements.mkdir()
    pip('wheel', '--quiet', '--no-deps', '--no-index', '--wheel-dir', str(wheels), requirement)
    ok(osa.run('ansible-playbook', str(FILES / 'python_venv_build_repo_path.yml'),
               '-e', json.dumps({'_venv_pip_packages': packages, 'openstack_repo_url': repo_url,
                                 'venv_build_host_wheel_path': str(wheels),
                                 'requirements_dir': str(requirements)})))
    assert f'acme_cinder_driver=={version}' in (requirements / 'constraints.txt').read_text()
    assert (requirements / 'requirements.txt').read_text().splitlines()[1:] == [
        'acme-cinder-driver']
    from_repo = new_venv(tmp_path / 'venv-repo')
    pip('--python', str(from_repo), 'install', '--quiet', '--no-deps', '--no-index',
        '--find-links', str(wheels), '--constraint', str(requirements / 'constraints.txt'),
        '--requirement', str(requirements / 'requirements.txt'))
    assert installed_driver(from_repo) == (version, True)


# --- step 5: acme.nas.driver on the cinder-volume hosts --------------------------------------

def dpkg_database(path: Path, packages: list[str]) -> Path:
    """A dpkg database (dpkg-query --admindir) that has ``packages`` installed."""
    path.mkdir()
    (path / 'status').write_text(''.join(
        f'Package: {name}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n'
        'Maintainer: test\nDescription: test\n\n' for name in packages))
    return path


def run_driver_play(osa: Osa, install_method: str, system_python: Path) -> dict:
    """The page's playbook, as `openstack-ansible`, in a temporary root."""
    root = osa.root / 'host'
    (osa.config / 'user_variables_install.yml').write_text(
        yaml.safe_dump({'cinder_install_method': install_method}))
    user, group = (subprocess.run(['id', flag], capture_output=True, text=True, check=True)
                   .stdout.strip() for flag in ('-un', '-gn'))
    dpkg = dpkg_database(osa.root / 'dpkg', ['nfs-common', 'qemu-utils'])
    overrides = {
        'ansible_become': False,
        'acme_driver_system_python': str(system_python),
        'acme_driver_rootwrap_dir': f'{root}/etc/cinder/rootwrap.d',
        'acme_driver_mount_point_base': f'{root}/var/lib/cinder/mnt',
        'acme_driver_ca_file': f'{root}/etc/cinder/acme-ca.pem',
        'acme_driver_state_dir': f'{root}/var/lib/acme-cinder-driver',
        'acme_driver_cinder_user': user, 'acme_driver_cinder_group': group,
        'acme_driver_service_manager': 'command',
        'acme_driver_restart_command': ['sh', '-c', f'echo restarted >> {root}/restarts'],
        # the role asks dpkg-query; here a database of the test's (it installs nothing here)
        '_acme_driver_package_query': ['dpkg-query', '--admindir', str(dpkg), '--show',
                                       '--showformat=${db:Status-Status}'],
    }
    (osa.root / 'overrides.json').write_text(json.dumps(overrides))
    playbook = osa.moved('/opt/acme/osa-acme-driver.yml')
    return ok(osa.run('ansible-playbook', str(playbook), '-e', f'@{osa.root}/overrides.json'))


def assert_host_prepared(root: Path, results: dict) -> None:
    filters = (root / 'etc' / 'cinder' / 'rootwrap.d' / 'acme.filters').read_text()
    assert re.escape(f'{root}/var/lib/cinder/mnt') in filters  # the role's regex_escape
    assert (root / 'var' / 'lib' / 'cinder' / 'mnt').is_dir()
    assert (root / 'etc' / 'cinder' / 'acme-ca.pem').read_text() == CA_PEM + '\n'
    queried = results['Find which packages the driver needs are missing']['results']
    assert [(item['item'], item['stdout']) for item in queried] == [
        ('nfs-common', 'installed'), ('qemu-utils', 'installed')]
    assert results['Install the packages the driver needs'].get('skipped')


def test_osa_driver_play_source_install_prepares_the_host_only(osa, tmp_path):
    python = new_venv(tmp_path / 'system-python')
    results = task_results(run_driver_play(osa, 'source', python), 'storage1')
    root = osa.root / 'host'
    assert_host_prepared(root, results)
    for task in ('Build the driver wheel (once per source hash)', 'Copy the driver wheel',
                 'Install the driver wheel'):
        assert results[task].get('skipped'), task
    ran = [name for name, result in results.items() if not result.get('skipped')
           and 'pip' in ' '.join(map(str, result.get('cmd') or []))]
    assert ran == []
    assert not (root / 'var' / 'lib' / 'acme-cinder-driver').exists()
    assert not (root / 'restarts').exists()
    assert subprocess.run([python, '-I', '-c', 'import acme_cinder'], capture_output=True,
                          check=False).returncode != 0


def test_osa_driver_play_distro_install_puts_the_driver_into_the_system_python(osa, tmp_path):
    system = tmp_path / 'system-python'
    subprocess.run([sys.executable, '-m', 'venv', system], check=True)
    results = task_results(run_driver_play(osa, 'distro', system / 'bin' / 'python'), 'storage1')
    root = osa.root / 'host'
    assert_host_prepared(root, results)
    assert 'changed' in results['Install the driver wheel'] and results[
        'Install the driver wheel']['changed']
    assert installed_driver(system / 'bin' / 'python')[1] is True
    assert (root / 'restarts').read_text() == 'restarted\n'
