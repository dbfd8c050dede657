"""Verify of molecule/driver: the driver installed into the scenario's Cinder-like venv."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(os.environ.get('ACME_MOLECULE_ROOT', '/tmp/acme-molecule-driver'))
PROJECT = Path(os.environ['MOLECULE_PROJECT_DIRECTORY'])
CINDER_PYTHON = ROOT / 'venv' / 'bin' / 'python'

PROBE = """
import importlib.metadata as m, json, os
import acme_cinder
d = m.distribution('acme-cinder-driver')
client = str(d.locate_file('acme_cinder/acme_client.py'))
print(json.dumps({'client': client, 'link': os.path.islink(client),
                  'eps': [e.name for e in d.entry_points if e.group == 'oslo.config.opts']}))
"""

ROOTWRAP_PROBE = """
import sys
from oslo_rootwrap import wrapper
filters = wrapper.load_filters([sys.argv[1]])
mnt = sys.argv[2] + '/0123456789abcdef0123456789abcdef'
good = [['mount', '-t', 'nfs', '-o', 'vers=3,proto=tcp', '10.0.0.1:/pool1/v', mnt],
        ['truncate', '-s', '2G', mnt + '/volume-1'], ['stat', '-c', '%s', mnt + '/volume-1'],
        ['chmod', '660', mnt + '/volume-1'], ['mv', mnt + '/volume-1', mnt + '/volume-2'],
        ['cp', '--sparse=always', '-f', mnt + '/a', mnt + '/b'],
        ['dd', 'if=/dev/zero', 'of=' + mnt + '/v', 'bs=1M', 'count=1024']]
bad = [['mount', '-t', 'nfs', '-o', 'x', '10.0.0.1:/p', '/etc'],
       ['chmod', '777', '/etc/shadow'], ['mv', '/etc/a', mnt + '/b']]
for cmd in good:
    wrapper.match_filter(filters, cmd, exec_dirs=['/bin', '/usr/bin'])
for cmd in bad:
    try:
        wrapper.match_filter(filters, cmd, exec_dirs=['/bin', '/usr/bin'])
    except Exception:
        continue
    sys.exit(f'allowed: {cmd}')
"""


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else '(no output)'


def test_driver_is_importable_from_cinders_python(host):
    probe = host.run("%s -c %s", str(CINDER_PYTHON), PROBE)
    assert probe.rc == 0, (
        f"the driver is not importable from Cinder's Python {CINDER_PYTHON}: "
        f'{last_line(probe.stderr)}')
    installed = json.loads(probe.stdout)
    assert not installed['link'], 'the client module is installed as a symlink'
    assert 'acme_cinder' in installed['eps'], 'no oslo.config.opts entry point acme_cinder'
    shipped = PROJECT / 'plugins' / 'module_utils' / 'acme_client.py'
    assert host.file(installed['client']).content_string == shipped.read_text(), (
        'the installed client module differs from plugins/module_utils/acme_client.py')


def test_mount_point_base_belongs_to_the_cinder_user(host):
    base = host.file(str(ROOT / 'mnt'))
    assert base.is_directory
    assert base.user == host.user().name


def test_rootwrap_filters_allow_exactly_the_drivers_commands(host):
    python = PROJECT / '.venv' / 'bin' / 'python'  # oslo.rootwrap, as Cinder's root helper
    probe = host.run('%s -c %s %s %s', str(python), ROOTWRAP_PROBE,
                     str(ROOT / 'etc' / 'cinder' / 'rootwrap.d'), str(ROOT / 'mnt'))
    assert probe.rc == 0, last_line(probe.stderr)
