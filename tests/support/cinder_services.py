"""A small real Cinder on loopback: RabbitMQ, cinder-api, cinder-scheduler and cinder-volume.

Debian's rabbitmq-server (with its own epmd, node name, ports and directories, so it meets no
other broker of this machine), the project's Cinder (noauth, one sqlite database: see
tests/support/cinder_api.py) and a cinder-volume whose backends load the real AcmeNfsDriver
of this checkout against the simulator. The scheduler reports the backends' pools
(scheduler-stats/get_pools) from the capabilities cinder-volume publishes over RabbitMQ, and
the API reports the services from their heartbeats: short intervals make both quick.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support import cinder_api
from tests.support.appliance import free_ports

REPO = Path(__file__).resolve().parents[2]
RABBITMQ_SERVER = Path('/usr/lib/rabbitmq/bin/rabbitmq-server')
VOLUME_HOST = 'acme-status'
NOAUTH = {'X-Auth-Token': 'admin:admin'}  # user:project, with auth_strategy = noauth
# Heartbeat every second, down after 4 s without one; stats published every 3 s (the
# minimum), periodic tasks from the start (no random delay); a driver that fails to set up
# is not set up again (its service then reports up at once, without the driver).
INTERVALS = """reinit_driver_count = 0
report_interval = 1
service_down_time = 4
periodic_interval = 1
periodic_fuzzy_delay = 0
backend_stats_polling_interval = 3
scheduler_driver_init_wait_time = 2
rpc_response_timeout = 5
"""
# A backend's service that cinder-volume could not create, on sqlite only: the parent makes each
# backend's service row while the backends already forked write too, and Cinder's
# volume_update_all_by_service reads then writes in one transaction, which sqlite refuses at once
# (SQLITE_BUSY without the busy timeout: its lock-upgrade deadlock) instead of waiting as a
# database server's row locks would. The rows made before stay, so a second start does not race.
SQLITE_LOCKED_AT_START = re.compile(r'failed to start\.: .*\(sqlite3\..*\) database is locked')


def _wait_for_port(port: int, process: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log.exists() else ''
    raise RuntimeError(f'{what} did not listen on {port} (exit {process.poll()}): {tail}')


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the process group the process leads, then wait for the process."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@dataclass
class RabbitMq:
    """A broker of its own; ``url`` is Cinder's transport_url."""

    url: str
    processes: list[subprocess.Popen]
    port: int
    log: Path

    def wait(self) -> None:
        """Until it accepts AMQP connections."""
        try:
            _wait_for_port(self.port, self.processes[-1], 'rabbitmq-server', self.log)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)


def start_rabbitmq(state: Path) -> RabbitMq:
    state.mkdir(parents=True, exist_ok=True)
    amqp, dist, epmd_port = free_ports(3)
    (state / 'enabled_plugins').write_text('[].\n')
    env = {**os.environ, 'HOME': str(state), 'ERL_EPMD_PORT': str(epmd_port),
           'ERL_EPMD_ADDRESS': '127.0.0.1',
           'RABBITMQ_NODENAME': f'acme-status-{amqp}@localhost',
           'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1', 'RABBITMQ_NODE_PORT': str(amqp),
           'RABBITMQ_DIST_PORT': str(dist),
           'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS': '-kernel inet_dist_use_interface {127,0,0,1}',
           'RABBITMQ_MNESIA_BASE': str(state / 'mnesia'), 'RABBITMQ_LOG_BASE': str(state / 'log'),
           'RABBITMQ_PID_FILE': str(state / 'rabbitmq.pid'),
           'RABBITMQ_ENABLED_PLUGINS_FILE': str(state / 'enabled_plugins'),
           'RABBITMQ_CONF_ENV_FILE': str(state / 'rabbitmq-env.conf'),
           'RABBITMQ_CONFIG_FILE': str(state / 'rabbitmq'),
           'RABBITMQ_ADVANCED_CONFIG_FILE': str(state / 'advanced.config')}
    log = state / 'rabbitmq.out'
    with open(log, 'wb') as out:
        # epmd in the foreground, ours: started by the broker it would outlive it as a daemon
        epmd = subprocess.Popen(['epmd', '-port', str(epmd_port), '-address', '127.0.0.1'],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        broker = subprocess.Popen([str(RABBITMQ_SERVER)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    return RabbitMq(f'rabbit://guest:guest@127.0.0.1:{amqp}/', [epmd, broker], amqp, log)


@dataclass
class Cinder:
    """cinder-api (``api``), and the other services by binary name in ``processes``."""

    api: cinder_api.CinderApi
    rabbit: RabbitMq
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_starts: dict[str, int] = field(default_factory=dict)

    def start(self, binary: str) -> None:
        state = self.api.state
        self.log_starts[binary] = len(self.log(binary))
        env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
            [str(REPO / 'driver'), str(REPO), os.environ.get('PYTHONPATH', '')])}
        with open(state / f'{binary}.out', 'wb') as out:
            self.processes[binary] = subprocess.Popen(
                [str(cinder_api.BIN / binary), '--config-file', str(self.api.conf),
                 '--log-file', str(state / f'{binary}.log')],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, binary: str) -> None:
        """As a crash: SIGKILL to the service and its workers, no goodbye to the database."""
        _stop(self.processes.pop(binary), signal.SIGKILL)

    def log(self, binary: str) -> str:
        path = self.api.state / f'{binary}.log'
        return path.read_text() if path.exists() else ''

    def get(self, path: str) -> dict:
        reply = requests.get(f'{self.api.url}v3/{path}', headers=NOAUTH, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def put(self, path: str, body: dict) -> dict:
        reply = requests.put(f'{self.api.url}v3/{path}', json=body, headers=NOAUTH,
                             timeout=30)
        reply.raise_for_status()
        return reply.json()

    def pools(self) -> list[str]:
        return sorted(pool['name'] for pool in
                      self.get('scheduler-stats/get_pools?detail=true')['pools'])

    def wait_for_pools(self, names: list[str], timeout: float = 180) -> None:
        """Until Cinder reports these pools (on a loaded machine a backend's first stats come
        late: beside a running lab, over 60 s). The API's RPC call to the scheduler is lost
        until the scheduler consumes its queue: it times out (HTTP 500) and is asked again."""
        deadline = time.monotonic() + timeout
        pools: list[str] | str = []
        while time.monotonic() < deadline:
            try:
                pools = self.pools()
            except requests.HTTPError as error:
                pools = str(error)
            if set(names) <= set(pools):
                return
            self._restart_volume_after_sqlite_lock()
            for binary, process in self.processes.items():
                assert process.poll() is None, f'{binary} exited: {self.log(binary)[-3000:]}'
            time.sleep(0.5)
        raise AssertionError(f'Cinder has pools {pools}, not {names}: '
                             f'{self.log("cinder-volume")[-3000:]}')

    def _restart_volume_after_sqlite_lock(self) -> None:
        """cinder-volume once more when a backend failed to start on sqlite's lock (see
        SQLITE_LOCKED_AT_START); any other start failure stays for the test to see."""
        if 'cinder-volume' not in self.processes:
            return
        since_start = self.log('cinder-volume')[self.log_starts['cinder-volume']:]
        if SQLITE_LOCKED_AT_START.search(since_start):
            self.kill('cinder-volume')
            self.start('cinder-volume')

    def wait_for_service_state(self, binary: str, host: str, state: str,
                               timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {(s['binary'], s['host']): s['state']
                      for s in self.get('os-services')['services']}
            if states.get((binary, host)) == state:
                return
            time.sleep(0.5)
        raise AssertionError(f'{binary} {host} is not {state}: {states}')

    def stop(self) -> None:
        for binary in list(self.processes):  # throw-away state: no graceful stop needed
            self.kill(binary)
        self.api.stop()
        self.rabbit.stop()


def start(state: Path, backends: dict[str, dict[str, str]]) -> Cinder:
    """RabbitMQ, cinder-api, cinder-scheduler and cinder-volume with ``backends`` (section name
    -> cinder.conf keys) as enabled_backends, on host VOLUME_HOST."""
    rabbit = start_rabbitmq(state / 'rabbitmq')
    sections = ''.join(f'\n[{name}]\n' + ''.join(f'{key} = {value}\n'
                                                 for key, value in keys.items())
                       for name, keys in backends.items())
    more = (f'host = {VOLUME_HOST}\nenabled_backends = {",".join(backends)}\n{INTERVALS}'
            f'{sections}\n')
    try:
        api = cinder_api.start(state / 'cinder', transport_url=rabbit.url, more=more)
    except Exception:
        rabbit.stop()
        raise
    cinder = Cinder(api, rabbit)
    rabbit.wait()
    for binary in ('cinder-scheduler', 'cinder-volume'):
        cinder.start(binary)
    return cinder
