"""The supervisor: runs rpcbind and rpc.statd (unless they run), ganesha and the API, and stops
them all when one ends or it is told to stop. It is the process mode's parent process and the
container's entrypoint (`run supervise`, see cli.py)."""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from acme_appliance.procs import pid_alive, reap, stop_pid, write_json

USERS_ENV = 'ACME_APPLIANCE_USERS'
PIDS_FILE = 'pids.json'
# Space kept free on the state directory's file system (NFS clients can fill it: quotas are
# accounted, not enforced): given back at each start so that ganesha can write its pid file and
# the API its database and log, taken again once there is room.
RESERVE_FILE = 'space-reserve'
RESERVE_BYTES = 1 << 20
RESERVE_CHECK_SECONDS = 30.0
# What each recorded process has in its command line (a recycled pid is never taken for it).
PROCESS_NAMES = {'api': 'acme_appliance', 'ganesha': 'ganesha', 'statd': 'rpc.statd',
                 'rpcbind': 'rpcbind'}
# The order they stop in (the reverse of their start).
STOP_ORDER = ('api', 'ganesha', 'statd', 'rpcbind')


def credentials(state: Path, user: str | None) -> str:
    """USER:PASSWORD from --user, or a generated admin password kept in DIR/credentials."""
    path = state / 'credentials'
    if user:
        return user
    if path.exists():
        return path.read_text().strip()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    value = f'admin:{secrets.token_urlsafe(16)}'
    with os.fdopen(fd, 'w') as handle:
        handle.write(value + '\n')
    return value


def release_reserve(state: Path) -> None:
    (state / RESERVE_FILE).unlink(missing_ok=True)


def keep_reserve(state: Path) -> bool:
    """Allocate the reserve file if it is missing and there is room; True when it is there."""
    path = state / RESERVE_FILE
    if path.exists():
        return True
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
    except OSError as exc:
        path.unlink()
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        return False
    finally:
        os.close(fd)
    return True


def check_user(user: str) -> None:
    """``user`` goes on in ACME_APPLIANCE_USERS, where ',' separates users."""
    if ',' in user:
        raise SystemExit("--user: ',' cannot be in USER:PASSWORD (ACME_APPLIANCE_USERS "
                         "separates users with it)")


def client_host(listen: str) -> str:
    return '127.0.0.1' if listen in ('0.0.0.0', '') else listen


class Supervisor:
    """Runs rpcbind and rpc.statd (if needed), ganesha and the API; stops them all when one
    ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state = Path(args.state_dir)
        self.pids: dict[str, int] = {'supervisor': os.getpid()}
        self.api: subprocess.Popen | None = None
        self.stopping = False

    def record(self, name: str, pid: int | None) -> None:
        """Note a started process in pids.json; without space for it the supervisor still
        stops what it started (`stop` ends the supervisor, which ends the others)."""
        if pid:
            self.pids[name] = pid
        try:
            write_json(self.state / PIDS_FILE, self.pids)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            print(f'supervise: cannot write {PIDS_FILE}: {exc}', flush=True)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self._start_all()
            return self._wait()
        finally:
            self._stop_all()

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start_all(self) -> None:
        # Imported here: `run start/stop/status` must work on a bare python3 (stdlib only);
        # only the supervisor itself runs where the simulator's dependencies are installed.
        from acme_appliance import context, ganesha, tls

        a, state = self.args, self.state
        release_reserve(state)
        for sub in ('data', 'ganesha', 'tls'):
            (state / sub).mkdir(parents=True, exist_ok=True)
        a.user = credentials(state, a.user)
        # Only the API gets the password (below): rpcbind and ganesha inherit this environment.
        os.environ.pop(USERS_ENV, None)
        hosts = [h for h in (a.tls_host or []) + [client_host(a.listen)] if h]
        files = tls.generate(state / 'tls', hosts)
        self.record('rpcbind', ganesha.start_rpcbind(state / 'rpcbind.log'))
        self.record('statd', ganesha.start_statd(state / 'statd', state / 'statd.log'))
        conf_dir = state / 'ganesha'
        ganesha.write_config(conf_dir, a.listen or '0.0.0.0', a.nfs_port, a.mnt_port,
                             a.nlm_port, context.exports_in_database(state / 'data'))
        self.record('ganesha', ganesha.start_ganesha(conf_dir))
        # The password goes to the API in its environment, not on its command line.
        self.api = subprocess.Popen(self._serve_command(files, conf_dir),
                                    env=dict(os.environ, **{USERS_ENV: a.user}),
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.record('api', self.api.pid)

    def _serve_command(self, files, conf_dir: Path) -> list[str]:
        a = self.args
        cmd = [sys.executable, '-m', 'acme_appliance', 'serve',
               '--data-dir', str(self.state / 'data'),
               '--listen', f'{a.listen or "0.0.0.0"}:{a.api_port}',
               '--tls-cert', str(files.cert), '--tls-key', str(files.key),
               '--log-file', str(self.state / 'appliance.log'),
               '--ganesha-conf-dir', str(conf_dir),
               '--ganesha-pidfile', str(conf_dir / 'ganesha.pid'),
               '--nfs-address', a.nfs_address or client_host(a.listen)]
        for pool in a.pool or []:
            cmd += ['--pool', pool]
        return cmd + (['--enable-faults'] if a.enable_faults else [])

    def _wait(self) -> int:
        next_reserve_check = time.monotonic()
        while not self.stopping:
            if time.monotonic() >= next_reserve_check:
                keep_reserve(self.state)
                next_reserve_check = time.monotonic() + RESERVE_CHECK_SECONDS
            for name, pid in self.pids.items():
                if name != 'supervisor' and self._ended(name, pid):
                    print(f'supervise: {name} (pid {pid}) ended; stopping', flush=True)
                    return 1
            time.sleep(0.5)
        return 0

    def _ended(self, name: str, pid: int) -> bool:
        if name == 'api' and self.api is not None:
            return self.api.poll() is not None
        reap(pid)
        return not pid_alive(pid)

    def _stop_all(self) -> None:
        for name in STOP_ORDER:
            pid = self.pids.get(name)
            if pid:
                t0 = time.monotonic()
                stop_pid(pid, PROCESS_NAMES[name], timeout=15.0)
                reap(pid)
                print(f'supervise: stopped {name} in {time.monotonic() - t0:.1f}s', flush=True)


def supervise(args: argparse.Namespace) -> int:
    return Supervisor(args).run()
