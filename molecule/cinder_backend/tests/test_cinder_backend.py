"""Verify of molecule/cinder_backend: cinder.conf as Cinder's oslo.config reads it."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(os.environ.get('ACME_MOLECULE_ROOT', '/tmp/acme-molecule-cinder_backend'))
CONF = ROOT / 'etc' / 'cinder' / 'cinder.conf'
# the scenario's Cinder: the project venv (cinder 29 and the driver)
CINDER_PYTHON = Path(os.environ['MOLECULE_PROJECT_DIRECTORY']) / '.venv' / 'bin' / 'python'

PARSE = """
import json, sys
from oslo_config import cfg
sections = {}
cfg.ConfigParser(sys.argv[1], sections).parse()
print(json.dumps({s: {k: v[-1] for k, v in o.items()} for s, o in sections.items()}))
"""


def test_cinder_conf_is_private_to_cinders_group(host):
    conf = host.file(str(CONF))
    assert conf.mode == 0o640
    assert conf.group == host.group(host.check_output('id -gn')).name


def test_backends_generated_keys_and_overrides_are_there(host):
    parsed = host.run('%s -c %s %s', str(CINDER_PYTHON), PARSE, str(CONF))
    assert parsed.rc == 0, parsed.stderr
    c = json.loads(parsed.stdout)
    assert c['DEFAULT']['enabled_backends'] == 'acme-bronze,acme-gold'
    assert c['DEFAULT']['default_volume_type'] == 'gold'
    assert c['DEFAULT']['debug'] == 'true'
    assert c['DEFAULT']['transport_url'].startswith('rabbit://')
    assert 'mysql' in c['database']['connection']
    assert c['acme-gold']['volume_backend_name'] == 'acme-gold'
    assert c['acme-gold']['acme_ca_file'] == str(ROOT / 'etc' / 'cinder' / 'acme-ca.pem')
    assert 'volume_type' not in c['acme-gold'], 'a role-only key reached cinder.conf'
    assert c['acme-bronze']['acme_read_timeout'] == '120'
    assert c['acme-bronze']['acme_retries'] == '2'


def test_cinder_was_restarted_once(host):
    """converge restarted it; the idempotence run and check mode did not."""
    restarts = host.file(str(ROOT / 'restarts')).content_string.splitlines()
    assert restarts == ['restarted']
