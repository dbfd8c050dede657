"""make lab-cluster: issue 11's active-active flows on the lab's two cinder-volume hosts.

    ip netns exec acme-lab .venv/bin/python lab/bin/cluster.py --state-dir lab/state

(lab/bin/lab-cluster runs it.) Everything goes the operator's way: Cinder through Keystone
(lab/state/clouds.yaml, openstacksdk), the hosts' logs and mount tables over SSH, etcd's lock
keys with etcdctl (a watch runs for the whole run), the appliance with the acme client.

Which host served a step: its request id (x-openstack-request-id, carried by the RPC) in
that host's cinder-volume log. Not os-vol-host-attr:host: in a cluster the scheduler writes
there the first host of the cluster, whichever host then takes the message. Lock waits: the
DEBUG lines 'Lock "..." acquired ... :: waited N s' of Cinder's locks and the driver's share locks
(the lab inventory turns them on), and the lock keys' PUT/DELETE events in etcd.
The table goes to stdout and STATE/cluster-report.txt; exit 1 when a flow failed.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'plugins' / 'module_utils'))
import acme_client  # noqa: E402  (the collection's appliance client, one file)
from benchlib import Guest, lift_volume_quotas, restore_volume_quotas, settled  # noqa: E402  (lab/bin, this script's directory)

MICROVERSION = 'volume 3.64'
MOUNT_BASE = '/var/lib/cinder/mnt'
LOG = '/var/log/cinder/cinder-volume.log'
BRICK = '/var/lib/acme-lab-cluster/brick'
LOCK_KEYS = '/tooz/locks'
REQ_RE = re.compile(r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
WAIT_RE = re.compile(r'Lock "(?P<name>[^"]+)" acquired(?: by "(?P<fn>[^"]+)")? :: '
                     r'waited (?P<secs>\d+\.\d+)s')
LOCK_ERROR_RE = re.compile(r'Tooz\w*Error|OperationTimedOut|lock service')
# a wait shorter than this is the cost of asking etcd, not another holder
WAIT_MIN = 0.2
BUSY = ('creating', 'deleting', 'downloading', 'attaching', 'detaching', 'extending')


# ---------------------------------------------------------------------------------------
# The lab: hosts, Cinder, appliance, etcd
# ---------------------------------------------------------------------------------------
def _guest(name: str, host: dict) -> Guest:
    return Guest(name, host['ansible_host'], host['ansible_ssh_private_key_file'],
                 host['ansible_ssh_common_args'])


def driver_mounts(guest: Guest) -> list[str]:
    """The guest's NFS mounts under the driver's mount base."""
    return guest.nfs_mounts(MOUNT_BASE)


@dataclass
class Lab:
    volume_hosts: dict[str, Guest]
    compute: Guest
    compute_python: str
    backend: dict
    volume_type: str
    ca_path: str
    etcd: str
    cluster: str
    supervisor_conf: Path
    state: Path

    @classmethod
    def load(cls, state: Path) -> Lab:
        inv = yaml.safe_load((state / 'inventory.yml').read_text())
        children = inv['all']['children']
        volume = children['cinder_volume']
        compute_name, compute = next(iter(children['nova_compute']['hosts'].items()))
        backend = next(iter(volume['vars']['acme_cinder_backends'].values()))
        url = volume['vars'].get('acme_cinder_coordination_url', '')
        if not url.startswith('etcd3+'):
            sys.exit('lab-cluster: the lab has no etcd coordination (make lab-down; make lab)')
        return cls(
            volume_hosts={n: _guest(n, h) for n, h in volume['hosts'].items()},
            compute=_guest(compute_name, compute),
            compute_python=compute['acme_brick_python'],
            backend=backend, volume_type=backend['volume_type'],
            ca_path=children['acme_appliance']['vars']['acme_appliance_ca_export'],
            etcd=url.removeprefix('etcd3+').split('?')[0],
            cluster=volume['vars']['acme_cinder_cluster'],
            supervisor_conf=state / 'control' / 'etc' / 'supervisord.conf', state=state)

    def appliance(self) -> acme_client.AcmeClient:
        b = self.backend
        return acme_client.AcmeClient(b['acme_url'], b['nas_login'], b['nas_password'],
                                      verify=self.ca_path)

    def etcd_pid(self) -> int:
        out = subprocess.run(['supervisorctl', '-c', str(self.supervisor_conf), 'pid', 'etcd'],
                             capture_output=True, text=True, check=True).stdout.strip()
        pid = int(out)
        assert Path(f'/proc/{pid}/comm').read_text().strip() == 'etcd', f'pid {pid} is not etcd'
        return pid

    def lock_keys(self) -> list[str]:
        out = subprocess.run(['etcdctl', '--endpoints', self.etcd, 'get', '--prefix', LOCK_KEYS,
                              '--keys-only'], capture_output=True, text=True, timeout=30,
                             env={**os.environ, 'ETCDCTL_API': '3'}, check=True).stdout
        return [line for line in out.split() if line]


class Cinder:
    """cinder-api through Keystone; every call returns (body, request id)."""

    def __init__(self, cloud: str) -> None:
        self.conn = openstack.connect(cloud=cloud)
        self.api = self.conn.block_storage
        self.project_id = self.conn.current_project_id  # a token now, before any thread

    def call(self, method: str, path: str, body: dict | None = None,
             ok: tuple[int, ...] = (200, 202, 204)) -> tuple[dict, str]:
        resp = self.api.request(path, method, json=body, raise_exc=False,
                                headers={'OpenStack-API-Version': MICROVERSION})
        if resp.status_code not in ok:
            raise RuntimeError(f'{method} {path}: HTTP {resp.status_code} {resp.text[:300]}')
        data = resp.json() if resp.content else {}
        return data, resp.headers.get('x-openstack-request-id', '')

    def volumes(self, all_projects: bool = False) -> dict[str, dict]:
        query = '?all_tenants=1' if all_projects else ''
        return {v['id']: v for v in self.call('GET', f'/volumes/detail{query}')[0]['volumes']}

    def snapshots(self, all_projects: bool = False) -> dict[str, dict]:
        query = '?all_tenants=1' if all_projects else ''
        data = self.call('GET', f'/snapshots/detail{query}')[0]['snapshots']
        return {s['id']: s for s in data}

    def create_volume(self, name: str, volume_type: str, **extra: Any) -> tuple[str, str]:
        body = {'volume': {'name': name, 'size': 1, 'volume_type': volume_type, **extra}}
        data, req = self.call('POST', '/volumes', body)
        return data['volume']['id'], req

    def create_snapshot(self, name: str, volume_id: str) -> tuple[str, str]:
        data, req = self.call('POST', '/snapshots',
                              {'snapshot': {'name': name, 'volume_id': volume_id}})
        return data['snapshot']['id'], req

    def action(self, volume_id: str, name: str, args: dict) -> tuple[dict, str]:
        return self.call('POST', f'/volumes/{volume_id}/action', {name: args})

    def services(self) -> list[dict]:
        return self.call('GET', '/os-services?binary=cinder-volume')[0]['services']

    def wait(self, ids: list[str], kind: str = 'volumes', timeout: float = 900,
             done: tuple[str, ...] = ('available', 'error')) -> dict[str, dict | None]:
        """Poll until every id is in a done state or gone (None)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.volumes() if kind == 'volumes' else self.snapshots()
            state = {i: found.get(i) for i in ids}
            if all(v is None or v['status'] in done for v in state.values()):
                return state
            if time.monotonic() > deadline:
                busy = {i: v['status'] for i, v in state.items() if v and v['status'] not in done}
                raise TimeoutError(f'{kind} still busy after {timeout:.0f} s: {busy}')
            time.sleep(3)


def timed(fn, *args: Any) -> tuple[Any, float]:
    """fn(*args) and the seconds it took."""
    began = time.monotonic()
    return fn(*args), time.monotonic() - began


# ---------------------------------------------------------------------------------------
# Evidence: logs, etcd events, mounts, appliance
# ---------------------------------------------------------------------------------------
class Logs:
    """The part of each volume host's cinder-volume log written since mark()."""

    def __init__(self, hosts: dict[str, Guest]) -> None:
        self.hosts = hosts
        self.offsets: dict[str, dict[str, int]] = {}
        self.text: dict[str, str] = {}

    def mark(self) -> None:
        self.offsets = {n: g.log_sizes([LOG]) for n, g in self.hosts.items()}

    def read(self) -> None:
        self.text = {n: g.log_since(self.offsets[n]) for n, g in self.hosts.items()}

    def host_of(self, request_id: str) -> str:
        names = [n for n, text in self.text.items() if request_id and request_id in text]
        return '+'.join(names) or '?'

    def waits(self, name_part: str = '') -> dict[str, list[tuple[str, float]]]:
        """{host: [(lock, seconds waited)]} for waits longer than WAIT_MIN."""
        out: dict[str, list[tuple[str, float]]] = {}
        for host, text in self.text.items():
            for m in WAIT_RE.finditer(text):
                if name_part in m['name'] and float(m['secs']) >= WAIT_MIN:
                    out.setdefault(host, []).append((m['name'], float(m['secs'])))
        return out

    def lock_errors(self) -> dict[str, int]:
        return {n: len(LOCK_ERROR_RE.findall(t)) for n, t in self.text.items()
                if LOCK_ERROR_RE.search(t)}


class MemorySampler:
    """Peak PSS of everything in this network namespace (the QEMU guests included)."""

    def __init__(self, every: float = 5.0) -> None:
        self.peak_kib = 0
        self.every = every
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        me = os.readlink('/proc/self/ns/net')
        while True:
            total = 0
            for pid in filter(str.isdigit, os.listdir('/proc')):
                try:
                    if os.readlink(f'/proc/{pid}/ns/net') != me:
                        continue
                    rollup = Path(f'/proc/{pid}/smaps_rollup').read_text()
                except OSError:
                    continue
                found = re.search(r'^Pss:\s+(\d+)', rollup, re.M)
                total += int(found.group(1)) if found else 0
            self.peak_kib = max(self.peak_kib, total)
            time.sleep(self.every)


class EtcdWatch:
    """etcdctl watch on the lock keys for the whole run: (time, PUT|DELETE, key, value)."""

    def __init__(self, endpoint: str) -> None:
        self.events: list[tuple[float, str, str, str]] = []
        self.proc = subprocess.Popen(
            ['etcdctl', '--endpoints', endpoint, 'watch', '--prefix', LOCK_KEYS, '-w', 'json'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, 'ETCDCTL_API': '3'})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                response = json.loads(line)
            except ValueError:
                continue
            for event in response.get('Events') or []:
                kind = 'DELETE' if event.get('type') in (1, 'DELETE') else 'PUT'
                kv = event.get('kv', {})
                key = base64.b64decode(kv.get('key', '')).decode(errors='replace')
                self.events.append((time.time(), kind, key, kv.get('value', '')))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def between(self, start: float, end: float, key_part: str = '') -> list:
        return [e for e in self.events if start <= e[0] <= end and key_part in e[2]]


def lock_summary(events: list) -> dict:
    """Acquisitions per key, overlapping holders (must be 0), hand-overs to a waiter."""
    holders: dict[str, str] = {}
    last_delete: dict[str, float] = {}
    acquired, overlaps, handovers = Counter(), 0, 0
    for at, kind, key, value in events:
        if kind == 'PUT':
            acquired[key] += 1
            overlaps += key in holders
            # tooz's waiter retries at most 1 s apart: a PUT that soon after a DELETE of the
            # same key is the lock handed to a request that was waiting for it
            handovers += at - last_delete.get(key, -10.0) < 1.2
            holders[key] = value
        else:
            holders.pop(key, None)
            last_delete[key] = at
    return {'keys': len(acquired), 'acquisitions': sum(acquired.values()),
            'max_per_key': max(acquired.values(), default=0), 'overlaps': overlaps,
            'handovers': handovers}


def appliance_vs_cinder(lab: Lab, cinder: Cinder) -> dict[str, list[str]]:
    """Orphans (appliance objects Cinder does not know) and lost volumes (the reverse)."""
    client, prefix = lab.appliance(), lab.backend.get('acme_share_prefix', 'cinder-')
    volumes, snapshots = cinder.volumes(True), cinder.snapshots(True)
    orphans, shares = [], set()
    for share in client.shares.list(pool=lab.backend['acme_pool']):
        name = share['name']
        if not name.startswith(prefix):
            continue
        shares.add(name)
        snaps = client.snapshots.list(share['id'])
        needed = any(s.get('clones') for s in snaps)
        volume_id = name.removeprefix(prefix + 'volume-')
        if (volume_id not in volumes) if name.startswith(prefix + 'volume-') else not needed:
            orphans.append(f'share {name}')
        for snap in snaps:
            sname = snap['name']
            if sname.startswith('snapshot-'):
                known = sname.removeprefix('snapshot-') in snapshots
            elif sname.startswith('cinder-clone-'):
                known = bool(snap.get('clones')) or sname.removeprefix('cinder-clone-') in volumes
            else:
                known = bool(snap.get('clones')) or not sname.startswith('cinder-deleted-')
            if not known:
                orphans.append(f'snapshot {sname} of {name}')
    lost = [v['id'] for v in volumes.values() if v['status'] in ('available', 'in-use')
            and f"{prefix}volume-{v['id']}" not in shares]
    return {'orphans': orphans, 'lost': lost}


# ---------------------------------------------------------------------------------------
# Flows
# ---------------------------------------------------------------------------------------
@dataclass
class Flow:
    name: str
    title: str
    result: str = 'PASS'
    seconds: float = 0.0
    served: list[str] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mounts: dict[str, int] = field(default_factory=dict)
    orphans: int = 0

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.result = 'FAIL'
            self.notes.append(f'FAILED: {what}')


def counts(hosts: list[str]) -> str:
    c = Counter(hosts)
    return ', '.join(f'{h} {n}' for h, n in sorted(c.items()))


class Run:
    def __init__(self, lab: Lab, cinder: Cinder) -> None:
        self.lab, self.cinder = lab, cinder
        self.logs = Logs(lab.volume_hosts)
        self.watch = EtcdWatch(lab.etcd)
        self.flows: list[Flow] = []
        self.volumes: list[str] = []     # every volume this run made (deleted at the end)
        self.create_reqs: dict[str, str] = {}   # volume id -> its create's request id
        self.creators: dict[str, str] = {}      # volume id -> the host that created it
        self.snapshots: list[str] = []
        self.tag = time.strftime('acme-cluster-%H%M%S')
        self.pool = ThreadPoolExecutor(max_workers=24)
        self.connector: dict = {}
        self.cluster_name = ''
        self.burst_ids: list[str] = []
        self.memory = MemorySampler()
        self.quotas: dict = {}  # the project's volume quotas before the run

    # -- helpers ----------------------------------------------------------------------
    def create(self, n: int, label: str, **extra: Any) -> list[tuple[str, str]]:
        """n volumes requested at once: [(id, request id)]."""
        jobs = [self.pool.submit(self.cinder.create_volume, f'{self.tag}-{label}-{i}',
                                 self.lab.volume_type, **extra) for i in range(n)]
        made, refused = [], []
        for job in jobs:  # every accepted create is remembered (and deleted at the end)
            try:
                made.append(job.result())
            except RuntimeError as error:
                refused.append(str(error))
        self.volumes += [vid for vid, _req in made]
        self.create_reqs.update(made)
        if refused:
            raise RuntimeError(f'{len(refused)} of {n} creates refused: {refused[0]}')
        return made

    def created_by(self, volume_id: str) -> str:
        """The host whose log has the volume's create request (read the logs first)."""
        if volume_id not in self.creators:
            host = self.logs.host_of(self.create_reqs.get(volume_id, ''))
            if host == '?':
                return host
            self.creators[volume_id] = host
        return self.creators[volume_id]

    def creators_of(self, ids) -> str:
        self.logs.read()
        return counts([self.created_by(vid) for vid in ids])

    def snapshot(self, n: int, volume_id: str, label: str) -> list[tuple[str, str]]:
        jobs = [self.pool.submit(self.cinder.create_snapshot, f'{self.tag}-{label}-{i}',
                                 volume_id) for i in range(n)]
        made = [j.result() for j in jobs]
        self.snapshots += [sid for sid, _req in made]
        return made

    def delete_volumes(self, ids: list[str]) -> list[str]:
        """DELETE each at once (cascade: its snapshots too); their request ids."""
        jobs = [self.pool.submit(self.cinder.call, 'DELETE', f'/volumes/{i}?cascade=true',
                                 None, (202, 404)) for i in ids]
        return [j.result()[1] for j in jobs]

    def fake_connector(self, n: int) -> dict:
        return {'ip': f'10.123.0.{100 + n}', 'host': f'acme-cluster-fake-{n}',
                'multipath': False, 'platform': 'x86_64', 'os_type': 'linux'}

    def rules(self, volume_id: str) -> list[str]:
        client = self.lab.appliance()
        prefix = self.lab.backend.get('acme_share_prefix', 'cinder-')
        share = client.shares.find(f'{prefix}volume-{volume_id}', self.lab.backend['acme_pool'])
        return [r['clients'] for r in client.shares.get_nfs(share['id']).get('rules') or []]

    def share_id(self, volume_id: str) -> str:
        prefix = self.lab.backend.get('acme_share_prefix', 'cinder-')
        share = self.lab.appliance().shares.find(f'{prefix}volume-{volume_id}',
                                                 self.lab.backend['acme_pool'])
        return share['id']

    def all_mounts(self) -> dict[str, int]:
        return {n: len(driver_mounts(g)) for n, g in self.lab.volume_hosts.items()}

    def settle_mounts(self, timeout: float = 150) -> dict[str, int]:
        """Mounts on the volume hosts, waited for (a host unmounts what another ended at its
        next stats refresh)."""
        return settled(self.all_mounts, lambda mounts: not any(mounts.values()), timeout,
                       interval=10)

    def flow(self, name: str, title: str, body) -> Flow:
        flow = Flow(name, title)
        print(f'== lab-cluster: {name}: {title}', flush=True)
        start = time.time()
        self.logs.mark()
        try:
            body(flow)
        except Exception as error:  # a flow that breaks is reported, the next ones still run
            flow.check(False, f'{type(error).__name__}: {error}')
        self.logs.read()
        for vid in self.create_reqs:
            self.created_by(vid)
        errors = self.logs.lock_errors()
        if name != 'etcd-paused':
            flow.check(not errors, f'lock errors in the logs: {errors}')
        elif errors:
            flow.notes.append(f'lock service errors logged: {errors}')
        flow.mounts = self.settle_mounts()
        flow.check(not any(flow.mounts.values()), f'mounts left {flow.mounts}')
        check = appliance_vs_cinder(self.lab, self.cinder)
        flow.orphans = len(check['orphans']) + len(check['lost'])
        flow.check(flow.orphans == 0, f'appliance and Cinder differ: {check}')
        flow.seconds = time.time() - start
        self.flows.append(flow)
        print(f'   {flow.result} in {flow.seconds:.0f} s', flush=True)
        return flow

    def record_waits(self, flow: Flow, start: float, key_part: str = '') -> None:
        """Lock waits from the logs (per host) and the etcd events of the flow."""
        waits = self.logs.waits()
        for host, items in sorted(waits.items()):
            top = max(items, key=lambda item: item[1])
            flow.waits.append(f'{host}: {len(items)} waits (longest {top[1]:.1f} s on {top[0]})')
        summary = lock_summary(self.watch.between(start, time.time(), key_part))
        flow.waits.append(f"etcd: {summary['acquisitions']} lock acquisitions on "
                          f"{summary['keys']} keys, {summary['handovers']} taken again within "
                          f"1.2 s of their release (a waiter's retry), {summary['overlaps']} "
                          f"overlapping holders")
        flow.check(summary['overlaps'] == 0, 'two holders of one lock key in etcd')

    # -- flow 1 ----------------------------------------------------------------------------
    def burst(self, flow: Flow) -> None:
        start = time.time()
        made = self.create(20, 'burst')
        state = self.cinder.wait([vid for vid, _req in made])
        self.logs.read()
        hosts = [self.created_by(vid) for vid, _req in made]
        flow.served.append(f'create x20 at once: {counts(hosts)}')
        flow.check(all(v and v['status'] == 'available' for v in state.values()),
                   f"not all available: {Counter(v['status'] for v in state.values() if v)}")
        flow.check(len(set(hosts) - {'?'}) == 2, 'the cluster did not use both hosts')
        self.burst_ids = [vid for vid, _req in made]
        self.record_waits(flow, start)

    # -- flow 2 ----------------------------------------------------------------------------
    def clones_and_snapshots(self, flow: Flow) -> None:
        start = time.time()
        source = self.burst_ids[0]
        snaps = self.pool.submit(self.snapshot, 4, source, 'snap')
        clones = self.create(4, 'clone', source_volid=source)
        snaps = snaps.result()
        clone_state = self.cinder.wait([vid for vid, _req in clones])
        snap_state = self.cinder.wait([sid for sid, _req in snaps], 'snapshots')
        self.logs.read()
        flow.served.append('clone x4 at once: '
                           + counts([self.created_by(vid) for vid, _req in clones]))
        flow.served.append('snapshot x4 at once (same source): '
                           + counts([self.logs.host_of(req) for _sid, req in snaps]))
        flow.check(all(v and v['status'] == 'available' for v in clone_state.values()),
                   'a clone is not available')
        flow.check(all(s and s['status'] == 'available' for s in snap_state.values()),
                   'a snapshot is not available')
        served = {self.created_by(vid) for vid, _req in clones} | \
            {self.logs.host_of(req) for _sid, req in snaps}
        flow.check(len(served - {'?'}) == 2, f'not served by both hosts: {served}')
        self.record_waits(flow, start)

    # -- flow 3 ----------------------------------------------------------------------------
    def attach_detach(self, flow: Flow) -> None:
        volume = self.burst_ids[1]
        compute = self.lab.compute
        for attempt in range(1, 9):
            info, req_attach = self.cinder.action(volume, 'os-initialize_connection',
                                                  {'connector': self.connector})
            info = info['connection_info']
            compute.ssh(f'cat > {BRICK}.json', stdin=json.dumps(info))
            py = f'{self.lab.compute_python} {BRICK}'
            connected = json.loads(compute.ssh(f'{py} connect --connection-info {BRICK}.json '
                                               f'--mount-base {BRICK}-mnt'))
            written = json.loads(compute.ssh(
                f"{py} io write --path {connected['path']} --seed {volume} --bytes 1048576",
                check=False))
            rule_attached = self.connector['ip'] in self.rules(volume)
            gone = json.loads(compute.ssh(f'{py} disconnect --connection-info {BRICK}.json '
                                          f'--mount-base {BRICK}-mnt'))
            _data, req_detach = self.cinder.action(volume, 'os-terminate_connection',
                                                   {'connector': self.connector})
            self.logs.read()
            attached_by = self.logs.host_of(req_attach)
            detached_by = self.logs.host_of(req_detach)
            rule_after = self.connector['ip'] in self.rules(volume)
            flow.served.append(f'try {attempt}: initialize_connection {attached_by}, '
                               f'terminate_connection {detached_by} (compute mounted '
                               f"{connected['mounted']}, wrote {written.get('written', '?')} B, "
                               f"rule while attached {rule_attached}, after {rule_after})")
            flow.check(connected['mounted'] and 'error' not in written
                       and not gone['still_mounted'], f'compute side: {connected} {written}')
            flow.check(rule_attached and not rule_after, 'the rule followed the connection')
            if attached_by != detached_by and '?' not in (attached_by, detached_by):
                return
        flow.check(False, 'never saw the attach and the detach on different hosts')

    # -- flow 4 ----------------------------------------------------------------------------
    def same_share(self, flow: Flow) -> None:
        """Rules, clone and delete of one share from both hosts at once."""
        source = self.burst_ids[2]
        share = self.share_id(source)
        first_clone = self.create(1, 'c1', source_volid=source)[0][0]
        self.cinder.wait([first_clone])
        start = time.time()
        inits = [self.pool.submit(self.cinder.action, source, 'os-initialize_connection',
                                  {'connector': self.fake_connector(n)}) for n in range(8)]
        delete_req = self.delete_volumes([first_clone])[0]
        clones = self.create(2, 'c2', source_volid=source)
        init_reqs = [job.result()[1] for job in inits]
        self.cinder.wait([vid for vid, _req in clones] + [first_clone])
        rules = self.rules(source)
        wanted = {self.fake_connector(n)['ip'] for n in range(8)}
        flow.check(wanted <= set(rules), f'rules lost: {sorted(wanted - set(rules))}')
        terms = [self.pool.submit(self.cinder.action, source, 'os-terminate_connection',
                                  {'connector': self.fake_connector(n)}) for n in range(8)]
        term_reqs = [job.result()[1] for job in terms]
        left = wanted & set(self.rules(source))
        flow.check(not left, f'rules left after the terminates: {sorted(left)}')
        self.logs.read()
        flow.served.append('initialize_connection x8 (8 addresses, one share) at once: '
                           + counts([self.logs.host_of(r) for r in init_reqs]))
        flow.served.append('terminate_connection x8 at once: '
                           + counts([self.logs.host_of(r) for r in term_reqs]))
        flow.served.append(f'delete of a clone (collects on the source share): '
                           f'{self.logs.host_of(delete_req)}; clone x2 of the source: '
                           f'{counts([self.created_by(v) for v, _r in clones])}')
        flow.notes.append(f'all 8 rules present after the concurrent attaches, 0 left after '
                          f'the detaches (share {share})')
        self.record_waits(flow, start)
        share_waits = self.logs.waits(f'acme-share-{share}')
        flow.waits.append('share lock acme-share-' + share[:8] + '...: '
                          + (counts([h for h, items in share_waits.items() for _wait in items])
                             or 'no wait seen') + ' waits')
        summary = lock_summary(self.watch.between(start, time.time(), f'acme-share-{share}'))
        flow.waits.append(f"etcd key /tooz/lockscinder-acme-share-{share[:8]}...: "
                          f"{summary['acquisitions']} acquisitions, {summary['handovers']} "
                          f"taken again within 1.2 s of their release, "
                          f"{summary['overlaps']} overlapping")
        flow.check(bool(share_waits) or summary['handovers'] > 0,
                   'no host was seen waiting for the share lock')

    # -- flow 5 ----------------------------------------------------------------------------
    def failover(self, flow: Flow) -> None:
        names = sorted(self.lab.volume_hosts)
        first, second = (self.lab.volume_hosts[n] for n in names)
        first.ssh(f"echo \"acme-lab-cluster: SIGKILL $(date +%s)\" >> {LOG}")
        deletes = self.burst_ids[10:14]
        start = time.time()
        burst = self.pool.submit(self.create, 10, 'failover')
        delete_reqs = self.delete_volumes(deletes)
        burst = burst.result()
        time.sleep(3)
        first.ssh('systemctl kill -s KILL cinder-volume; sleep 1; systemctl stop cinder-volume')
        killed = time.time()
        stale = driver_mounts(first)
        if not stale:  # what crash.yml leaves: a share mounted at the driver's mount point
            stale = [self.leave_mount(first, [vid for vid, _req in burst] + self.burst_ids)]
        flow.served.append(f'burst: create x10 + delete x4; SIGKILL of cinder-volume on '
                           f'{first.name} {killed - start:.0f} s after the first request, '
                           f'{len(stale)} share(s) left mounted there')
        during = self.create(4, 'outage')
        outage = self.cinder.wait([vid for vid, _req in during], timeout=600)
        flow.served.append(f'create x4 while {first.name} is down: '
                           + self.creators_of([vid for vid, _req in during]))
        flow.check(all(v and v['status'] == 'available' and self.created_by(vid) == second.name
                       for vid, v in outage.items()), f'{second.name} did not serve the outage')
        ids = [vid for vid, _req in burst]
        stuck = self.stuck(ids + deletes, settle=120)
        flow.served.append(f'{len(stuck)} request(s) left in a transitional state by the kill: '
                           f'{sorted(stuck.values())}')
        restarted = time.time()
        first.ssh('systemctl start cinder-volume')
        reconciled = self.wait_reconciled(first)
        flow.served.append(f'{first.name} restarted: do_setup unmounted the leftovers '
                           f'{reconciled:.0f} s after the start, '
                           f'mounts now {len(driver_mounts(first))}')
        self.wait_services_up()
        left = self.stuck(ids + deletes, settle=240)
        if left:
            data, _req = self.cinder.call('POST', '/workers/cleanup',
                                          {'cluster_name': self.cluster_name})
            flow.served.append(f'work-cleanup API: cleaning {len(data.get("cleaning", []))}')
            left = self.stuck(ids + deletes, settle=240)
        flow.served.append(f'all settled {time.time() - restarted:.0f} s after the restart '
                           f'({len(left)} still transitional)')
        flow.check(not left, f'stuck: {left}')
        final = self.cinder.volumes()
        lost = [vid for vid in ids if vid not in final]
        flow.served.append(f'the burst ended: '
                           f"{Counter(final[v]['status'] for v in ids if v in final)}, "
                           f'{len(lost)} lost; deletes: {sum(d not in final for d in deletes)}'
                           f'/{len(deletes)} done, served by '
                           + counts([self.logs_host_after(r) for r in delete_reqs]))
        flow.check(not lost, f'lost: {lost}')

    def logs_host_after(self, request_id: str) -> str:
        self.logs.read()
        return self.logs.host_of(request_id)

    def leave_mount(self, host: Guest, candidates: list[str]) -> str:
        """Mount a share exported to ``host`` at the driver's mount point (as crash.yml)."""
        volumes = self.cinder.volumes()
        self.logs.read()
        volume = next(v for v in candidates
                      if v in volumes and self.created_by(v) == host.name
                      and volumes[v]['status'] == 'available')
        prefix = self.lab.backend.get('acme_share_prefix', 'cinder-')
        share = self.lab.appliance().shares.find(f'{prefix}volume-{volume}',
                                                 self.lab.backend['acme_pool'])
        script = ('import sys\nfrom os_brick.remotefs import remotefs\n'
                  'from acme_cinder.options import DEFAULT_NFS_MOUNT_OPTIONS\n'
                  "c = remotefs.RemoteFsClient('nfs', 'sudo', nfs_mount_point_base=sys.argv[2],"
                  ' nfs_mount_options=DEFAULT_NFS_MOUNT_OPTIONS)\n'
                  'c.mount(sys.argv[1])\nprint(c.get_mount_point(sys.argv[1]))\n')
        host.ssh('cat > /tmp/acme-lab-cluster-mount.py', stdin=script)
        return host.ssh(f"/opt/cinder/bin/python /tmp/acme-lab-cluster-mount.py "
                        f"{share['exports'][0]} {MOUNT_BASE}").strip()

    def stuck(self, ids: list[str], settle: float) -> dict[str, str]:
        """{id: status} of the ids still transitional after up to ``settle`` seconds."""
        deadline = time.monotonic() + settle
        while True:
            volumes = self.cinder.volumes()
            busy = {i: volumes[i]['status'] for i in ids
                    if i in volumes and volumes[i]['status'] in BUSY}
            if not busy or time.monotonic() > deadline:
                return busy
            time.sleep(5)

    def wait_reconciled(self, host: Guest, timeout: float = 600) -> float:
        started = time.monotonic()
        while driver_mounts(host):
            if time.monotonic() - started > timeout:
                raise TimeoutError(f'{host.name} kept its stale mounts')
            time.sleep(5)
        text = host.ssh(f"awk '/acme-lab-cluster: SIGKILL/ {{n = 0}} "
                        f"/no local user of this host needs it/ {{n++}} END {{print n + 0}}' {LOG}")
        if int(text.strip() or 0) == 0:
            raise RuntimeError(f'{host.name}: no "Unmounted ... no local user" line after the kill')
        return time.monotonic() - started

    def wait_services_up(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while True:
            services = self.cinder.services()
            if services and all(s['state'] == 'up' for s in services):
                return
            if time.monotonic() > deadline:
                states = [(s['host'], s['state']) for s in services]
                raise TimeoutError(f'services not up: {states}')
            time.sleep(5)

    # -- flow 6 ----------------------------------------------------------------------------
    def etcd_paused(self, flow: Flow, pause: float = 12.0) -> None:
        pid = self.lab.etcd_pid()
        subject, attach, doomed = self.burst_ids[3], self.burst_ids[4], self.burst_ids[5]
        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            jobs = {
                'create x2': self.pool.submit(timed, self.create, 2, 'paused'),
                'snapshot': self.pool.submit(timed, self.snapshot, 1, subject, 'paused'),
                'initialize_connection': self.pool.submit(
                    timed, self.cinder.action, attach, 'os-initialize_connection',
                    {'connector': self.connector}),
                'delete': self.pool.submit(timed, self.delete_volumes, [doomed]),
            }
            time.sleep(max(0.0, pause - (time.monotonic() - stopped)))
        finally:
            os.kill(pid, signal.SIGCONT)
        flow.served.append(f'etcd (pid {pid}) stopped with SIGSTOP for {pause:.0f} s, then SIGCONT')
        results = {name: job.result() for name, job in jobs.items()}
        created = [vid for vid, _req in results['create x2'][0]]
        snap = [sid for sid, _req in results['snapshot'][0]]
        vols = self.cinder.wait(created + [doomed], timeout=600,
                                done=('available', 'error', 'error_deleting'))
        snaps = self.cinder.wait(snap, 'snapshots', timeout=600)
        self.logs.read()
        outcome = {f'create {v[:8]}': (vols[v] or {}).get('status', 'gone') for v in created}
        outcome.update({f'snapshot {s[:8]}': (snaps[s] or {}).get('status', 'gone') for s in snap})
        outcome['delete'] = 'done' if vols[doomed] is None else vols[doomed]['status']
        outcome['initialize_connection'] = (
            f"answered after {results['initialize_connection'][1]:.1f} s by "
            f"{self.logs.host_of(results['initialize_connection'][0][1])}")
        flow.served.append('requests sent while etcd was stopped: '
                           + '; '.join(f'{k}: {v}' for k, v in outcome.items()))
        self.cinder.action(attach, 'os-terminate_connection', {'connector': self.connector})
        failed = [k for k, v in outcome.items() if v in ('error', 'error_deleting')]
        flow.notes.append('the requests waited for etcd and completed' if not failed else
                          f'failed with a clear error: {failed} ({self.logs.lock_errors()})')
        flow.check(all(v not in BUSY for v in outcome.values()), 'a request did not end')
        keys = self.wait_no_lock_keys()
        flow.notes.append(f'lock keys left in etcd after the requests: {len(keys)}')
        flow.check(not keys, f'stale lock keys: {keys}')
        after = self.create(1, 'after')
        after_state = self.cinder.wait([vid for vid, _req in after])
        self.logs.read()
        flow.served.append('create after etcd is back: ' + ', '.join(
            f"{self.created_by(vid)} {v['status']}" for vid, v in after_state.items() if v))
        flow.check(all(v and v['status'] == 'available' for v in after_state.values()),
                   'the service did not resume')
        for vid in created:
            if vols[vid] and vols[vid]['status'] == 'error':
                flow.notes.append(f'volume {vid[:8]} in error (deleted at the end)')

    def wait_no_lock_keys(self, timeout: float = 90) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            keys = self.lab.lock_keys()
            if not keys or time.monotonic() > deadline:
                return keys
            time.sleep(3)

    # -- end -------------------------------------------------------------------------------
    def clean_up(self, flow: Flow) -> None:
        volumes = self.cinder.volumes()
        mine = [v for v in self.volumes if v in volumes]
        snaps = [s for s in self.snapshots if s in self.cinder.snapshots()]
        # clones first: their sources then go at once instead of being hidden first;
        # cascade deletes each volume's snapshots
        clones = [v for v in mine if volumes[v].get('source_volid')]
        for batch in (clones, [v for v in mine if v not in clones]):
            reqs = self.delete_volumes(batch)
            left = self.cinder.wait(batch, done=('error_deleting',))
            flow.check(all(v is None for v in left.values()), f'not deleted: {left}')
            self.logs.read()
            flow.served.append(f'delete x{len(batch)} at once: '
                               + counts([self.logs.host_of(r) for r in reqs]))
        flow.notes.append(f'deleted {len(mine)} volumes and {len(snaps)} snapshots of this run')
        flow.notes.append(f'lock keys in etcd at rest: {len(self.wait_no_lock_keys())}')
        if self.quotas:
            restore_volume_quotas(self.cinder.conn, self.quotas)
            flow.notes.append(f'project volume quotas restored: {self.quotas}')


def prepare(run: Run) -> None:
    """The os-brick helper on the compute host and its connector (as the smoke role)."""
    compute = run.lab.compute
    compute.ssh(f'mkdir -p {BRICK}-mnt && cat > {BRICK}',
                stdin=(REPO / 'roles' / 'smoke' / 'files' / 'acme-smoke-brick').read_text())
    run.connector = json.loads(compute.ssh(
        f'{run.lab.compute_python} {BRICK} connector --ip {compute.address}'))
    services = run.cinder.services()
    hosts = sorted(s['host'] for s in services if s['state'] == 'up')
    clusters = {s.get('cluster') for s in services}
    print(f'== lab-cluster: cinder-volume services up: {hosts}, cluster {clusters}', flush=True)
    if len(hosts) < 2 or len(clusters) != 1 or None in clusters:
        sys.exit('lab-cluster: needs two cinder-volume hosts up in one cluster (make lab)')
    run.cluster_name = clusters.pop()
    run.quotas = lift_volume_quotas(run.cinder.conn)  # Cinder's default allows 10 volumes


def table(run: Run, total: float) -> str:
    lines = [f'acme.nas active-active lab run {run.tag}: {len(run.lab.volume_hosts)} '
             f'cinder-volume hosts in cluster {run.lab.cluster}, locks on etcd {run.lab.etcd}',
             f"{'flow':<22} {'result':<6} {'seconds':>7}  {'mounts left':<28} orphans"]
    for f in run.flows:
        mounts = ' '.join(f'{h}={n}' for h, n in sorted(f.mounts.items()))
        lines.append(f'{f.name:<22} {f.result:<6} {f.seconds:7.0f}  {mounts:<28} {f.orphans}')
    lines.append(f'total {total:.0f} s; peak memory of the lab namespace (PSS, QEMU guests '
                 f'included) during the run: {run.memory.peak_kib / 1024:.0f} MiB')
    for f in run.flows:
        lines.append('')
        lines.append(f'{f.name}: {f.title}')
        lines += [f'  served: {s}' for s in f.served]
        lines += [f'  lock waits: {w}' for w in f.waits] or ['  lock waits: none needed']
        lines += [f'  note: {n}' for n in f.notes]
    return '\n'.join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    ap.add_argument('--state-dir', type=Path, default=REPO / 'lab' / 'state')
    ap.add_argument('--cloud', default='acme-lab')
    args = ap.parse_args()
    os.environ.setdefault('OS_CLIENT_CONFIG_FILE', str(args.state_dir / 'clouds.yaml'))
    lab = Lab.load(args.state_dir)
    run = Run(lab, Cinder(args.cloud))
    started = time.time()
    prepare(run)
    steps = [
        ('burst-create-20', '20 volumes created at once', run.burst),
        ('clones-snapshots', '4 clones and 4 snapshots of one volume at once',
         run.clones_and_snapshots),
        ('attach-detach', 'attach on one host, detach on the other (compute mounts it)',
         run.attach_detach),
        ('one-share-locks', 'rules, clone and delete of one share from both hosts at once',
         run.same_share),
        ('failover-sigkill', 'cinder-volume SIGKILLed on one host in a burst, restarted',
         run.failover),
        ('etcd-paused', 'etcd stopped (SIGSTOP) for 12 s during requests, then SIGCONT',
         run.etcd_paused),
        ('clean-up', 'everything of this run deleted; appliance == Cinder', run.clean_up),
    ]
    for name, title, body in steps:
        run.flow(name, title, body)
    run.watch.stop()
    text = table(run, time.time() - started)
    (args.state_dir / 'cluster-report.txt').write_text(text + '\n')
    print(text)
    return 0 if all(f.result == 'PASS' for f in run.flows) else 1


if __name__ == '__main__':
    sys.exit(main())
