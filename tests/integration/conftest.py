"""Helpers for integration tests: the appliance started by appliance/run, a libnfs client.

Everything here talks to loopback only and stops what it started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.appliance import USER, ApplianceApi, free_port

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / 'appliance' / 'run'
GALAXY = Path(sys.executable).parent / 'ansible-galaxy'


def require_tools(*tools: str) -> None:
    """Skip (with the reason) when a host tool the test needs is not installed."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f'not installed: {", ".join(missing)} (see appliance/container/'
                    'host-packages.txt)')
    if os.geteuid() != 0:
        pytest.skip('needs root (rpcbind, ganesha, podman)')


@dataclass
class NfsClient:
    """libnfs-utils (nfs-ls, nfs-cp, nfs-cat) against one server with pinned ports."""

    host: str
    nfs_port: int
    mnt_port: int

    def url(self, path: str, version: int) -> str:
        query = f'version={version}&nfsport={self.nfs_port}'
        if version == 3:
            query += f'&mountport={self.mnt_port}'
        return f'nfs://{self.host}{path}?{query}'

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)

    def ls(self, path: str, version: int) -> subprocess.CompletedProcess:
        return self._run('nfs-ls', self.url(path, version))

    def cat(self, path: str, version: int) -> subprocess.CompletedProcess:
        return self._run('nfs-cat', self.url(path, version))

    def put(self, local: Path, path: str, version: int, uid: int | None = None
            ) -> subprocess.CompletedProcess:
        """nfs-cp, as root or with AUTH_SYS credentials uid:gid = uid:uid."""
        credentials = f'&uid={uid}&gid={uid}' if uid is not None else ''
        return self._run('nfs-cp', str(local), self.url(path, version) + credentials)

    def get(self, path: str, local: Path, version: int) -> subprocess.CompletedProcess:
        return self._run('nfs-cp', self.url(path, version), str(local))

    def names(self, path: str, version: int) -> list[str]:
        """File names in an exported directory; raises AssertionError if listing fails."""
        result = self.ls(path, version)
        assert result.returncode == 0, f'nfs-ls v{version} {path}: {result.stderr}'
        return [line.split()[-1] for line in result.stdout.splitlines() if line.strip()]


@dataclass
class Appliance(ApplianceApi):
    """One simulator started with `appliance/run start`, arranged through its REST API."""

    state_dir: Path
    args: list[str]
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    api_port: int = field(default_factory=free_port)
    output: str = ''
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f'https://127.0.0.1:{self.api_port}/api/v1'

    api_url = url

    @property
    def ca_path(self) -> Path:
        return self.state_dir / 'tls' / 'ca.pem'

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        # The password goes in the environment: appliance/run takes it from there too.
        env = dict(os.environ, ACME_APPLIANCE_USERS=f'{USER}:{self.password}')
        return subprocess.run([str(RUN), *args], capture_output=True, env=env,
                              text=True, timeout=timeout, check=False)

    def start(self) -> Appliance:
        result = self.run('start', '--state-dir', str(self.state_dir),
                          '--api-port', str(self.api_port),
                          '--pool', 'pool1:10GiB', *self.args)
        self.output = result.stdout + result.stderr
        assert result.returncode == 0, f'appliance/run start failed:\n{self.output}'
        assert f'ca: {self.ca_path}' in result.stdout, result.stdout
        return self

    def stop(self) -> subprocess.CompletedProcess:
        return self.run('stop', '--state-dir', str(self.state_dir))


def command_lines_with(secret: str) -> list[str]:
    """Command lines of this machine's processes (containers' too) that contain ``secret``."""
    found = []
    for cmdline in Path('/proc').glob('[0-9]*/cmdline'):
        try:
            argv = cmdline.read_bytes()
        except OSError:  # the process ended
            continue
        if secret.encode() in argv:
            shown = argv.replace(b'\0', b' ').decode(errors='replace')
            found.append(f'pid {cmdline.parent.name}: {shown}')
    return found


def rule(clients: str = '127.0.0.1', access: str = 'rw', root_squash: bool = False) -> dict:
    return {'clients': clients, 'access': access, 'root_squash': root_squash}


def exported(*rules: dict) -> dict:
    """The ``nfs`` of a share exported with ``rules``."""
    return {'enabled': True, 'rules': list(rules)}


@pytest.fixture(scope='module')
def appliance_factory(tmp_path_factory):
    """Start appliances with `factory(*run_start_args)`; all are stopped at module end."""
    started: list[Appliance] = []

    def factory(*args: str) -> Appliance:
        appliance = Appliance(tmp_path_factory.mktemp('appliance'), list(args))
        started.append(appliance)
        return appliance.start()

    yield factory
    for appliance in started:
        appliance.stop()


@pytest.fixture(scope='session')
def collection_tarball(tmp_path_factory) -> Path:
    """The collection built once from the checkout with ansible-galaxy (galaxy.yml decides)."""
    out = tmp_path_factory.mktemp('galaxy')
    result = subprocess.run([str(GALAXY), 'collection', 'build', '--force', '--output-path',
                             str(out), str(REPO)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob('acme-nas-*.tar.gz')
    return path
