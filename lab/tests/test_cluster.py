"""make lab-cluster: the active-active flows on the lab's two cinder-volume hosts, in order
(later flows use the volumes of the first).

Everything goes the operator's way: Cinder through Keystone (clouds.yaml, openstacksdk), the
hosts' logs and mount tables over SSH, etcd's lock keys with etcdctl (a watch runs for the
whole session), the appliance with the collection's client.

Which host served a step: its request id (x-openstack-request-id, carried by the RPC) in that
host's cinder-volume log. Not os-vol-host-attr:host: in a cluster the scheduler writes there
the first host of the cluster, whichever host then takes the message. Lock waits: the DEBUG
lines 'Lock "..." acquired ... :: waited N s' of Cinder's locks and the driver's share locks
(the lab inventory turns them on), and the lock keys' PUT/DELETE events in etcd.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter

import pytest
from acmelab.etcd import etcd_pid, lock_keys, lock_summary
from acmelab.guest import Guest
from acmelab.waits import settled, wait_until
from conftest import BRICK, ClusterRun, Flow, counts

pytestmark = pytest.mark.lab
WAIT = re.compile(r'Lock "(?P<name>[^"]+)" acquired(?: by "(?P<fn>[^"]+)")? :: '
                  r'waited (?P<secs>\d+\.\d+)s')
WAIT_MIN = 0.2  # a wait shorter than this is the cost of asking etcd, not another holder
BUSY = ('creating', 'deleting', 'downloading', 'attaching', 'detaching', 'extending')
KILLED = 'acme-lab-cluster: SIGKILL'


def lock_waits(run: ClusterRun, name_part: str = '') -> dict[str, list[tuple[str, float]]]:
    """{host: [(lock, seconds waited)]} of the waits longer than WAIT_MIN since the mark."""
    out: dict[str, list[tuple[str, float]]] = {}
    for host, line in run.logs.lines(WAIT):
        found = WAIT.search(line)
        if name_part in found['name'] and float(found['secs']) >= WAIT_MIN:
            out.setdefault(host, []).append((found['name'], float(found['secs'])))
    return out


def record_waits(run: ClusterRun, flow: Flow, start: float, key_part: str = '') -> dict:
    """Lock waits from the logs (per host) and the flow's etcd events; no two holders."""
    for host, items in sorted(lock_waits(run).items()):
        top = max(items, key=lambda item: item[1])
        flow.waits.append(f'{host}: {len(items)} waits (longest {top[1]:.1f} s on {top[0]})')
    summary = lock_summary(run.watch.between(start, time.time(), key_part))
    flow.waits.append(f"etcd: {summary['acquisitions']} lock acquisitions on "
                      f"{summary['keys']} keys, {summary['handovers']} taken again within "
                      f"1.2 s of their release (a waiter's retry), {summary['overlaps']} "
                      f"overlapping holders")
    assert summary['overlaps'] == 0, 'two holders of one lock key in etcd'
    return summary


def statuses(reached: dict) -> Counter:
    return Counter(r.status for r in reached.values())


def test_burst_create_20(cluster_run: ClusterRun, flow: Flow) -> None:
    """20 volumes created at once"""
    run, start = cluster_run, time.time()
    made = run.create(20, 'burst')
    state = run.lab.cinder.wait_all([vid for vid, _req in made], 900)
    run.logs.read()
    hosts = [run.created_by(vid) for vid, _req in made]
    flow.served.append(f'create x20 at once: {counts(hosts)}')
    run.burst_ids = [vid for vid, _req in made]
    record_waits(run, flow, start)
    assert statuses(state) == {'available': 20}
    assert len(set(hosts) - {'?'}) == 2, 'the cluster did not use both hosts'


def test_clones_snapshots(cluster_run: ClusterRun, flow: Flow) -> None:
    """4 clones and 4 snapshots of one volume at once"""
    run, start = cluster_run, time.time()
    source = run.burst_ids[0]
    snaps = run.pool.submit(run.snapshot, 4, source, 'snap')
    clones = run.create(4, 'clone', source_volid=source)
    snaps = snaps.result()
    clone_state = run.lab.cinder.wait_all([vid for vid, _req in clones], 900)
    snap_state = run.lab.cinder.wait_all([sid for sid, _req in snaps], 900, kind='snapshots')
    run.logs.read()
    clone_hosts = [run.created_by(vid) for vid, _req in clones]
    snap_hosts = [run.logs.host_of(req) for _sid, req in snaps]
    flow.served += [f'clone x4 at once: {counts(clone_hosts)}',
                    f'snapshot x4 at once (same source): {counts(snap_hosts)}']
    record_waits(run, flow, start)
    assert statuses(clone_state) == {'available': 4}
    assert statuses(snap_state) == {'available': 4}
    assert len(set(clone_hosts + snap_hosts) - {'?'}) == 2, 'not served by both hosts'


def attach_once(run: ClusterRun, volume: str) -> tuple[str, str, dict]:
    """initialize_connection, the compute host mounting and writing, terminate_connection:
    (host that attached, host that detached, what the compute host and the rules saw)."""
    cinder, compute = run.lab.cinder, run.compute
    info, req_attach = cinder.action(volume, 'os-initialize_connection',
                                     {'connector': run.connector})
    compute.ssh(f'cat > {BRICK}.json', stdin=json.dumps(info['connection_info']))
    brick = f'{run.compute_python} {BRICK}'
    mount = f'--connection-info {BRICK}.json --mount-base {BRICK}-mnt'
    connected = json.loads(compute.ssh(f'{brick} connect {mount}'))
    written = json.loads(compute.ssh(
        f"{brick} io write --path {connected['path']} --seed {volume} --bytes 1048576",
        check=False))
    rule_attached = run.connector['ip'] in run.lab.appliance.rules(volume)
    gone = json.loads(compute.ssh(f'{brick} disconnect {mount}'))
    _data, req_detach = cinder.action(volume, 'os-terminate_connection',
                                      {'connector': run.connector})
    seen = dict(mounted=connected['mounted'], written=written.get('written'),
                error=written.get('error'), still_mounted=gone['still_mounted'],
                rule_attached=rule_attached,
                rule_after=run.connector['ip'] in run.lab.appliance.rules(volume))
    return run.served_by(req_attach), run.logs.host_of(req_detach), seen


def test_attach_detach(cluster_run: ClusterRun, flow: Flow) -> None:
    """attach on one host, detach on the other (compute mounts it)"""
    run, volume = cluster_run, cluster_run.burst_ids[1]
    for attempt in range(1, 9):
        attached_by, detached_by, seen = attach_once(run, volume)
        flow.served.append(f'try {attempt}: initialize_connection {attached_by}, '
                           f'terminate_connection {detached_by} ({seen})')
        assert seen['mounted'] and not seen['error'] and not seen['still_mounted'], seen
        assert seen['rule_attached'] and not seen['rule_after'], 'the rule did not follow'
        if attached_by != detached_by and '?' not in (attached_by, detached_by):
            return
    pytest.fail('never saw the attach and the detach on different hosts in 8 tries')


def fake_connector(n: int) -> dict:
    return {'ip': f'10.123.0.{100 + n}', 'host': f'acme-cluster-fake-{n}',
            'multipath': False, 'platform': 'x86_64', 'os_type': 'linux'}


def test_one_share_locks(cluster_run: ClusterRun, flow: Flow) -> None:
    """rules, clone and delete of one share from both hosts at once"""
    run, cinder = cluster_run, cluster_run.lab.cinder
    source = run.burst_ids[2]
    share = run.lab.appliance.share_of(source)['id']
    first_clone = run.create(1, 'c1', source_volid=source)[0][0]
    cinder.wait_all([first_clone], 900)
    start = time.time()
    inits = [run.pool.submit(cinder.action, source, 'os-initialize_connection',
                             {'connector': fake_connector(n)}) for n in range(8)]
    delete_req = run.delete_volumes([first_clone])[0]
    clones = run.create(2, 'c2', source_volid=source)
    init_reqs = [job.result()[1] for job in inits]
    cinder.wait_all([vid for vid, _req in clones] + [first_clone], 900)
    wanted = {fake_connector(n)['ip'] for n in range(8)}
    lost = wanted - set(run.lab.appliance.rules(source))
    terms = [run.pool.submit(cinder.action, source, 'os-terminate_connection',
                             {'connector': fake_connector(n)}) for n in range(8)]
    term_reqs = [job.result()[1] for job in terms]
    left = wanted & set(run.lab.appliance.rules(source))
    run.logs.read()
    flow.served += [
        'initialize_connection x8 (8 addresses, one share) at once: '
        + counts([run.logs.host_of(r) for r in init_reqs]),
        'terminate_connection x8 at once: ' + counts([run.logs.host_of(r) for r in term_reqs]),
        f'delete of a clone (collects on the source share): {run.logs.host_of(delete_req)}; '
        f'clone x2 of the source: {counts([run.created_by(v) for v, _r in clones])}']
    record_waits(run, flow, start)
    share_waits = lock_waits(run, f'acme-share-{share}')
    flow.waits.append(f'share lock acme-share-{share[:8]}...: '
                      + (counts([h for h, items in share_waits.items() for _w in items])
                         or 'no wait seen') + ' waits')
    summary = lock_summary(run.watch.between(start, time.time(), f'acme-share-{share}'))
    flow.waits.append(f"etcd key /tooz/lockscinder-acme-share-{share[:8]}...: "
                      f"{summary['acquisitions']} acquisitions, {summary['handovers']} taken "
                      f"again within 1.2 s of their release, {summary['overlaps']} overlapping")
    assert not lost, f'rules lost: {sorted(lost)}'
    assert not left, f'rules left after the terminates: {sorted(left)}'
    assert share_waits or summary['handovers'] > 0, 'no host was seen waiting for the share lock'


def leave_mount(run: ClusterRun, host: Guest, candidates: list[str]) -> str:
    """Mount a share exported to ``host`` at the driver's mount point (as crash.yml does)."""
    volumes = run.lab.cinder.volumes()
    run.logs.read()
    volume = next(v for v in candidates if v in volumes and volumes[v].status == 'available'
                  and run.created_by(v) == host.name)
    share = run.lab.appliance.share_of(volume)
    script = ('import sys\nfrom os_brick.remotefs import remotefs\n'
              'from acme_cinder.options import DEFAULT_NFS_MOUNT_OPTIONS\n'
              "c = remotefs.RemoteFsClient('nfs', 'sudo', nfs_mount_point_base=sys.argv[2],"
              ' nfs_mount_options=DEFAULT_NFS_MOUNT_OPTIONS)\n'
              'c.mount(sys.argv[1])\nprint(c.get_mount_point(sys.argv[1]))\n')
    host.ssh('cat > /tmp/acme-lab-cluster-mount.py', stdin=script)
    return host.ssh(f"/opt/cinder/bin/python /tmp/acme-lab-cluster-mount.py "
                    f"{share['exports'][0]} {run.lab.backend.mount_base}").strip()


def transitional(run: ClusterRun, ids: list[str], within: float) -> dict[str, str]:
    """{id: status} of the ids still transitional after up to ``within`` seconds."""
    def busy() -> dict[str, str]:
        volumes = run.lab.cinder.volumes()
        return {i: volumes[i].status for i in ids
                if i in volumes and volumes[i].status in BUSY}
    return settled(busy, lambda found: not found, within, interval=5)


def unmounted_after_kill(host: Guest, log: str) -> int:
    """The driver's 'no local user' unmount lines logged after the kill's mark."""
    return int(host.ssh(f"awk '/{KILLED}/ {{n = 0}} /no local user of this host needs it/ "
                        f"{{n++}} END {{print n + 0}}' {log}").strip() or 0)


def test_failover_sigkill(cluster_run: ClusterRun, flow: Flow) -> None:
    """cinder-volume SIGKILLed on one host in a burst, restarted"""
    run, cinder = cluster_run, cluster_run.lab.cinder
    first, second = (g for g in sorted(run.lab.guests, key=lambda g: g.name))
    service, log = run.lab.inventory.acme_service, run.lab.inventory.acme_log
    first.ssh(f'echo "{KILLED} $(date +%s)" >> {log}')
    deletes = run.burst_ids[10:14]
    start = time.time()
    burst = run.pool.submit(run.create, 10, 'failover')
    delete_reqs = run.delete_volumes(deletes)
    ids = [vid for vid, _req in burst.result()]
    time.sleep(3)
    first.ssh(f'systemctl kill -s KILL {service}; sleep 1; systemctl stop {service}')
    killed = time.time()
    stale = first.nfs_mounts(run.lab.backend.mount_base) or [
        leave_mount(run, first, ids + run.burst_ids)]  # what a killed operation leaves
    flow.served.append(f'burst: create x10 + delete x4; SIGKILL of {service} on '
                       f'{first.name} {killed - start:.0f} s after the first request, '
                       f'{len(stale)} share(s) left mounted there')
    during = [vid for vid, _req in run.create(4, 'outage')]
    outage = cinder.wait_all(during, 600)
    run.logs.read()
    flow.served.append(f'create x4 while {first.name} is down: '
                       + counts([run.created_by(v) for v in during]))
    assert statuses(outage) == {'available': 4}
    assert {run.created_by(v) for v in during} == {second.name}, 'the outage not served'
    stuck = transitional(run, ids + deletes, 120)
    flow.served.append(f'{len(stuck)} request(s) left in a transitional state by the kill: '
                       f'{sorted(stuck.values())}')
    restarted = time.monotonic()
    first.ssh(f'systemctl start {service}')
    # the end condition is the state: the killed operation's mount gone, the service up
    wait_until(lambda: first.nfs_mounts(run.lab.backend.mount_base), lambda m: not m, 600,
               f'{first.name} unmounting its stale mounts', interval=5)
    flow.served.append(f'{first.name} restarted: its leftovers unmounted '
                       f'{time.monotonic() - restarted:.0f} s after the start '
                       f'({unmounted_after_kill(first, log)} "no local user" line(s))')
    wait_until(cinder.services, lambda s: s and all(x['state'] == 'up' for x in s), 600,
               'every cinder-volume service up', interval=5)
    left = transitional(run, ids + deletes, 240)
    if left:
        data, _req = cinder.call('POST', '/workers/cleanup', {'cluster_name': run.cluster_name})
        flow.served.append(f'work-cleanup API: cleaning {len(data.get("cleaning", []))}')
        left = transitional(run, ids + deletes, 240)
    # A cast the killed process had taken off the cluster's queue is gone with it
    # (oslo.messaging acknowledges a message before the manager runs it): that volume stays
    # 'creating', without a worker entry for Cinder's cleanup and without a share. What the
    # driver must prove is that nothing of it exists on the appliance; the operator's way out
    # (reset-state to error, delete) must then leave nothing either.
    lost_casts = sorted(v for v, status in left.items()
                        if status == 'creating' and run.lab.appliance.share_of(v) is None)
    for vid in lost_casts:
        cinder.call('POST', f'/volumes/{vid}/action', {'os-reset_status': {'status': 'error'}},
                    (202,))
        left.pop(vid)
    flow.served.append(f'all settled {time.monotonic() - restarted:.0f} s after the restart '
                       f'({len(left)} still transitional; {len(lost_casts)} create(s) whose '
                       'cast the killed process had taken: no share on the appliance, reset '
                       'to error and deleted with the rest)')
    final = cinder.volumes()
    lost = [vid for vid in ids if vid not in final]
    flow.served.append(f'the burst ended: {Counter(final[v].status for v in ids if v in final)}'
                       f', {len(lost)} lost; deletes: {sum(d not in final for d in deletes)}/'
                       f'{len(deletes)} done, served by '
                       + counts([run.served_by(r) for r in delete_reqs]))
    assert not left, f'stuck: {left}'
    assert not lost, f'lost: {lost}'


@pytest.mark.lock_errors_expected
def test_etcd_paused(cluster_run: ClusterRun, flow: Flow) -> None:
    """etcd stopped (SIGSTOP) for 12 s during requests, then SIGCONT"""
    run, cinder, pause = cluster_run, cluster_run.lab.cinder, 12.0
    pid = etcd_pid(run.lab.inventory.supervisor_conf)
    subject, attach, doomed = run.burst_ids[3], run.burst_ids[4], run.burst_ids[5]
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        creates = run.pool.submit(run.create, 2, 'paused')
        snapshot = run.pool.submit(run.snapshot, 1, subject, 'paused')
        init = run.pool.submit(cinder.action, attach, 'os-initialize_connection',
                               {'connector': run.connector})
        delete = run.pool.submit(run.delete_volumes, [doomed])
        time.sleep(max(0.0, pause - (time.monotonic() - stopped)))
    finally:
        os.kill(pid, signal.SIGCONT)
    flow.served.append(f'etcd (pid {pid}) stopped with SIGSTOP for {pause:.0f} s, then SIGCONT')
    init_req = init.result()[1]
    answered = time.monotonic() - stopped
    created = [vid for vid, _req in creates.result()]
    snap = [sid for sid, _req in snapshot.result()]
    delete.result()
    vols = cinder.wait_all(created + [doomed], 600, done=('available', 'error', 'error_deleting'))
    snaps = cinder.wait_all(snap, 600, kind='snapshots')
    outcome = {f'create {v[:8]}': vols[v].status or 'gone' for v in created}
    outcome |= {f'snapshot {s[:8]}': snaps[s].status or 'gone' for s in snap}
    outcome['delete'] = vols[doomed].status or 'done'
    flow.served.append('requests sent while etcd was stopped: '
                       + '; '.join(f'{k}: {v}' for k, v in outcome.items())
                       + f'; initialize_connection answered within {answered:.1f} s by '
                       + run.served_by(init_req))
    cinder.action(attach, 'os-terminate_connection', {'connector': run.connector})
    failed = [k for k, v in outcome.items() if v in ('error', 'error_deleting')]
    flow.notes.append(f'failed with a clear error: {failed}' if failed
                      else 'the requests waited for etcd and completed')
    keys = settled(lambda: lock_keys(run.lab.inventory.etcd), lambda k: not k, 90, interval=3)
    flow.notes.append(f'lock keys left in etcd after the requests: {len(keys)}')
    after = [vid for vid, _req in run.create(1, 'after')]
    after_state = cinder.wait_all(after, 900)
    run.logs.read()
    flow.served.append('create after etcd is back: ' + ', '.join(
        f'{run.created_by(v)} {r.status}' for v, r in after_state.items()))
    assert all(v not in BUSY for v in outcome.values()), f'a request did not end: {outcome}'
    assert not keys, f'stale lock keys: {keys}'
    assert statuses(after_state) == {'available': 1}, 'the service did not resume'


def test_clean_up(cluster_run: ClusterRun, flow: Flow) -> None:
    """everything of this run deleted; appliance == Cinder"""
    run, cinder = cluster_run, cluster_run.lab.cinder
    volumes = cinder.volumes()
    mine = [v for v in run.volumes if v in volumes]
    # clones first: their sources then go at once instead of being hidden first; cascade
    # deletes each volume's snapshots
    clones = [v for v in mine if volumes[v].source_volume_id]
    for batch in (clones, [v for v in mine if v not in clones]):
        reqs = run.delete_volumes(batch)
        left = cinder.wait_all(batch, 900, done=('error_deleting',))
        run.logs.read()
        flow.served.append(f'delete x{len(batch)} at once: '
                           + counts([run.logs.host_of(r) for r in reqs]))
        assert all(r.status is None for r in left.values()), f'not deleted: {left}'
    keys = settled(lambda: lock_keys(run.lab.inventory.etcd), lambda k: not k, 90, interval=3)
    flow.notes += [f'deleted {len(mine)} volumes of this run (their snapshots with them)',
                   f'lock keys in etcd at rest: {len(keys)}']
