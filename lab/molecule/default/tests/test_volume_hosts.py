"""Verify of lab/molecule/default on every cinder-volume host (the lab's QEMU guests)."""

from __future__ import annotations

import json

testinfra_hosts = ['ansible://cinder_volume']

CONF = '/etc/cinder/cinder.conf'
BACKEND = 'acme-lab'

READ_CONF = """
import json, sys
from oslo_config import cfg
sections = {}
cfg.ConfigParser(sys.argv[1], sections).parse()
print(json.dumps({s: {k: v[-1] for k, v in o.items()} for s, o in sections.items()}))
"""

# the driver's own filters file (Cinder's volume.filters next to it allows any mount)
ROOTWRAP = """
import shutil, sys, tempfile
from oslo_rootwrap import wrapper
only = tempfile.mkdtemp()
shutil.copy('/etc/cinder/rootwrap.d/acme.filters', only)
filters = wrapper.load_filters([only])
shutil.rmtree(only)
mnt = sys.argv[1] + '/0123456789abcdef0123456789abcdef'
wrapper.match_filter(filters, ['mount', '-t', 'nfs', '-o', 'vers=4.1', '10.123.0.1:/pool1/v', mnt],
                     exec_dirs=['/bin', '/usr/bin', '/sbin', '/usr/sbin'])
try:
    wrapper.match_filter(filters, ['mount', '-t', 'nfs', '-o', 'x', '10.123.0.1:/p', '/etc'],
                         exec_dirs=['/bin', '/usr/bin', '/sbin', '/usr/sbin'])
except Exception:
    sys.exit(0)
sys.exit('acme.filters lets an NFS mount over /etc through')
"""


def cinder_python(host) -> str:
    return f"{host.ansible.get_variables()['cinder_venv']}/bin/python"


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else '(no output)'


def test_driver_is_importable_from_cinders_python(host):
    python = cinder_python(host)
    probe = host.run('%s -c %s', python, 'import acme_cinder.nfs; print(acme_cinder.nfs.__file__)')
    assert probe.rc == 0, (
        f"the driver is not importable from Cinder's Python {python} on {host.backend.host}: "
        f'{last_line(probe.stderr)}')


def acme_conf(host) -> str:
    """The ACME backends' file (acme.nas.cinder_backend's service layout)."""
    return host.ansible.get_variables()['acme_cinder_service_file']


def test_cinder_conf_and_the_acme_file_are_private_to_cinder(host):
    for path in (CONF, acme_conf(host)):
        conf = host.file(path)
        assert (conf.user, conf.group, conf.mode) == (
            'root', host.ansible.get_variables().get('cinder_user', 'cinder'), 0o640), path


def test_backend_is_configured(host):
    parsed = host.run('%s -c %s %s', cinder_python(host), READ_CONF, acme_conf(host))
    assert parsed.rc == 0, last_line(parsed.stderr)
    conf = json.loads(parsed.stdout)
    assert BACKEND in conf['DEFAULT']['enabled_backends'].split(',')
    assert conf[BACKEND]['volume_driver'] == 'acme_cinder.nfs.AcmeNfsDriver'
    assert conf[BACKEND]['volume_backend_name'] == BACKEND


def test_cinder_services_are_running(host):
    """The cloud's own services and the ACME backends' cinder-volume."""
    variables = host.ansible.get_variables()
    for name in variables['acme_lab_owner_services'] + [variables['acme_lab_acme_service']]:
        assert host.service(name).is_running, f'{name} is not running on {host.backend.host}'


def test_no_nfs_mount_of_the_backend_at_rest(host):
    """Only the generic NFS backend's share (which its driver keeps mounted) is."""
    owner = host.file('/etc/cinder/nfs_shares').content_string.split()
    mounts = [line for line in host.file('/proc/mounts').content_string.splitlines()
              if line.split()[2].startswith('nfs') and line.split()[0] not in owner]
    assert mounts == [], f'NFS mounted at rest on {host.backend.host}: {mounts}'


def test_rootwrap_filters_allow_the_mount_under_the_base_only(host):
    probe = host.run('%s -c %s %s', cinder_python(host), ROOTWRAP, '/var/lib/cinder/mnt')
    assert probe.rc == 0, last_line(probe.stderr)
