"""The lab as lab-bench sees it: volume hosts over SSH, the appliance, Cinder through Keystone.

Runs inside the lab namespace (lab/bin/lab-bench enters it). Everything is read from the lab
inventory (lab/state/inventory.yml) and lab/state/clouds.yaml; nothing is hard-coded but the
names lab-bench itself gives to what it creates.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / 'lab' / 'state'
sys.path.insert(0, str(REPO / 'build'))
from ansible_collections.acme.nas.plugins.module_utils.acme_client import (  # noqa: E402
    AcmeClient, AcmeError)

GIB, MIB = 1 << 30, 1 << 20
T = TypeVar('T')
WHOLE_DISK = re.compile(r'^(vd|sd|xvd|nvme\d+n)[a-z0-9]*$')
CALL_LINE = re.compile(r' (GET|POST|PUT|PATCH|DELETE) (/api/v1/\S*) (\d+|dropped) ([\d.]+)ms')
# Written as the cinder user into a volume file: every MiB different, none of it zero.
WRITER = """
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
block = bytearray(os.urandom(1 << 20))
with open(path, 'r+b') as out:
    for index in range(mib):
        block[:8] = (index + 1).to_bytes(8, 'little')
        out.write(block)
    out.flush()
    os.fsync(out.fileno())
"""


def log(message: str) -> None:
    print(f'[{time.strftime("%H:%M:%S")}] {message}', flush=True)


# --- volume hosts -----------------------------------------------------------------------

@dataclass
class Guest:
    """A cinder-volume host of the lab, reached over SSH with its pinned host key."""

    name: str
    address: str
    key: str
    ssh_args: str
    backends: dict = field(default_factory=dict)

    def ssh(self, command: str, stdin: str | None = None, timeout: float = 900,
            check: bool = True) -> str:
        argv = ['ssh', '-i', self.key, *shlex.split(self.ssh_args), '-o', 'BatchMode=yes',
                '-o', 'ControlMaster=auto', '-o', 'ControlPath=/tmp/acme-bench-ssh-%C',
                '-o', 'ControlPersist=900', f'root@{self.address}', command]
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f'{self.name}: {command!r} exit {done.returncode}: '
                               f'{done.stderr.strip()[-500:]}')
        return done.stdout

    def counters(self) -> dict[str, int]:
        """Bytes through the NICs (not lo) and the whole disks since boot."""
        net, disk = self.ssh('cat /proc/net/dev; echo ==; cat /proc/diskstats').split('==\n')
        found = dict(rx=0, tx=0, read=0, written=0)
        for line in net.splitlines()[2:]:
            iface, data = line.split(':', 1)
            if iface.strip() != 'lo':
                fields = data.split()
                found['rx'] += int(fields[0])
                found['tx'] += int(fields[8])
        for line in disk.splitlines():
            fields = line.split()
            if len(fields) > 9 and WHOLE_DISK.match(fields[2]):
                found['read'] += int(fields[5]) * 512
                found['written'] += int(fields[9]) * 512
        return found

    def drop_caches(self) -> None:
        self.ssh('sync; echo 3 > /proc/sys/vm/drop_caches')

    def nfs_mounts(self, base: str) -> list[str]:
        out = self.ssh('findmnt -rn -o TARGET -t nfs,nfs4 || true')
        return [p for p in out.split() if p.startswith(base.rstrip('/') + '/')]

    def log_sizes(self, paths: Iterable[str]) -> dict[str, int]:
        out = self.ssh('; '.join(f'stat -c %s {shlex.quote(p)} 2>/dev/null || echo 0'
                                 for p in paths))
        return dict(zip(paths, (int(x) for x in out.split()), strict=True))

    def log_since(self, offsets: dict[str, int]) -> str:
        return ''.join(self.ssh(f'tail -c +{off + 1} {shlex.quote(p)} 2>/dev/null || true')
                       for p, off in offsets.items())

    def machine(self) -> str:
        out = self.ssh("nproc; awk '/MemTotal/ {print $2}' /proc/meminfo; uname -r").split()
        return f'{self.name}: {out[0]} vCPU (TCG), {int(out[1]) // 1024} MiB, Linux {out[2]}'


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in before}


def all_counters(guests: list[Guest]) -> dict[str, dict[str, int]]:
    return {g.name: g.counters() for g in guests}


def sum_diff(before: dict, after: dict) -> dict[str, int]:
    total = dict(rx=0, tx=0, read=0, written=0)
    for name, counters in before.items():
        for key, value in diff(counters, after[name]).items():
            total[key] += value
    return total


# --- the appliance ----------------------------------------------------------------------

class Appliance:
    """The simulator container: REST client, its request log, its ganesha, restart."""

    def __init__(self, inventory: dict, backend: dict):
        group = inventory['all']['children']['acme_appliance']['vars']
        self.container = group['acme_appliance_name']
        self.volume = group['acme_appliance_volume']
        self.ca = group['acme_appliance_ca_export']
        self.pool = backend['acme_pool']
        self.client = AcmeClient(backend['acme_url'], backend['nas_login'],
                                 backend['nas_password'], verify=self.ca, timeout=(5, 60))
        self.url = backend['acme_url']
        self.data = Path(self.podman('volume', 'inspect', self.volume,
                                     '--format', '{{.Mountpoint}}').strip())

    def podman(self, *args: str, timeout: float = 180) -> str:
        env = dict(os.environ, CONTAINERS_CONF=str(STATE / 'containers.conf'))
        done = subprocess.run(['podman', *args], capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f'podman {" ".join(args)}: {done.stderr.strip()[-500:]}')
        return done.stdout

    @property
    def log_file(self) -> Path:
        return self.data / 'appliance.log'

    def storage_type(self) -> str:
        """The file system under the appliance's data (xfs: snapshots and clones reflinked)."""
        return subprocess.run(['stat', '-f', '-c', '%T', str(self.data)], capture_output=True,
                              text=True, check=True).stdout.strip()

    def log_offset(self) -> int:
        return self.log_file.stat().st_size

    def calls_since(self, offset: int) -> list[tuple[str, str, str, float]]:
        with self.log_file.open('rb') as handle:
            handle.seek(offset)
            text = handle.read().decode(errors='replace')
        return [(m[1], m[2], m[3], float(m[4])) for m in CALL_LINE.finditer(text)]

    @staticmethod
    def ganesha_pid() -> int:
        """The PID of the ganesha.nfsd in this network namespace: the appliance's (the
        container joined the lab namespace; any other ganesha on the machine is elsewhere)."""
        here = os.stat('/proc/self/ns/net').st_ino
        for proc in Path('/proc').iterdir():
            try:
                if (proc.name.isdigit() and (proc / 'comm').read_text().strip() == 'ganesha.nfsd'
                        and os.stat(proc / 'ns' / 'net').st_ino == here):
                    return int(proc.name)
            except OSError:
                continue
        raise RuntimeError('no ganesha.nfsd in this network namespace')

    def restart(self) -> float:
        """podman restart; seconds until the API answers again."""
        start = time.monotonic()
        self.podman('restart', '--time', '15', self.container)
        self.wait_healthy()
        return time.monotonic() - start

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client.system.get()
                return
            except AcmeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def shares(self) -> list[dict]:
        return self.client.shares.list(pool=self.pool)

    def snapshots(self) -> list[dict]:
        found = []
        for share in self.shares():
            found += self.client.snapshots.list(share['id'])
        return found


def settled(probe: Callable[[], T], done: Callable[[T], bool], within: float,
            interval: float = 1) -> T:
    """``probe()``'s value once ``done`` holds for it, or its last value after ``within`` s."""
    deadline = time.monotonic() + within
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(interval)
        value = probe()
    return value


def wait_for_log(appliance: Appliance, offset: int, pattern: str, count: int,
                 stop: threading.Event, timeout: float) -> bool:
    """Whether ``count`` request-log lines matching ``pattern`` appeared after ``offset``."""
    wanted = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        calls = appliance.calls_since(offset)
        if sum(1 for c in calls if wanted.search(f'{c[0]} {c[1]} {c[2]}')) >= count:
            return True
        time.sleep(0.02)
    return False


# --- Cinder through Keystone ------------------------------------------------------------

QUOTAS = ('volumes', 'snapshots', 'gigabytes')


def lift_volume_quotas(conn) -> dict:
    """Set the current project's volume quotas to unlimited; return the previous ones."""
    project = conn.current_project_id
    current = conn.get_volume_quotas(project)
    conn.set_volume_quotas(project, **{name: -1 for name in QUOTAS})
    return {name: current[name] for name in QUOTAS}


def restore_volume_quotas(conn, old: dict) -> None:
    """Put back what lift_volume_quotas returned."""
    conn.set_volume_quotas(conn.current_project_id, **old)


class Cloud:
    """Volumes, snapshots and types through the Cinder API (openstacksdk, clouds.yaml)."""

    DONE = ('available', 'error')

    def __init__(self, cloud: str):
        import openstack
        os.environ.setdefault('OS_CLIENT_CONFIG_FILE', str(STATE / 'clouds.yaml'))
        self.conn = openstack.connect(cloud=cloud)
        self.conn.authorize()  # one token before threads share the session
        self.bs = self.conn.block_storage

    def ensure_type(self, name: str, backend: str) -> None:
        if self.bs.find_type(name) is None:
            self.bs.create_type(name=name, extra_specs={'volume_backend_name': backend})

    def delete_type(self, name: str) -> None:
        found = self.bs.find_type(name)
        if found is not None:
            self.bs.delete_type(found)

    def backend_up(self, backend: str) -> bool:
        pools = self.bs.backend_pools()
        return any((p.capabilities or {}).get('volume_backend_name') == backend for p in pools)

    def create(self, name: str, volume_type: str, size: int = 1, **source: str) -> str:
        return self.bs.create_volume(name=name, size=size, volume_type=volume_type,
                                     **source).id

    def create_many(self, names: list[str], volume_type: str, size: int = 1) -> list[str]:
        """All requests sent at once (one thread each)."""
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            return list(pool.map(lambda n: self.create(n, volume_type, size), names))

    def statuses(self, prefix: str) -> dict[str, tuple[str, str]]:
        """{id: (name, status)} of the volumes whose name starts with ``prefix``."""
        return {v.id: (v.name, v.status) for v in self.bs.volumes(details=True)
                if (v.name or '').startswith(prefix)}

    def wait(self, ids: Iterable[str], timeout: float, done: tuple = DONE,
             poll: float = 1.0) -> dict[str, tuple[str, float]]:
        """{id: (status, seconds)}: when each volume reached a ``done`` status (or its last)."""
        start, pending = time.monotonic(), set(ids)
        result: dict[str, tuple[str, float]] = {}
        while pending and time.monotonic() - start < timeout:
            for volume in self.bs.volumes(details=True):
                if volume.id in pending:
                    result[volume.id] = (volume.status, time.monotonic() - start)
                    if volume.status in done:
                        pending.discard(volume.id)
            if pending:
                time.sleep(poll)
        return result

    def wait_one(self, volume_id: str, timeout: float) -> tuple[str, float]:
        start = time.monotonic()
        while True:
            status = self.bs.get_volume(volume_id).status
            if status in self.DONE or time.monotonic() - start > timeout:
                return status, time.monotonic() - start
            time.sleep(0.5)

    def delete_all(self, ids: Iterable[str], timeout: float) -> tuple[float, list[str]]:
        """Delete at once; (seconds until all are gone, ids still there)."""
        ids = list(ids)
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, min(50, len(ids)))) as pool:
            list(pool.map(lambda i: self.bs.delete_volume(i, ignore_missing=True), ids))
        left = set(ids)
        while left and time.monotonic() - start < timeout:
            present = {v.id: v.status for v in self.bs.volumes(details=True)}
            left = {i for i in left if i in present}
            if any(present[i] == 'error_deleting' for i in left):
                break
            if left:
                time.sleep(1)
        return time.monotonic() - start, sorted(left)

    def snapshot(self, volume_id: str, name: str, timeout: float = 600) -> str:
        snap = self.bs.create_snapshot(volume_id=volume_id, name=name)
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            status = self.bs.get_snapshot(snap.id).status
            if status == 'available':
                return snap.id
            if status == 'error':
                raise RuntimeError(f'snapshot {name} ended in error')
            time.sleep(0.5)
        raise RuntimeError(f'snapshot {name} still not available after {timeout} s')

    def delete_snapshot(self, snapshot_id: str, timeout: float = 600) -> None:
        self.bs.delete_snapshot(snapshot_id, ignore_missing=True)
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.bs.find_snapshot(snapshot_id, ignore_missing=True) is None:
                return
            time.sleep(0.5)
        raise RuntimeError(f'snapshot {snapshot_id} still there after {timeout} s')


# --- the lab ------------------------------------------------------------------------------

class Lab:
    """Volume hosts, the ACME backend's settings, the appliance and the cloud."""

    def __init__(self) -> None:
        inventory = yaml.safe_load((STATE / 'inventory.yml').read_text())
        self.inventory = inventory
        top = inventory['all']['vars']
        group = inventory['all']['children']['cinder_volume']
        self.guests = [self._guest(name, host, group.get('vars', {}))
                       for name, host in group['hosts'].items()]
        name, self.backend = next(iter(self.guests[0].backends.items()))
        self.acme_backend = name
        self.acme_type = self.backend.get('volume_type', name)
        self.acme_base = self.backend.get('nfs_mount_point_base', '/var/lib/cinder/mnt')
        self.prefix = self.backend.get('acme_share_prefix', 'cinder-')
        self.appliance = Appliance(inventory, self.backend)
        self.cloud = Cloud(top['acme_cloud'])
        controller = inventory['all']['children']['controller']['hosts']['localhost']
        self.controller_venv = controller['acme_lab_controller_venv']
        self.controller_conf = controller['acme_lab_controller_cinder_conf']

    @staticmethod
    def _guest(name: str, host: dict, group_vars: dict) -> Guest:
        merged = {**group_vars, **host}
        return Guest(name, merged['ansible_host'], merged['ansible_ssh_private_key_file'],
                     merged.get('ansible_ssh_common_args', ''),
                     merged.get('acme_cinder_backends', {}))

    def guest(self, address: str) -> Guest:
        return next(g for g in self.guests if g.address == address)

    def acme_share(self, volume_id: str) -> dict | None:
        return self.appliance.client.shares.find(f'{self.prefix}volume-{volume_id}',
                                                 self.appliance.pool)

    def volume_logs(self) -> list[str]:
        return ['/var/log/cinder/cinder-volume.log',
                '/var/log/cinder/cinder-volume-generic-nfs.log']


def save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')


def timed(function: Callable[[], object]) -> tuple[object, float]:
    start = time.monotonic()
    value = function()
    return value, time.monotonic() - start
