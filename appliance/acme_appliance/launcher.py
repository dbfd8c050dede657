"""Start, stop and inspect the simulator: as a podman container (default) or as host
processes under the supervisor; `start` returns once GET /api/v1/health answers over HTTPS with
the generated CA. The password is never put on a command line (ps and podman inspect show
those): it goes on in ACME_APPLIANCE_USERS, to the container through a private --env-file."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from acme_appliance.procs import pid_alive, read_json, stop_pid, tail, write_json, write_private
from acme_appliance.supervisor import (PIDS_FILE, PROCESS_NAMES, STOP_ORDER, USERS_ENV,
                                       client_host, credentials)

# appliance/ in a checkout (site-packages when installed): the directory holding the package.
HERE = Path(__file__).resolve().parents[1]
REPO = HERE.parent
MODULE = 'acme_appliance.runner'
ENV_FILE = 'appliance.env'
DEFAULT_IMAGE = os.environ.get('ACME_IMAGE', 'localhost/acme-appliance:latest')
CONTAINER_STATE = '/var/lib/acme'
INTERNAL_PORTS = {'api': 8443, 'nfs': 2049, 'mnt': 20048, 'nlm': 32803}
RUN_FILE = 'run.json'


def default_state_dir() -> Path:
    return Path(os.environ.get('ACME_STATE_DIR') or REPO / '.cache' / 'appliance')


def runner_env(user: str | None = None) -> dict[str, str]:
    """This environment, HERE on PYTHONPATH (for -m acme_appliance.runner) and the user."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(HERE), env.get('PYTHONPATH')]))
    if user:
        env[USERS_ENV] = user
    return env


def health(url: str, ca: Path, timeout: float = 3.0) -> bool:
    """True if GET {url}/api/v1/health answers 200 over HTTPS verified with ``ca``."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(f'{url}/api/v1/health', context=context,
                                    timeout=timeout) as response:
            return response.status == 200
    except (OSError, ssl.SSLError, ValueError):
        return False


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
        stop_pid(info.get('supervisor_pid'), 'supervise', timeout=30)
        pids = read_json(state / PIDS_FILE)
        for name in STOP_ORDER:
            stop_pid(pids.get(name), PROCESS_NAMES[name], timeout=15.0)
    (state / RUN_FILE).unlink(missing_ok=True)


def _recorded_run(args: argparse.Namespace) -> tuple[Path, dict]:
    """The state directory and what `start` recorded there ({} and a message if nothing)."""
    state = Path(args.state_dir).resolve()
    info = read_json(state / RUN_FILE)
    if not info:
        print(f'not running (no {state / RUN_FILE})')
    return state, info


def cmd_stop(args: argparse.Namespace) -> int:
    state, info = _recorded_run(args)
    if info:
        stop(state)
        print(f'stopped ({info.get("mode")})')
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state, info = _recorded_run(args)
    if not info:
        return 3
    alive = running(info)
    healthy = alive and probe(info, Path(info['ca']))
    print(json.dumps({**info, 'running': alive, 'healthy': healthy,
                      'pids': read_json(state / PIDS_FILE)}, indent=2, sort_keys=True))
    return 0 if healthy else 1


def cmd_probe(args: argparse.Namespace) -> int:
    return 0 if health(args.url, Path(args.ca)) else 1
