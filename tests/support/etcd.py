"""A real etcd (Debian's etcd-server) for tests: loopback only, free ports, a temporary data
directory, started and stopped by PID (no systemd). ``stop``/``start`` keep the data, as an
outage of the operator's etcd would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from etcd3gw.client import Etcd3Client

from tests.support.appliance import free_ports
from tests.support.polling import wait_until

NAME = 'acme-test'


def require_etcd() -> str:
    """Path of the etcd binary; skips the test when the package is not installed."""
    binary = shutil.which('etcd')
    if binary is None:
        pytest.skip('needs etcd (apt-get install etcd-server; make deps installs it)')
    return binary


class Etcd:
    """One etcd member on 127.0.0.1."""

    def __init__(self, data_dir: Path) -> None:
        self.binary = require_etcd()
        self.data_dir = data_dir
        self.client_port, self.peer_port = free_ports(2)
        self.url = f'http://127.0.0.1:{self.client_port}'
        self.tooz_url = f'etcd3+http://127.0.0.1:{self.client_port}'
        self.log_path = data_dir.parent / f'{data_dir.name}.log'
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Etcd:
        peer = f'http://127.0.0.1:{self.peer_port}'
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(
                [self.binary, '--name', NAME, '--data-dir', str(self.data_dir),
                 '--listen-client-urls', self.url, '--advertise-client-urls', self.url,
                 '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
                 '--initial-cluster', f'{NAME}={peer}', '--log-level', 'warn'],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.healthy() or self.process.poll() is not None, timeout,
                   'etcd health', interval=0.1)
        assert self.process.poll() is None, self.log_path.read_text()[-2000:]
        return self

    def healthy(self) -> bool:
        try:
            return requests.get(f'{self.url}/health', timeout=1).json().get('health') == 'true'
        except (requests.RequestException, ValueError):
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> Etcd3Client:
        return Etcd3Client(host='127.0.0.1', port=self.client_port, api_path='/v3/')

    def keys(self, prefix: str) -> dict[str, str]:
        """Keys below ``prefix`` and their values (hex: tooz's lock values are binary)."""
        return {meta['key'].decode(): value.hex()
                for value, meta in self.client().get_prefix(prefix)}
