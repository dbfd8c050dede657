"""Start the real ACME appliance simulator as a process on loopback (HTTPS) for tests."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
USER = 'admin'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@dataclass
class Simulator:
    """A running simulator process and what a client needs to reach it."""

    state_dir: Path
    port: int
    password: str
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f'https://127.0.0.1:{self.port}'

    @property
    def ca_path(self) -> str:
        return str(self.state_dir / 'tls' / 'ca.pem')

    @property
    def data_dir(self) -> Path:
        return self.state_dir / 'data'

    @property
    def log_path(self) -> Path:
        return self.state_dir / 'appliance.log'

    def share_dir(self, share_id: str) -> Path:
        return self.data_dir / 'shares' / share_id

    def client(self, **kwargs):
        from acme_client import AcmeClient  # plugins/module_utils on sys.path (conftest)
        return AcmeClient(self.url, USER, self.password, verify=self.ca_path, **kwargs)

    def start(self) -> Simulator:
        tls = self.state_dir / 'tls'
        subprocess.run([sys.executable, '-m', 'acme_appliance', 'gen-tls', '--out', str(tls),
                        '--host', '127.0.0.1'], check=True, capture_output=True)
        cmd = [sys.executable, '-m', 'acme_appliance', 'serve',
               '--data-dir', str(self.data_dir), '--listen', f'127.0.0.1:{self.port}',
               '--tls-cert', str(tls / 'server.pem'), '--tls-key', str(tls / 'server-key.pem'),
               '--pool', 'pool1:100GiB', '--pool', 'pool2:1GiB',
               '--enable-faults',
               '--log-file', str(self.log_path), *self.extra_args]
        # The password goes through the environment, never the command line (ps shows that).
        env = dict(os.environ, ACME_APPLIANCE_USERS=f'{USER}:{self.password}')
        with open(self.state_dir / 'stdout.log', 'ab') as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'simulator exited: {self.output()}')
            try:
                requests.get(f'{self.url}/api/v1/health', verify=self.ca_path, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f'simulator not healthy after {timeout}s: {self.output()}')

    def output(self) -> str:
        path = self.state_dir / 'stdout.log'
        return path.read_text(errors='replace')[-4000:] if path.exists() else ''

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def add_fault(self, **fault) -> None:
        requests.post(f'{self.url}/api/v1/_admin/faults', json=fault, verify=self.ca_path,
                      timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f'{self.url}/api/v1/_admin/faults', verify=self.ca_path,
                        timeout=5).raise_for_status()


def start_simulator(state_dir: Path, *extra_args: str) -> Simulator:
    state_dir.mkdir(parents=True, exist_ok=True)
    sim = Simulator(state_dir=state_dir, port=free_port(),
                    password=os.environ.get('ACME_TEST_PASSWORD') or secrets.token_urlsafe(16),
                    extra_args=list(extra_args))
    return sim.start()
