"""A real cinder-api on loopback, without Keystone or RabbitMQ, for the removal tests.

The Cinder of the project's virtualenv serves its REST API with ``auth_strategy = noauth``
(every request is the cloud's admin) on a sqlite database made by ``cinder-manage db sync``.
Creating a volume through the API needs the scheduler over RPC, so the tests put volumes into
the database with Cinder's own DB API (``cinder.db.api.volume_create``), then read them back
through the API like any client: openstacksdk with ``auth_type: none`` and the
block-storage endpoint overridden to the server's root (its version document is there).

Run as a script it adds volumes, ``python -m tests.support.cinder_api CONF add HOST STATUS ...``
printing one volume id per HOST STATUS pair, or deletes them: ``... CONF delete ID ...``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
CLOUD = 'acme-test-cinder'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _paste_config() -> Path:
    return Path(sys.prefix) / 'etc' / 'cinder' / 'api-paste.ini'


def write_conf(state: Path, port: int, transport_url: str = 'fake:/', more: str = '') -> Path:
    """cinder.conf of cinder-api; ``more`` is appended ([DEFAULT] keys first, then sections)."""
    conf = state / 'cinder.conf'
    conf.write_text(f"""[DEFAULT]
auth_strategy = noauth
transport_url = {transport_url}
state_path = {state}
api_paste_config = {_paste_config()}
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = {port}
osapi_volume_workers = 1
log_file = {state / 'cinder-api.log'}
{more}
[database]
# sqlite's busy timeout 60 s, not pysqlite's 5: cinder-api, -scheduler and -volume all write
# here (heartbeats every second), and under load a writer waited longer than 5 s: the
# scheduler died at start on "database is locked" (fresh make test, 2026-12-07)
connection = sqlite:///{state / 'cinder.sqlite'}?timeout=60

[oslo_concurrency]
lock_path = {state / 'lock'}
""")
    return conf


@dataclass
class CinderApi:
    """cinder-api started by :func:`start`; stop it with :meth:`stop`."""

    state: Path
    conf: Path
    url: str
    process: subprocess.Popen

    def add_volumes(self, *host_status: tuple[str, str]) -> list[str]:
        """Volumes in Cinder's database on these hosts (host@backend#pool) and statuses."""
        return self._db('add', *(arg for pair in host_status for arg in pair)).split()

    def delete_volumes(self, *ids: str) -> None:
        self._db('delete', *ids)

    def _db(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, '-m', 'tests.support.cinder_api', str(self.conf), *args],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def clouds_yaml(self) -> Path:
        """A clouds.yaml with the entry CLOUD: no authentication, this server's endpoint."""
        path = self.state / 'clouds.yaml'
        path.write_text(yaml.safe_dump({'clouds': {CLOUD: {
            'auth_type': 'none', 'block_storage_endpoint_override': self.url}}}))
        return path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(url, timeout=5).status_code == 300:  # the versions document
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    text = log.read_text()[-3000:] if log.exists() else ''
    raise RuntimeError(f'cinder-api did not answer on {url} (exit {process.poll()}): {text}')


def start(state: Path, transport_url: str = 'fake:/', more: str = '') -> CinderApi:
    """cinder-api on a free loopback port with a fresh database under ``state`` (and
    ``write_conf``'s extra configuration)."""
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = write_conf(state, port, transport_url, more)
    subprocess.run([str(BIN / 'cinder-manage'), '--config-file', str(conf), 'db', 'sync'],
                   check=True, capture_output=True, timeout=300)
    with open(state / 'cinder-api.out', 'wb') as out:
        process = subprocess.Popen([str(BIN / 'cinder-api'), '--config-file', str(conf)],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    try:
        _wait_until_up(url, process, state / 'cinder-api.log')
    except RuntimeError:
        process.kill()
        process.wait(timeout=30)
        raise
    return CinderApi(state, conf, url, process)


def _change_volumes(conf: str, action: str, args: list[str]) -> None:
    """Runs in its own process: Cinder's configuration is global (oslo.config's CONF)."""
    from oslo_config import cfg

    from cinder import context, objects
    from cinder.common import config  # noqa: F401  (registers the [database] options)
    from cinder.db import api as db

    objects.register_all()
    cfg.CONF(['--config-file', conf], project='cinder')
    admin = context.get_admin_context()
    if action == 'delete':
        for volume_id in args:
            db.volume_destroy(admin, volume_id)
        return
    host_status = args
    volume_type = db.volume_type_get_by_name(admin, '__DEFAULT__')['id']
    for host, status in zip(host_status[::2], host_status[1::2], strict=True):
        volume = db.volume_create(admin, {
            'host': host, 'status': status, 'size': 1, 'project_id': 'project-a',
            'user_id': 'user-a', 'display_name': f'on-{host}', 'volume_type_id': volume_type})
        print(volume.id)


if __name__ == '__main__':
    _change_volumes(sys.argv[1], sys.argv[2], sys.argv[3:])
