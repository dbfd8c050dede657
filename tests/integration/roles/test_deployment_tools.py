"""acme.nas next to the deployment tools that own cinder.conf, run for real on localhost.

- drop_in layout: acme.nas.cinder_backend writes only the ACME pieces into a file of its own;
  oslo.config reads cinder.conf then that directory (--config-dir), as cinder-volume does.
- service layout: the same pieces, read last by a cinder-volume of the ACME backends' own (a
  systemd unit started with the owner's command line and that file).
- kolla-ansible: the same drop-in, as /etc/kolla/config/cinder/cinder-volume.conf, merged
  into a cinder.conf by kolla-ansible's own merge_configs action plugin (from its release
  wheel, pinned in tests/support/kolla.py, cached under .cache/compat/).
- openstack-ansible: acme.nas.osa_cinder_backends gives os_cinder's cinder_backends, rendered
  through os_cinder's backend template (tests/integration/roles/files/).
Every resulting cinder.conf goes through the role's validator with Cinder's Python.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from oslo_config import cfg
from oslo_log import log

from tests.support.ansible import Ansible
from tests.support.kolla import kolla_ansible_dir

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]
FILES = Path(__file__).parent / 'files'
VALIDATOR = REPO / 'roles' / 'cinder_backend' / 'files' / 'acme-cinder-conf-validate'
PASSWORD = 'Dr0p-in-$3cret$'  # a $ is what oslo.config interpolates: every path writes $$

BACKENDS = {
    'acme-gold': {'volume_driver': 'acme_cinder.nfs.AcmeNfsDriver',
                  'acme_url': 'https://192.0.2.10:8443', 'acme_pool': 'gold',
                  'nas_login': 'cinder', 'nas_password': PASSWORD,
                  'nfs_sparsed_volumes': True, 'volume_type': 'gold'},
}
# What the owning tool already has in cinder.conf.
OWNER_CONF = """\
[DEFAULT]
enabled_backends = lvm-1
default_volume_type = lvm-1
transport_url = rabbit://cinder:owner@192.0.2.1:5672/

[lvm-1]
volume_driver = cinder.volume.drivers.lvm.LVMVolumeDriver
volume_backend_name = lvm-1
"""


def me() -> tuple[str, str]:
    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def role_vars(tmp_path: Path, dest: Path, **extra) -> dict:
    user, group = me()
    return {'acme_cinder_conf_layout': 'drop_in', 'acme_cinder_dropin_file': str(dest),
            'acme_cinder_dropin_other_backends': ['lvm-1'], 'acme_cinder_backends': BACKENDS,
            'acme_cinder_conf_owner': user, 'acme_cinder_conf_group': group,
            'acme_cinder_venv': sys.prefix, 'acme_cinder_service_manager': 'none',
            'acme_cinder_validator_path': str(tmp_path / 'bin' / 'validate'), **extra}


def run_role(tmp_path: Path, variables: dict):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False, 'vars': variables,
        'roles': ['acme.nas.cinder_backend']}]))
    return Ansible(Path(tempfile.mkdtemp(dir=tmp_path, prefix='ansible-'))).playbook(playbook)


def load(*args: str, files: tuple[Path, ...] = (), dirs: tuple[Path, ...] = ()
         ) -> cfg.ConfigOpts:
    """cinder.conf as oslo.config reads it (the options asked about registered); ``files`` and
    ``dirs`` stand in for its defaults (/etc/cinder/cinder.conf, /etc/cinder/cinder.conf.d)."""
    conf = cfg.ConfigOpts()
    log.register_options(conf)  # --log-file, as cinder-volume's command line has it
    conf.register_opts([cfg.ListOpt('enabled_backends'), cfg.StrOpt('default_volume_type'),
                        cfg.StrOpt('transport_url'), cfg.StrOpt('cluster')])
    conf.register_opts([cfg.StrOpt('acme_pool'), cfg.StrOpt('volume_backend_name'),
                        cfg.BoolOpt('nfs_sparsed_volumes'),
                        cfg.StrOpt('nas_password', secret=True)], group='acme-gold')
    conf(list(args), project='cinder', default_config_files=[str(f) for f in files],
         default_config_dirs=[str(d) for d in dirs])
    return conf


def validate(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, VALIDATOR, *args, path], capture_output=True,
                          text=True, timeout=120, check=False)


def test_dropin_adds_the_backends_to_a_cinder_conf_another_tool_owns(tmp_path):
    owner = tmp_path / 'etc' / 'cinder' / 'cinder.conf'
    owner.parent.mkdir(parents=True)
    owner.write_text(OWNER_CONF)
    dropin = owner.parent / 'cinder.conf.d' / 'acme.conf'
    variables = role_vars(tmp_path, dropin)
    run_role(tmp_path, variables).ok()
    assert run_role(tmp_path, variables).ok().stats['changed'] == 0
    assert owner.read_text() == OWNER_CONF
    assert oct(dropin.stat().st_mode & 0o777) == '0o640'
    text = dropin.read_text()
    assert '[database]' not in text and 'transport_url' not in text and 'volume_type =' not in text
    # cinder-volume without --config-file (defaults), or --config-dir after --config-file
    for conf in (load(files=(owner,), dirs=(dropin.parent,)),
                 load('--config-file', str(owner), '--config-dir', str(dropin.parent))):
        assert conf.enabled_backends == ['acme-gold', 'lvm-1']
        assert conf.default_volume_type == 'lvm-1'
        assert conf.transport_url == 'rabbit://cinder:owner@192.0.2.1:5672/'
        gold = conf['acme-gold']
        assert (gold.acme_pool, gold.volume_backend_name, gold.nfs_sparsed_volumes) == (
            'gold', 'acme-gold', True)
        assert gold.nas_password == PASSWORD
    # --config-file alone: the default directory is read first and cinder.conf wins (the
    # documented case for a unit drop-in adding --config-dir)
    assert load('--config-file', str(owner), dirs=(dropin.parent,)).enabled_backends == ['lvm-1']


@pytest.mark.parametrize('reads_dir', [False, True], ids=['config-file-only', 'config-dir-after'])
def test_dropin_cinder_volume_would_not_read_is_reported(tmp_path, reads_dir):
    """A cinder-volume started with --config-file alone never reads a drop-in in a directory
    of the operator's choosing (and reads the default one before cinder.conf): the role says
    so instead of succeeding; with --config-dir after --config-file it passes."""
    owner = tmp_path / 'etc' / 'cinder' / 'cinder.conf'
    owner.parent.mkdir(parents=True)
    owner.write_text(OWNER_CONF)
    dropin = owner.parent / 'acme.d' / 'acme.conf'
    started_as = ['--config-file', str(owner), '--log-file=/var/log/cinder/cinder-volume.log']
    if reads_dir:
        started_as += [f'--config-dir={dropin.parent}']
    result = run_role(tmp_path, role_vars(tmp_path, dropin, acme_cinder_service_args=started_as))
    if reads_dir:
        result.ok()
    else:
        assert result.rc != 0
        assert 'does not serve [acme-gold]: it reads enabled_backends = lvm-1' in result.output
        assert '--config-dir after --config-file' in result.output
    assert PASSWORD not in result.output and owner.read_text() == OWNER_CONF


def test_dropin_validation_still_refuses_a_broken_acme_backend(tmp_path):
    dropin = tmp_path / 'conf.d' / 'acme.conf'
    broken = {'acme-gold': {**BACKENDS['acme-gold'], 'acme_pool': None}}
    result = run_role(tmp_path, role_vars(tmp_path, dropin, acme_cinder_backends=broken))
    assert result.rc != 0
    assert '[acme-gold] acme_pool or acme_pools is required' in result.output
    assert PASSWORD not in result.output and '3cret' not in result.output
    assert not dropin.exists()


def test_dropin_refuses_a_cluster_that_would_stop_the_owners_backend(tmp_path):
    """cinder-volume refuses a driver without active-active support in a process whose
    [DEFAULT] cluster is set: a drop-in adding acme_cinder_cluster beside the owner's LVM
    backend would stop it. Refused before anything is written."""
    owner = tmp_path / 'etc' / 'cinder' / 'cinder.conf'
    owner.parent.mkdir(parents=True)
    owner.write_text(OWNER_CONF)
    dropin = owner.parent / 'cinder.conf.d' / 'acme.conf'
    result = run_role(tmp_path, role_vars(
        tmp_path, dropin, acme_cinder_conf_file=str(owner), acme_cinder_cluster='acme',
        acme_cinder_coordination_url='etcd3+http://192.0.2.1:2379'))
    assert result.rc != 0
    assert ('[lvm-1] cinder.volume.drivers.lvm.LVMVolumeDriver does not support active-active'
            in result.output)
    assert not dropin.exists() and owner.read_text() == OWNER_CONF
    assert PASSWORD not in result.output


def service_layout(tmp_path: Path, owner: Path, **extra) -> dict:
    user, group = me()
    conf = owner.parent / 'cinder-volume-acme.conf'
    (tmp_path / 'systemd').mkdir(exist_ok=True)  # a host's /etc/systemd/system
    return role_vars(tmp_path, conf, acme_cinder_conf_layout='service',
                     acme_cinder_service_file=str(conf), acme_cinder_dropin_other_backends=[],
                     acme_cinder_service_unit_dir=str(tmp_path / 'systemd'),
                     acme_cinder_service_log_file=str(tmp_path / 'log' / 'acme.log'),
                     acme_cinder_service_user=user, acme_cinder_service_group=group, **extra)


def exec_start(unit: Path) -> list[str]:
    line = next(line for line in unit.read_text().splitlines() if line.startswith('ExecStart='))
    return line.removeprefix('ExecStart=').split()


def test_service_layout_serves_acme_from_a_cinder_volume_of_its_own(tmp_path):
    """The ACME backends, clustered, beside an owner's LVM backend that cannot be: their own
    cinder-volume runs the owner's command line, then their file (whose enabled_backends and
    cluster win) and a log file of its own. The owner's cinder.conf and what its cinder-volume
    reads stay as they were."""
    owner = tmp_path / 'etc' / 'cinder' / 'cinder.conf'
    owner.parent.mkdir(parents=True)
    owner.write_text(OWNER_CONF)
    owner_args = ['--config-file', str(owner), '--log-file=/var/log/cinder/cinder-volume.log']
    variables = service_layout(
        tmp_path, owner, acme_cinder_service_program='/usr/bin/cinder-volume',
        acme_cinder_service_args=owner_args, acme_cinder_cluster='acme',
        acme_cinder_coordination_url='etcd3+http://192.0.2.1:2379')
    first = run_role(tmp_path, variables).ok()
    assert run_role(tmp_path, variables).ok().stats['changed'] == 0
    assert owner.read_text() == OWNER_CONF and PASSWORD not in first.output

    argv = exec_start(tmp_path / 'systemd' / 'cinder-volume-acme.service')
    conf = owner.parent / 'cinder-volume-acme.conf'
    assert argv == ['/usr/bin/cinder-volume', *owner_args, '--config-file', str(conf),
                    '--log-file', str(tmp_path / 'log' / 'acme.log')]
    acme = load(*argv[1:])
    assert (acme.enabled_backends, acme.cluster) == (['acme-gold'], 'acme')
    assert acme.transport_url == 'rabbit://cinder:owner@192.0.2.1:5672/'  # the owner's
    assert acme.log_file == str(tmp_path / 'log' / 'acme.log')
    assert acme['acme-gold'].nas_password == PASSWORD
    owners = load(*owner_args)  # the owner's cinder-volume
    assert (owners.enabled_backends, owners.cluster) == (['lvm-1'], None)
    assert validate(conf).returncode == 0  # no lvm-1 in the clustered process


def test_service_layout_needs_the_owners_command_line(tmp_path):
    """No systemd unit to read and no program given: refused before anything is written."""
    owner = tmp_path / 'etc' / 'cinder' / 'cinder.conf'
    owner.parent.mkdir(parents=True)
    owner.write_text(OWNER_CONF)
    result = run_role(tmp_path, service_layout(tmp_path, owner))
    assert result.rc != 0
    assert 'set acme_cinder_service_program' in result.output
    assert sorted(p.name for p in owner.parent.iterdir()) == ['cinder.conf']
    assert list((tmp_path / 'systemd').iterdir()) == []


@pytest.fixture(scope='session')
def kolla_action_plugins() -> Path:
    """kolla-ansible's action_plugins/merge_configs.py from its release wheel (cached)."""
    return kolla_ansible_dir() / 'action_plugins'


def test_kolla_merge_configs_merges_the_dropin_into_cinder_conf(tmp_path, kolla_action_plugins):
    user, _group = me()
    custom = tmp_path / 'etc' / 'kolla' / 'config'
    snippet = custom / 'cinder' / 'cinder-volume.conf'
    run_role(tmp_path, role_vars(tmp_path, snippet, acme_cinder_conf_mode='0600',
                                 acme_cinder_conf_group=user)).ok()
    base = tmp_path / 'cinder.conf.j2'  # stands in for kolla's templates/cinder.conf.j2
    base.write_text(OWNER_CONF)
    merged = tmp_path / 'cinder-volume' / 'cinder.conf'
    merged.parent.mkdir()
    playbook = tmp_path / 'kolla.yml'
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False, 'tasks': [{
            'name': 'Copying over cinder.conf (kolla-ansible roles/cinder/tasks/config.yml)',
            'merge_configs': {
                'sources': [str(base), str(custom / 'global.conf'), str(custom / 'cinder.conf'),
                            str(snippet), str(custom / 'cinder' / 'localhost' / 'cinder.conf')],
                'dest': str(merged), 'mode': '0660'}}]}]))
    runner = Ansible(tmp_path / 'ansible',
                     env={'ANSIBLE_ACTION_PLUGINS': str(kolla_action_plugins)})
    runner.playbook(playbook).ok()
    conf = load('--config-file', str(merged))
    assert conf.enabled_backends == ['acme-gold', 'lvm-1']
    assert conf.transport_url == 'rabbit://cinder:owner@192.0.2.1:5672/'
    assert conf['acme-gold'].acme_pool == 'gold'
    assert conf['acme-gold'].nas_password == PASSWORD
    result = validate(merged)
    assert result.returncode == 0, result.stderr


def test_osa_cinder_backends_render_through_os_cinders_template(tmp_path):
    rendered = tmp_path / 'cinder.conf'
    variables = tmp_path / 'cinder_backends.yml'
    playbook = tmp_path / 'osa.yml'
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False,
        'vars': {'acme_cinder_backends': BACKENDS,
                 'cinder_backends': "{{ acme_cinder_backends | acme.nas.osa_cinder_backends("
                                    "ca_file='/etc/cinder/ca.pem') }}"},
        'tasks': [
            {'name': 'What user_variables.yml gives os_cinder',
             'ansible.builtin.copy': {'content': '{{ cinder_backends | to_nice_yaml }}',
                                      'dest': str(variables), 'mode': '0600'}},
            {'name': "os_cinder's backend part of cinder.conf.j2",
             'ansible.builtin.template': {'src': str(FILES / 'os_cinder_backends.conf.j2'),
                                          'dest': str(rendered), 'mode': '0600'}},
        ]}]))
    Ansible(tmp_path / 'ansible').playbook(playbook).ok()
    backends = yaml.safe_load(variables.read_text())
    gold = backends['acme-gold']
    # tasks/cinder_backends.yml: a volume type per section with its volume_backend_name,
    # plus extra_volume_types; every other key goes into cinder.conf as key=value.
    assert gold['volume_backend_name'] == 'acme-gold'
    assert gold['extra_volume_types'] == ['gold']
    assert all(isinstance(value, str) for key, value in gold.items()
               if key != 'extra_volume_types')
    assert gold['nfs_sparsed_volumes'] == 'true' and 'volume_type' not in gold
    conf = load('--config-file', str(rendered))
    assert conf.enabled_backends == ['acme-gold']
    assert conf['acme-gold'].nfs_sparsed_volumes is True
    assert conf['acme-gold'].nas_password == PASSWORD
    result = validate(rendered)
    assert result.returncode == 0, result.stderr
    assert 'extra_volume_types' not in rendered.read_text()
