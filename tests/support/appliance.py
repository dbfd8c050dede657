"""The one appliance of the tests: the real simulator, served in-process over HTTPS.

One uvicorn server per session (a thread, a free loopback port, the simulator's own test CA)
serves the simulator app; each test gets it with a fresh state on its own data directory
(opened as the simulator opens it at start-up), the fault plan enabled and empty. Helpers
arrange state through the REST API (those calls are not recorded), read the simulator's state
directly for assertions, and list the calls the code under test made (``calls``, ``writes``).

Fixtures (registered from tests/conftest.py): ``appliance`` (fresh per test) and
``appliance_server`` (the session's server; ``reset(state_dir)`` it for a wider scope).
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from acme_appliance import tls
from acme_appliance.app import create_app
from acme_appliance.auth import Authenticator
from acme_appliance.config import ApplianceConfig
from acme_appliance.context import open_appliance
from acme_appliance.store import ShareRow, SnapshotRow
from acme_appliance.usage import UsageRefresher
from ansible_collections.acme.nas.plugins.module_utils.acme_client import AcmeClient
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from tests.support.serving import ThreadServer


GIB, MIB = 1 << 30, 1 << 20
USER = 'admin'
POOLS = {'pool1': 100 * GIB, 'pool2': 1 * GIB}
API = '/api/v1'
SETUP_HEADER = 'X-Acme-Test-Setup'  # arranging calls carry it and are not recorded


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on loopback."""
    sockets = [socket.socket() for _index in range(count)]
    for sock in sockets:
        sock.bind(('127.0.0.1', 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def free_port() -> int:
    return free_ports(1)[0]


@dataclass
class Call:
    """One request the code under test made; ``path`` is below /api/v1."""

    method: str
    path: str
    query: str
    body: bytes = b''

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __str__(self) -> str:
        return f'{self.method} {self.path}' + (f'?{self.query}' if self.query else '')


class _Switch:
    """The ASGI app the server runs: the current simulator app, with its calls recorded."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.calls: list[Call] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'lifespan':  # each app is built fresh; nothing to start
            return await _lifespan(receive, send)
        headers = dict(scope.get('headers', []))
        if scope['type'] == 'http' and SETUP_HEADER.lower().encode() not in headers:
            receive = self._record(scope, receive)
        await self.app(scope, receive, send)

    def _record(self, scope: Scope, receive: Receive) -> Receive:
        call = Call(scope['method'], scope['path'].removeprefix(API),
                    scope.get('query_string', b'').decode())
        self.calls.append(call)

        async def recording() -> Message:
            message = await receive()
            call.body += message.get('body', b'')
            return message
        return recording


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        kind = message['type'].rsplit('.', 1)[-1]
        await send({'type': f'lifespan.{kind}.complete'})
        if kind == 'shutdown':
            return


STATE = {'appliance', 'auth', 'faults', 'refresher'}


def _fresh_state(app: FastAPI, config: ApplianceConfig) -> None:
    """What create_app keeps in ``app.state``, anew for ``config``: a new app costs ~30 ms of
    route and schema building per test, this ~2 ms."""
    assert set(app.state._state) == STATE, 'create_app keeps new state: reset it here too'
    appliance = open_appliance(config)
    app.state.appliance = appliance
    app.state.auth = Authenticator(appliance.store, config.users, config.token_ttl)
    app.state.refresher = UsageRefresher(appliance, config.usage_refresh_interval)
    app.state.faults.clear()


class ApplianceApi:
    """Arranging an appliance's state through its REST API as USER (verify goes with each
    request: REQUESTS_CA_BUNDLE would override Session.verify)."""

    api_url: str
    ca_path: str | Path
    password: str
    session: requests.Session

    def call(self, method: str, path: str, expect: int | None = None,
             **kwargs: Any) -> requests.Response:
        if 'Authorization' not in self.session.headers and path != '/auth/login':
            token = self.call('POST', '/auth/login', 200,
                              json={'username': USER, 'password': self.password}).json()
            self.session.headers['Authorization'] = f"Bearer {token['token']}"
        reply = self.session.request(method, f'{self.api_url}{path}', verify=str(self.ca_path),
                                     timeout=30, **kwargs)
        if expect is not None:
            assert reply.status_code == expect, f'{method} {path}: {reply.status_code} {reply.text}'
        return reply

    def create_share(self, name: str, pool: str = 'pool1', **body: Any) -> dict:
        return self.call('POST', '/shares', 201, json=dict(name=name, pool=pool, **body)).json()

    def create_snapshot(self, share_id: str, name: str) -> dict:
        return self.call('POST', f'/shares/{share_id}/snapshots', 201, json={'name': name}).json()

    def set_nfs(self, share_id: str, enabled: bool, rules: list[dict]) -> dict:
        return self.call('PUT', f'/shares/{share_id}/nfs', 200,
                         json={'enabled': enabled, 'rules': rules}).json()

    def add_fault(self, **spec: Any) -> dict:
        """A fault plan entry (method, path regex, nth, times, action, status/code, delay)."""
        return self.call('POST', '/_admin/faults', 201, json=spec).json()

    def clear_faults(self) -> None:
        self.call('DELETE', '/_admin/faults', 204)


class Appliance(ApplianceApi):
    """The simulator behind one loopback HTTPS server; ``reset`` gives it a fresh state."""

    def __init__(self, tls_dir: Path) -> None:
        self.password = secrets.token_urlsafe(16)
        self.tls = tls.generate(tls_dir, ['127.0.0.1'])
        self.ca_path = str(self.tls.ca)
        self._switch = _Switch()
        self._server = ThreadServer(self._switch, self.tls.cert, self.tls.key)
        self.url = self._server.url
        self._log: logging.Handler | None = None
        self.session = requests.Session()
        self.state_dir = self.data_dir = tls_dir

    # life cycle ---------------------------------------------------------------------------
    def start(self) -> Appliance:
        self._server.start()
        return self

    def stop(self) -> None:
        self._close_app()
        self._switch.app = None
        self._server.stop()

    def reset(self, state_dir: Path, **config: Any) -> Appliance:
        """A fresh simulator keeping its data and log in ``state_dir`` (ApplianceConfig fields
        override the defaults)."""
        self._close_app()
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.state_dir / 'data'
        settings = dict(data_dir=self.data_dir, users={USER: self.password}, pools=POOLS,
                        enable_faults=True, usage_refresh_interval=0)
        self.config = ApplianceConfig(**{**settings, **config})
        self._log = logging.FileHandler(self.log_path)
        logging.getLogger('acme_appliance').addHandler(self._log)
        logging.getLogger('acme_appliance').setLevel(logging.INFO)
        if self._switch.app is None:
            self._switch.app = create_app(self.config)
        else:
            _fresh_state(self._switch.app, self.config)
        self._switch.calls.clear()
        self.session = requests.Session()
        self.session.headers[SETUP_HEADER] = '1'  # arranging calls are not recorded
        return self

    def restart(self) -> Appliance:
        """Stop and start again on the same data (start-up repair runs)."""
        return self.reset(self.state_dir, **{k: v for k, v in vars(self.config).items()
                                             if k != 'data_dir'})

    def _close_app(self) -> None:
        if self._switch.app is not None:
            self._switch.app.state.appliance.store.close()
        if self._log is not None:
            logging.getLogger('acme_appliance').removeHandler(self._log)
            self._log.close()
            self._log = None

    # paths ----------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.url + API

    @property
    def log_path(self) -> Path:
        return self.state_dir / 'appliance.log'

    def share_dir(self, share_id: str) -> Path:
        return self.data_dir / 'shares' / share_id

    def client(self, **kwargs: Any) -> AcmeClient:
        return AcmeClient(self.url, USER, self.password, verify=self.ca_path, **kwargs)

    # arranging state through the API (ApplianceApi; not recorded) -------------------------
    def set_used(self, share_id: str, used_bytes: int) -> None:
        """Pretend the share's files use this much (without writing them)."""
        store = self._switch.app.state.appliance.store
        with store.transaction():
            store.update_share(share_id, used_bytes=used_bytes)

    # reading state directly -----------------------------------------------------------------
    def shares(self) -> list[ShareRow]:
        return self._switch.app.state.appliance.store.all_shares()

    def share_named(self, name: str, pool: str = 'pool1') -> ShareRow | None:
        return self._switch.app.state.appliance.store.find_share(pool, name)

    def snapshots(self, share_id: str | None = None) -> list[SnapshotRow]:
        store = self._switch.app.state.appliance.store
        ids = [share_id] if share_id else [row.id for row in self.shares()]
        return [snap for one in ids for snap in store.snapshots_of(one)]

    def snapshot_names(self, share_id: str) -> list[str]:
        return [snap.name for snap in self.snapshots(share_id)]

    # what the code under test called -------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        return self._switch.calls

    def sent(self, method: str, path: str = '', exact: bool = False) -> int:
        """How many calls the code under test made with ``method`` to ``path`` (or below it)."""
        return sum(c.method == method and (c.path == path if exact else c.path.startswith(path))
                   for c in self.calls)

    @property
    def writes(self) -> list[str]:
        """The state-changing calls, as 'METHOD /path[?query]' (logins left out)."""
        return [str(c) for c in self.calls if c.method != 'GET' and c.path != '/auth/login']


@pytest.fixture(scope='session')
def appliance_state_root() -> Iterator[Path]:
    """Where the simulator keeps its state: tmpfs when there is one (the simulator syncs every
    commit to disk; on tmpfs that costs nothing)."""
    shm = Path('/dev/shm')
    root = Path(tempfile.mkdtemp(prefix='acme-appliance-', dir=shm if shm.is_dir() else None))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope='session')
def appliance_server(appliance_state_root: Path) -> Iterator[Appliance]:
    """The session's server; call ``reset(state_dir)`` before use in a wider scope."""
    server = Appliance(appliance_state_root / 'tls').start()
    yield server
    server.stop()


@pytest.fixture
def appliance(appliance_server: Appliance, appliance_state_root: Path,
              request: pytest.FixtureRequest) -> Iterator[Appliance]:
    """The real simulator with a fresh, empty state (pools pool1 100 GiB, pool2 1 GiB).

    The state goes when the test ends: on tmpfs it is memory, and the thick-volume tests write
    gigabytes (kept to the session's end, they filled 12 GiB and a run was OOM-killed)."""
    state = Path(tempfile.mkdtemp(dir=appliance_state_root, prefix=request.node.name[:40]))
    yield appliance_server.reset(state)
    shutil.rmtree(state, ignore_errors=True)
