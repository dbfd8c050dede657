"""Start, stop and inspect the ACME NAS appliance simulator (REST API + nfs-ganesha).

  appliance/run start --state-dir DIR [--api-port 8443] [--nfs-port 2049 --mnt-port 20048
                      --nlm-port 32803] [--listen 127.0.0.1] [--user admin:PASS]
                      [--pool pool1:100GiB] [--enable-faults] [--no-container]
                      [--network ns:/run/netns/NAME] [--image IMAGE]
  appliance/run stop --state-dir DIR
  appliance/run status [--state-dir DIR]

appliance/run runs this module (`python3 -m acme_appliance.runner`, appliance/ on PYTHONPATH);
the container image's entrypoint is the same module.

Container mode (default) runs the image built by appliance/container/build with podman,
publishing its ports on the listen address only. --no-container starts a supervisor process
that runs rpcbind (unless one runs already: there is one per machine), ganesha and
`python -m acme_appliance serve`; their PIDs are in DIR/pids.json and `stop` ends exactly
those. Either way DIR holds tls/ (ca.pem ...), data/, ganesha/ and the logs, and `start`
returns once GET /api/v1/health answers over HTTPS with the generated CA.

The password is never put on a command line (ps and podman inspect show those): --user may
be left out and given as ACME_APPLIANCE_USERS=USER:PASSWORD in the environment instead; the
supervisor and the API get it in that variable, the container through an --env-file (mode
0600, in DIR while podman run reads it).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# appliance/ in a checkout (site-packages when installed): the directory holding the package.
HERE = Path(__file__).resolve().parents[1]
REPO = HERE.parent
MODULE = 'acme_appliance.runner'
USERS_ENV = 'ACME_APPLIANCE_USERS'
ENV_FILE = 'appliance.env'
DEFAULT_IMAGE = os.environ.get('ACME_IMAGE', 'localhost/acme-appliance:latest')
CONTAINER_STATE = '/var/lib/acme'
INTERNAL_PORTS = {'api': 8443, 'nfs': 2049, 'mnt': 20048, 'nlm': 32803}
RUN_FILE, PIDS_FILE = 'run.json', 'pids.json'


# --- small helpers -----------------------------------------------------------------------

def default_state_dir() -> Path:
    return Path(os.environ.get('ACME_STATE_DIR') or REPO / '.cache' / 'appliance')


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + '\n')
    os.replace(tmp, path)


def pid_alive(pid: int | None, name: str | None = None) -> bool:
    """True if ``pid`` runs (not a zombie) and, when given, ``name`` is in its command line."""
    if not pid:
        return False
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
        cmdline = Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode()
    except OSError:
        return False
    if stat.rsplit(')', 1)[1].split()[0] in ('Z', 'X'):
        return False
    return name is None or name in cmdline


def kill_pid(pid: int, name: str, timeout: float = 15.0) -> None:
    """SIGTERM then SIGKILL ``pid`` if it is still the process called ``name``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if not pid_alive(pid, name):
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and pid_alive(pid, name):
            time.sleep(0.1)


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child (else nothing to do)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


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


def check_user(user: str) -> None:
    """``user`` goes on in ACME_APPLIANCE_USERS, where ',' separates users."""
    if ',' in user:
        raise SystemExit("--user: ',' cannot be in USER:PASSWORD (ACME_APPLIANCE_USERS "
                         "separates users with it)")


def runner_env(user: str | None = None) -> dict[str, str]:
    """This environment, HERE on PYTHONPATH (for -m acme_appliance.runner) and the user."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(HERE), env.get('PYTHONPATH')]))
    if user:
        env[USERS_ENV] = user
    return env


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by the owner only (also if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)


def client_host(listen: str) -> str:
    return '127.0.0.1' if listen in ('0.0.0.0', '') else listen


def health(url: str, ca: Path, timeout: float = 3.0) -> bool:
    """True if GET {url}/api/v1/health answers 200 over HTTPS verified with ``ca``."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(f'{url}/api/v1/health', context=context,
                                    timeout=timeout) as response:
            return response.status == 200
    except (OSError, ssl.SSLError, ValueError):
        return False


def tail(path: Path, lines: int = 25) -> str:
    try:
        return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except FileNotFoundError:
        return f'({path} does not exist)'


# --- the supervisor (process mode, and the container's entrypoint) -------------------------

class Supervisor:
    """Runs rpcbind (if needed), ganesha and the API; stops them all when one ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state = Path(args.state_dir)
        self.pids: dict[str, int] = {'supervisor': os.getpid()}
        self.api: subprocess.Popen | None = None
        self.stopping = False

    def record(self, name: str, pid: int | None) -> None:
        if pid:
            self.pids[name] = pid
        write_json(self.state / PIDS_FILE, self.pids)

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
        from acme_appliance import ganesha, tls

        a, state = self.args, self.state
        for sub in ('data', 'ganesha', 'tls'):
            (state / sub).mkdir(parents=True, exist_ok=True)
        a.user = credentials(state, a.user)
        hosts = [h for h in (a.tls_host or []) + [client_host(a.listen)] if h]
        files = tls.generate(state / 'tls', hosts)
        self.record('rpcbind', ganesha.start_rpcbind(state / 'rpcbind.log'))
        conf_dir = state / 'ganesha'
        ganesha.write_config(conf_dir, a.listen or '0.0.0.0', a.nfs_port, a.mnt_port,
                             a.nlm_port)
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
        while not self.stopping:
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
        for name in ('api', 'ganesha', 'rpcbind'):
            pid = self.pids.get(name)
            if pid:
                t0 = time.monotonic()
                kill_pid(pid, {'api': 'acme_appliance'}.get(name, name))
                reap(pid)
                print(f'supervise: stopped {name} in {time.monotonic() - t0:.1f}s', flush=True)


def cmd_supervise(args: argparse.Namespace) -> int:
    return Supervisor(args).run()


# --- start / stop / status ---------------------------------------------------------------

def python_for_processes() -> str:
    """$ACME_PYTHON, this interpreter if it has the simulator's dependencies, or .venv's."""
    venv = REPO / '.venv' / 'bin' / 'python'
    if os.environ.get('ACME_PYTHON'):
        return os.environ['ACME_PYTHON']
    if importlib.util.find_spec('fastapi') or not venv.exists():
        return sys.executable
    return str(venv)


def supervise_args(args: argparse.Namespace, state: str, ports: dict[str, int],
                   listen: str) -> list[str]:
    out = ['supervise', '--state-dir', state, '--listen', listen,
           '--api-port', str(ports['api']), '--nfs-port', str(ports['nfs']),
           '--mnt-port', str(ports['mnt']), '--nlm-port', str(ports['nlm']),
           '--nfs-address', args.nfs_address or client_host(args.listen)]
    for host in [*(args.tls_host or []), client_host(args.listen)]:
        out += ['--tls-host', host]
    for pool in args.pool or []:
        out += ['--pool', pool]
    return out + (['--enable-faults'] if args.enable_faults else [])


def start_processes(args: argparse.Namespace, state: Path) -> dict:
    ports = {'api': args.api_port, 'nfs': args.nfs_port, 'mnt': args.mnt_port,
             'nlm': args.nlm_port}
    cmd = [python_for_processes(), '-m', MODULE,
           *supervise_args(args, str(state), ports, args.listen)]
    with open(state / 'supervisor.log', 'ab') as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env=runner_env(args.user),
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return {'mode': 'process', 'supervisor_pid': proc.pid, 'ports': ports}


def container_name(state: Path) -> str:
    return 'acme-appliance-' + hashlib.sha256(str(state).encode()).hexdigest()[:10]


def ensure_image(image: str) -> None:
    """Build the default image (appliance/container/build) if podman does not have it."""
    if subprocess.run(['podman', 'image', 'exists', image], check=False).returncode == 0:
        return
    if image != 'localhost/acme-appliance:latest':
        raise SystemExit(f'image {image} not found')
    print(f'image {image} not found: building it', flush=True)
    subprocess.run([str(HERE / 'container' / 'build')], check=True)


def start_container(args: argparse.Namespace, state: Path) -> dict:
    ensure_image(args.image)
    name = container_name(state)
    subprocess.run(['podman', 'rm', '-f', '--ignore', name], capture_output=True, check=False)
    ports = {'api': args.api_port, 'nfs': args.nfs_port, 'mnt': args.mnt_port,
             'nlm': args.nlm_port}
    cmd = ['podman', 'run', '-d', '--rm', '--init', '--name', name,
           '--label', 'acme.appliance=1', '--label', f'acme.appliance.state={state}',
           '--cap-add', 'DAC_READ_SEARCH', '--cap-add', 'SYS_RESOURCE',
           '-v', f'{state}:{CONTAINER_STATE}']
    if args.network:
        cmd += ['--network', args.network]
        inner, listen = ports, args.listen
    else:
        inner, listen = INTERNAL_PORTS, '0.0.0.0'
        for key, port in ports.items():
            cmd += ['-p', f'{args.listen}:{port}:{INTERNAL_PORTS[key]}']
    # The password goes in through a private env file (podman reads it at run), not in args.
    env_file = state / ENV_FILE
    write_private(env_file, f'{USERS_ENV}={args.user}\n')
    cmd += ['--env-file', str(env_file),
            args.image, *supervise_args(args, CONTAINER_STATE, inner, listen)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        env_file.unlink(missing_ok=True)
    if result.returncode != 0:
        raise SystemExit(f'podman run failed: {result.stderr.strip()}')
    return {'mode': 'container', 'container': name, 'ports': ports, 'network': args.network}


def wait_healthy(info: dict, state: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    ca = state / 'tls' / 'ca.pem'
    while time.monotonic() < deadline:
        if not running(info):
            return False
        if ca.exists() and probe(info, ca):
            return True
        time.sleep(0.5)
    return False


def probe(info: dict, ca: Path) -> bool:
    network = info.get('network') or ''
    if not network.startswith('ns:'):
        return health(info['url'], ca)
    cmd = ['nsenter', f'--net={network[3:]}', sys.executable, '-m', MODULE,
           'probe', info['url'], str(ca)]
    return subprocess.run(cmd, capture_output=True, env=runner_env(),
                          check=False).returncode == 0


def running(info: dict) -> bool:
    if info.get('mode') == 'container':
        result = subprocess.run(['podman', 'container', 'inspect', '--format',
                                 '{{.State.Running}}', info['container']],
                                capture_output=True, text=True, check=False)
        return result.stdout.strip() == 'true'
    return pid_alive(info.get('supervisor_pid'), 'supervise')


def cmd_start(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).resolve()
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    state.chmod(0o700)  # appliance.log, credentials and the data are the owner's only
    old = read_json(state / RUN_FILE)
    if old and running(old):
        print(f'already running ({old["mode"]}): {old["url"]}', file=sys.stderr)
        return 1
    if old:
        stop(state)  # leftovers of a run that died: end what it recorded
    args.user = credentials(state, args.user)
    (state / PIDS_FILE).unlink(missing_ok=True)
    t0 = time.monotonic()
    info = start_processes(args, state) if args.no_container else start_container(args, state)
    info.update(url=f'https://{client_host(args.listen)}:{args.api_port}',
                ca=str(state / 'tls' / 'ca.pem'), listen=args.listen,
                credentials=str(state / 'credentials') if not args.user_given else None)
    write_json(state / RUN_FILE, info)
    if not wait_healthy(info, state, args.timeout):
        why = f'not healthy after {args.timeout:.0f}s' if running(info) else 'exited'
        print(f'appliance {why} ({time.monotonic() - t0:.1f}s)', file=sys.stderr)
        print(diagnostics(info, state), file=sys.stderr)
        stop(state)
        return 1
    print(f'ACME appliance ({info["mode"]}) healthy after {time.monotonic() - t0:.1f}s')
    print(f'url: {info["url"]}/api/v1')
    print(f'ca: {info["ca"]}')
    print(f'nfs: {client_host(args.listen)} nfs_port={args.nfs_port} '
          f'mount_port={args.mnt_port} nlm_port={args.nlm_port}')
    if info['credentials']:
        print(f'credentials: {info["credentials"]}')
    return 0


def diagnostics(info: dict, state: Path) -> str:
    parts = []
    if info.get('mode') == 'container':
        logs = subprocess.run(['podman', 'logs', '--tail', '30', info['container']],
                              capture_output=True, text=True, check=False)
        parts.append('--- podman logs ---\n' + logs.stdout + logs.stderr)
    else:
        parts.append('--- supervisor.log ---\n' + tail(state / 'supervisor.log'))
    parts.append('--- ganesha.log ---\n' + tail(state / 'ganesha' / 'ganesha.log', 10))
    parts.append('--- appliance.log ---\n' + tail(state / 'appliance.log', 15))
    return '\n'.join(parts)


def stop(state: Path) -> None:
    info = read_json(state / RUN_FILE)
    if info.get('mode') == 'container':
        subprocess.run(['podman', 'stop', '-t', '15', info['container']], capture_output=True,
                       check=False)
        subprocess.run(['podman', 'rm', '-f', '--ignore', info['container']],
                       capture_output=True, check=False)
    elif info.get('mode') == 'process':
        kill_pid(info.get('supervisor_pid'), 'supervise', timeout=30)
        pids = read_json(state / PIDS_FILE)
        for name in ('api', 'ganesha', 'rpcbind'):
            if pids.get(name):
                kill_pid(pids[name], {'api': 'acme_appliance'}.get(name, name))
    (state / RUN_FILE).unlink(missing_ok=True)


def cmd_stop(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).resolve()
    info = read_json(state / RUN_FILE)
    if not info:
        print(f'not running (no {state / RUN_FILE})')
        return 0
    stop(state)
    print(f'stopped ({info.get("mode")})')
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).resolve()
    info = read_json(state / RUN_FILE)
    if not info:
        print(f'not running (no {state / RUN_FILE})')
        return 3
    alive = running(info)
    healthy = alive and probe(info, Path(info['ca']))
    print(json.dumps({**info, 'running': alive, 'healthy': healthy,
                      'pids': read_json(state / PIDS_FILE)}, indent=2, sort_keys=True))
    return 0 if healthy else 1


def cmd_probe(args: argparse.Namespace) -> int:
    return 0 if health(args.url, Path(args.ca)) else 1


# --- command line ------------------------------------------------------------------------

def add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--state-dir', type=Path, default=default_state_dir())
    parser.add_argument('--api-port', type=int, default=8443)
    parser.add_argument('--nfs-port', type=int, default=2049)
    parser.add_argument('--mnt-port', type=int, default=20048)
    parser.add_argument('--nlm-port', type=int, default=32803)
    parser.add_argument('--listen', default='127.0.0.1',
                        help='address the API and NFS listen on (container: publish on)')
    parser.add_argument('--user', help='USER:PASSWORD (default: $ACME_APPLIANCE_USERS, else '
                        'admin with a generated password); ps shows it: prefer the variable')
    parser.add_argument('--pool', action='append', help='NAME:SIZE, repeatable')
    parser.add_argument('--enable-faults', action='store_true')
    parser.add_argument('--nfs-address', help='data address shown in share exports')
    parser.add_argument('--tls-host', action='append',
                        help='extra name or address for the server certificate (repeatable)')


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog='run', description=__doc__.split('\n', maxsplit=1)[0])
    sub = top.add_subparsers(dest='command', required=True)
    start = sub.add_parser('start', help='start the simulator and wait until healthy')
    add_service_options(start)
    start.add_argument('--no-container', action='store_true',
                       help='run rpcbind, ganesha and the API as host processes')
    start.add_argument('--network', help='podman --network value, e.g. ns:/run/netns/LAB')
    start.add_argument('--image', default=DEFAULT_IMAGE)
    start.add_argument('--timeout', type=float, default=120.0)
    start.set_defaults(func=cmd_start)
    for name, func in (('stop', cmd_stop), ('status', cmd_status)):
        p = sub.add_parser(name)
        p.add_argument('--state-dir', type=Path, default=default_state_dir())
        p.set_defaults(func=func)
    sup = sub.add_parser('supervise', help=argparse.SUPPRESS)
    add_service_options(sup)
    sup.set_defaults(func=cmd_supervise)
    prb = sub.add_parser('probe', help=argparse.SUPPRESS)
    prb.add_argument('url')
    prb.add_argument('ca')
    prb.set_defaults(func=cmd_probe)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ('start', 'supervise'):
        if args.user:
            check_user(args.user)
        else:
            args.user = os.environ.get(USERS_ENV) or None
    if args.command == 'start':
        args.user_given = bool(args.user)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
