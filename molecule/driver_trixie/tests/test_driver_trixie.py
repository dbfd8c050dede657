"""Verify of molecule/driver_trixie: the driver on a Debian 13 volume host (its root: a chroot)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import testinfra.host
from testinfra.backend.chroot import ChrootBackend

HOST_ROOT = Path(os.environ.get('ACME_MOLECULE_ROOT', '/tmp/acme-molecule-driver_trixie')) / 'host'

PROJECT = Path(os.environ['MOLECULE_PROJECT_DIRECTORY'])
CINDER_PYTHON = '/opt/cinder/bin/python'
CINDER_CONF = '/etc/cinder/cinder.conf'
MOUNT_BASE = '/var/lib/cinder/mnt'
PASSWORD = 'S3cret$-trixie'  # vars/main.yml

IMPORT_PROBE = """
import importlib.metadata as m, json, os, sys
import acme_cinder
d = m.distribution('acme-cinder-driver')
client = str(d.locate_file('acme_cinder/acme_client.py'))
print(json.dumps({'python': list(sys.version_info[:2]),
                  'base': os.path.realpath(sys._base_executable),
                  'client': client, 'link': os.path.islink(client),
                  'eps': [e.name for e in d.entry_points if e.group == 'oslo.config.opts']}))
"""

# Cinder's rootwrap, configured by the stock /etc/cinder/rootwrap.conf: its filters_path must
# reach the driver's filters, which allow the driver's commands under the mount base only.
ROOTWRAP_PROBE = """
import configparser, os, shutil, sys, tempfile
from oslo_rootwrap import wrapper
raw = configparser.RawConfigParser()
raw.read(sys.argv[1])
config = wrapper.RootwrapConfig(raw)
filters = wrapper.load_filters(config.filters_path)
own = tempfile.mkdtemp()  # Cinder's volume.filters allow any mount: judge the driver's file alone
shutil.copy(sys.argv[3], own)
own_filters = wrapper.load_filters([own])
mnt = sys.argv[2] + '/0123456789abcdef0123456789abcdef'
good = [['mount', '-t', 'nfs', '-o', 'vers=3,proto=tcp', '10.0.0.1:/pool1/v', mnt],
        ['truncate', '-s', '2G', mnt + '/volume-1'], ['chmod', '660', mnt + '/volume-1'],
        ['cp', '--sparse=always', '-f', mnt + '/a', mnt + '/b']]
bad = [['mount', '-t', 'nfs', '-o', 'x', '10.0.0.1:/p', '/etc'], ['chmod', '777', '/etc/shadow']]
for cmd in good:
    wrapper.match_filter(filters, cmd, exec_dirs=config.exec_dirs)
for cmd in good:
    wrapper.match_filter(own_filters, cmd, exec_dirs=config.exec_dirs)
for cmd in bad:
    try:
        wrapper.match_filter(own_filters, cmd, exec_dirs=config.exec_dirs)
    except Exception:
        continue
    sys.exit(f'allowed: {cmd}')
print(' '.join(config.filters_path))
"""

# What cinder-volume does with --config-file before it talks to anything: oslo.config reads the
# file, and for each enabled backend Cinder's VolumeManager loads its driver with the section.
VOLUME_PROBE = """
import json, sys, warnings
warnings.simplefilter('ignore')
from oslo_config import cfg
from cinder import objects
objects.register_all()
cfg.CONF(['--config-file', sys.argv[1]], project='cinder')
from cinder import rpc
rpc.init(cfg.CONF)  # the transport object only: nothing connects to the broker here
from cinder.volume import manager
out = {}
for backend in cfg.CONF.enabled_backends:
    conf = manager.VolumeManager(service_name=backend).driver.configuration
    out[backend] = {'driver': conf.volume_driver, 'group': conf.config_group,
                    'url': conf.acme_url, 'pool': conf.acme_pool, 'login': conf.nas_login,
                    'password_read': conf.nas_password == sys.argv[2],
                    'mount_base': conf.nfs_mount_point_base}
print(json.dumps(out))
"""


@pytest.fixture(scope='module')
def host() -> testinfra.host.Host:
    """The volume host through a chroot, as Ansible reached it (molecule.yml); a testinfra
    chroot:// host spec cannot carry a path."""
    return testinfra.host.Host(ChrootBackend(str(HOST_ROOT)))


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else '(no output)'


def test_the_host_is_debian_13_and_cinder_runs_on_its_python_3_13(host):
    assert host.system_info.distribution == 'debian'
    assert host.system_info.release.startswith('13'), host.system_info.release
    probe = host.run('%s -c %s', CINDER_PYTHON, IMPORT_PROBE)
    assert probe.rc == 0, (
        f'the driver is not importable from {CINDER_PYTHON}: {last_line(probe.stderr)}')
    installed = json.loads(probe.stdout)
    assert installed['python'] == [3, 13]
    assert installed['base'] == '/usr/bin/python3.13', "Cinder's venv is not on Debian's Python"


def test_the_installed_driver_is_the_checkouts(host):
    installed = json.loads(host.check_output('%s -c %s', CINDER_PYTHON, IMPORT_PROBE))
    assert not installed['link'], 'the client module is installed as a symlink'
    assert 'acme_cinder' in installed['eps'], 'no oslo.config.opts entry point acme_cinder'
    shipped = PROJECT / 'plugins' / 'module_utils' / 'acme_client.py'
    assert host.file(installed['client']).content_string == shipped.read_text()


def test_the_packages_the_driver_needs_are_installed(host):
    for name in ('nfs-common', 'qemu-utils'):  # roles/driver/vars/Debian.yml
        assert host.package(name).is_installed, name
    assert host.exists('mount.nfs') and host.exists('qemu-img')


def test_mount_point_base_belongs_to_the_cinder_user(host):
    base = host.file(MOUNT_BASE)
    assert base.is_directory
    assert (base.user, base.group, base.mode) == ('cinder', 'cinder', 0o755)


def test_cinders_rootwrap_reads_the_drivers_filters(host):
    probe = host.run('%s -c %s %s %s %s', CINDER_PYTHON, ROOTWRAP_PROBE,
                     '/etc/cinder/rootwrap.conf', MOUNT_BASE, '/etc/cinder/rootwrap.d/acme.filters')
    assert probe.rc == 0, last_line(probe.stderr)
    assert '/etc/cinder/rootwrap.d' in probe.stdout.split()
    assert host.file('/etc/cinder/rootwrap.d/acme.filters').user == 'root'


def test_cinder_volume_reads_the_acme_section_as_the_cinder_user(host):
    conf = host.file(CINDER_CONF)
    assert (conf.user, conf.group, conf.mode) == ('root', 'cinder', 0o640)
    # as a deployment does before it starts cinder-volume (the manager reads its service row)
    host.check_output('runuser -u cinder -- /opt/cinder/bin/cinder-manage --config-file %s db sync',
                      CINDER_CONF)
    probe = host.run('runuser -u cinder -- %s -c %s %s %s', CINDER_PYTHON, VOLUME_PROBE,
                     CINDER_CONF, PASSWORD)
    assert probe.rc == 0, probe.stderr[-3000:]
    assert json.loads(probe.stdout) == {'acme-gold': {
        'driver': 'acme_cinder.nfs.AcmeNfsDriver', 'group': 'acme-gold',
        'url': 'https://192.0.2.10:8443', 'pool': 'gold', 'login': 'cinder',
        'password_read': True, 'mount_base': MOUNT_BASE}}


def test_each_role_restarted_cinder_volume_once(host):
    """Once on the first converge; the idempotence run changed nothing, so restarted nothing."""
    restarts = host.file('/var/lib/acme-molecule/restarts').content_string.split()
    assert restarts == ['driver', 'cinder.conf']
