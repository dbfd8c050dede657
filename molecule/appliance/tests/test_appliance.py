"""Verify of molecule/appliance: the simulator container, through the collection's module."""

from __future__ import annotations

import hashlib
import os

ROOT = os.environ.get('ACME_MOLECULE_ROOT', '/tmp/acme-molecule-appliance')
NAME = f"acme-molecule-{hashlib.sha1(ROOT.encode()).hexdigest()[:8]}"
PORT = int(os.environ.get('ACME_TEST_API_PORT', '18443'))
PASSWORD = 'molecule-$ecret-1'  # molecule/appliance/vars/main.yml


def test_container_runs(host):
    assert host.podman(NAME).is_running


def test_admin_password_is_not_on_the_command_line(host):
    commands = host.check_output("podman ps --no-trunc --format '{{.Command}}'")
    assert PASSWORD not in commands


def test_pools_are_the_configured_ones(host, monkeypatch):
    # the module reads the connection from ACME_* (not from its arguments, which are logged)
    monkeypatch.setenv('ACME_URL', f'https://127.0.0.1:{PORT}')
    monkeypatch.setenv('ACME_USERNAME', 'admin')
    monkeypatch.setenv('ACME_PASSWORD', PASSWORD)
    monkeypatch.setenv('ACME_CA_PATH', f'{ROOT}/ca.pem')
    nas = host.ansible('acme.nas.acme_share_info', '', check=False)
    assert sorted(pool['name'] for pool in nas['pools']) == ['pool1', 'pool2']
