"""Fixtures of the lab's checks: the lab; for the active-active flows (test_cluster.py) one run
of them and the invariants every flow must leave behind (no mount, appliance == Cinder, no lock
error).

Each cluster test is one flow; its table row (result, seconds, mounts left, orphans, what served it,
lock waits) goes to STATE/cluster-report.txt at the end of the session.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from acmelab.appliance import differences
from acmelab.etcd import EtcdWatch
from acmelab.guest import Guest
from acmelab.lab import STATE, Lab
from acmelab.logs import HostLogs
from acmelab.memory import PeakSampler, namespace_inode, namespace_pss_kib
from acmelab.tables import table
from acmelab.waits import settled

BRICK = '/var/lib/acme-lab-cluster/brick'
SMOKE_BRICK = Path(__file__).resolve().parents[2] / 'roles' / 'smoke' / 'files' / 'acme-smoke-brick'
REPORT = STATE / 'cluster-report.txt'
LOCK_ERROR = r'Tooz\w*Error|OperationTimedOut|lock service'


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


@dataclass
class ClusterRun:
    """One run of the flows: what they share and what they made (deleted at the end)."""

    lab: Lab
    compute: Guest
    compute_python: str
    logs: HostLogs
    watch: EtcdWatch
    memory: PeakSampler
    pool: ThreadPoolExecutor
    tag: str = field(default_factory=lambda: time.strftime('acme-cluster-%H%M%S'))
    connector: dict = field(default_factory=dict)
    cluster_name: str = ''
    volumes: list[str] = field(default_factory=list)
    create_reqs: dict[str, str] = field(default_factory=dict)
    creators: dict[str, str] = field(default_factory=dict)
    snapshots: list[str] = field(default_factory=list)
    burst_ids: list[str] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)

    def create(self, n: int, label: str, **extra: object) -> list[tuple[str, str]]:
        """n volumes requested at once: [(id, request id)]; every accepted one remembered."""
        body = {'size': 1, 'volume_type': self.lab.backend.volume_type, **extra}
        jobs = [self.pool.submit(self.lab.cinder.call, 'POST', '/volumes',
                                 {'volume': {'name': f'{self.tag}-{label}-{i}', **body}})
                for i in range(n)]
        made, refused = [], []
        for job in jobs:
            try:
                data, req = job.result()
                made.append((data['volume']['id'], req))
            except RuntimeError as error:
                refused.append(str(error))
        self.volumes += [vid for vid, _req in made]
        self.create_reqs.update(made)
        assert not refused, f'{len(refused)} of {n} creates refused: {refused[0]}'
        return made

    def snapshot(self, n: int, volume_id: str, label: str) -> list[tuple[str, str]]:
        jobs = [self.pool.submit(self.lab.cinder.call, 'POST', '/snapshots',
                                 {'snapshot': {'name': f'{self.tag}-{label}-{i}',
                                               'volume_id': volume_id}}) for i in range(n)]
        made = [(data['snapshot']['id'], req) for data, req in (j.result() for j in jobs)]
        self.snapshots += [sid for sid, _req in made]
        return made

    def delete_volumes(self, ids: list[str]) -> list[str]:
        """DELETE each at once (cascade: its snapshots too); their request ids."""
        jobs = [self.pool.submit(self.lab.cinder.call, 'DELETE', f'/volumes/{i}?cascade=true',
                                 None, (202, 404)) for i in ids]
        return [j.result()[1] for j in jobs]

    def created_by(self, volume_id: str) -> str:
        """The host whose log has the volume's create request (read the logs first)."""
        if volume_id not in self.creators:
            host = self.logs.host_of(self.create_reqs.get(volume_id, ''))
            if host == '?':
                return host
            self.creators[volume_id] = host
        return self.creators[volume_id]

    def served_by(self, request_id: str) -> str:
        self.logs.read()
        return self.logs.host_of(request_id)

    def driver_mounts(self) -> dict[str, int]:
        return {name: len(found) for name, found in self.lab.mounts().items()}


def counts(hosts: list[str]) -> str:
    return ', '.join(f'{h} {n}' for h, n in sorted(Counter(hosts).items()))


def prepare(run: ClusterRun) -> None:
    """The os-brick helper on the compute host and its connector (as the smoke role); the
    cluster's name; two services of the flows' backend up in one cluster, or the run stops
    here."""
    run.compute.ssh(f'mkdir -p {BRICK}-mnt && cat > {BRICK}', stdin=SMOKE_BRICK.read_text())
    run.connector = json.loads(run.compute.ssh(
        f'{run.compute_python} {BRICK} connector --ip {run.compute.address}'))
    # the services of the backend the flows use (host@backend; the lab has more backends)
    services = [s for s in run.lab.cinder.services()
                if s['host'].endswith(f'@{run.lab.backend.name}')]
    hosts = sorted(s['host'] for s in services if s['state'] == 'up')
    clusters = {s.get('cluster') for s in services}
    if len(hosts) < 2 or len(clusters) != 1 or None in clusters:
        pytest.exit(f'needs two cinder-volume hosts of {run.lab.backend.name} up in one '
                    f'cluster, found {hosts} in {clusters} (make lab)', returncode=2)
    run.cluster_name = clusters.pop()


@pytest.fixture(scope='session')
def lab() -> Lab:
    return Lab.open()


@pytest.fixture(scope='session')
def cluster_run(lab: Lab) -> Iterator[ClusterRun]:
    if not (lab.inventory.etcd and lab.inventory.cluster):
        pytest.exit('the lab has no etcd coordination or no cluster (make lab-down; make lab)',
                    returncode=2)
    compute, python = lab.inventory.compute
    inode = namespace_inode()
    started = time.monotonic()
    with (lab.cinder.unlimited_quotas(),  # Cinder's default allows 10 volumes
          EtcdWatch(lab.inventory.etcd) as watch,
          PeakSampler(lambda: namespace_pss_kib(inode)) as memory,
          ThreadPoolExecutor(max_workers=24) as pool):
        logs = HostLogs(lab.guests, [lab.inventory.acme_log]).mark()
        run = ClusterRun(lab, compute, python, logs, watch, memory, pool)
        prepare(run)
        yield run
        left = [v for v in run.volumes if v in lab.cinder.volumes()]
        if left:  # what a failed clean-up flow left behind
            lab.cinder.delete_all(left, 1800)
    REPORT.write_text(report(run, time.monotonic() - started) + '\n')


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    report = yield
    setattr(item, f'report_{report.when}', report)
    return report


@pytest.fixture
def flow(request: pytest.FixtureRequest, cluster_run: ClusterRun) -> Iterator[Flow]:
    """The flow of one test; afterwards (failed or not) its invariants: no lock error in the
    logs (unless the test expects them), no mount left, the appliance as Cinder knows it."""
    run = cluster_run
    doc = (request.node.function.__doc__ or '').strip().splitlines()
    this = Flow(request.node.name.removeprefix('test_').replace('_', '-'), doc[0] if doc else '')
    start = time.time()
    run.logs.mark()
    yield this
    run.logs.read()
    for vid in run.create_reqs:
        run.created_by(vid)
    problems = []
    errors = Counter(host for host, _line in run.logs.lines(LOCK_ERROR))
    if request.node.get_closest_marker('lock_errors_expected'):
        this.notes += [f'lock service errors logged: {dict(errors)}'] if errors else []
    elif errors:
        problems.append(f'lock errors in the logs: {dict(errors)}')
    # a host unmounts what another ended at its next stats refresh
    this.mounts = settled(run.driver_mounts, lambda m: not any(m.values()), 150, interval=10)
    if any(this.mounts.values()):
        problems.append(f'mounts left {this.mounts}')
    found = appliance_vs_cinder(run.lab)
    this.orphans = len(found['orphans']) + len(found['lost'])
    if this.orphans:
        problems.append(f'appliance and Cinder differ: {found}')
    this.seconds = time.time() - start
    call = getattr(request.node, 'report_call', None)
    if (call and call.failed) or problems:
        this.result = 'FAIL'
        this.notes += [f'FAILED: {p}' for p in problems]
    run.flows.append(this)
    assert not problems, '; '.join(problems)


def appliance_vs_cinder(lab: Lab) -> dict[str, list[str]]:
    volumes = {v.id: v.status for v in lab.cinder.volumes(all_projects=True).values()}
    return differences(lab.appliance.holdings(), lab.backend.share_prefix, volumes,
                       lab.cinder.snapshots(all_projects=True))


def report(run: ClusterRun, total: float) -> str:
    inventory = run.lab.inventory
    lines = [f'acme.nas active-active lab run {run.tag}: {len(run.lab.guests)} cinder-volume '
             f'hosts in cluster {inventory.cluster}, locks on etcd {inventory.etcd}']
    lines += table(('flow', 'result', 'seconds', 'mounts left', 'orphans'),
                   [(f.name, f.result, f.seconds,
                     ' '.join(f'{h}={n}' for h, n in sorted(f.mounts.items())), f.orphans)
                    for f in run.flows], floatfmt='.0f', indent='')
    lines.append(f'total {total:.0f} s; peak memory of the lab namespace (PSS, QEMU guests '
                 f'included) during the run: {run.memory.peak / 1024:.0f} MiB')
    for f in run.flows:
        lines += ['', f'{f.name}: {f.title}']
        lines += [f'  served: {s}' for s in f.served]
        lines += [f'  lock waits: {w}' for w in f.waits] or ['  lock waits: none needed']
        lines += [f'  note: {n}' for n in f.notes]
    return '\n'.join(lines)
