"""make lab-bench: the ACME driver side by side with Cinder's generic NFS driver, in the lab.

    lab/bin/lab-bench [--steps setup,clone,images,burst,scale,restart,shared-base,migrate,nfs-stop,
                      teardown] [options]

Runs inside the lab namespace (lab/bin/lab-bench enters it), through Keystone (clouds.yaml,
openstacksdk), against the running lab. Each step saves its figures to lab/state/bench/STEP.json;
the tables of every saved step are printed and written to lab/state/bench-report.txt.

setup     the generic backend: a share of the appliance owned by the cinder user and exported
          to one volume host, lab/playbooks/bench_backend.yml (the production role
          acme.nas.cinder_backend writes its cinder.conf), volume types, both pools up
clone     create_volume_from_snapshot and create_cloned_volume of volumes holding written data
          (--sizes GiB), on both backends: time, t(big)/t(smallest), bytes through the volume
          hosts (NIC counters, block I/O), the appliance's own time for its calls
images    on both backends (image-volume cache on): an empty volume, then --image-volumes from
          one image of each --sizes GiB, one by one: seconds, bytes through the volume hosts,
          mounts left
burst     --burst volumes requested at once on each backend, then --serial one by one
scale     --scale volumes created and deleted (--scale-window at a time) on the ACME backend;
          then 0 mounts at rest and nothing new on the appliance
restart   the appliance container restarted during --restart-burst creates: every volume ends
          available or error, no share Cinder does not know
shared-base  (after setup with --generic-mount-base set to the ACME backend's base) Cinder's
          generic NFS driver has its share mounted for good in the ACME backend's mount base:
          it survives the ACME backend's reconciles (a restart of its cinder-volume, stats
          refreshes) and ACME operations that mount and unmount (create, extend); no
          "Unmounted" line of the ACME driver names it
migrate   a volume of the generic backend holding written data retyped to the ACME backend's
          type with on-demand migration: Cinder's generic, host-assisted copy (dd as root on
          the generic backend's host, the lab's secure NAS mode); the data's checksum on the
          appliance before and after, the time, the mounts left
nfs-stop  ganesha stopped (SIGSTOP) once the appliance has made the share of a new volume,
          before the driver mounts it; resumed once the driver gave up: nfs_mount_attempts
          honoured, a clear error, nothing left
teardown  the generic backend removed again (service, files, share, type); the lab is as before
report    only print the saved tables
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from acmelab.appliance import file_sha256
from acmelab.guest import Guest, moved
from acmelab.lab import STATE, Lab
from acmelab.logs import HostLogs
from acmelab.memory import PeakSampler
from acmelab.playbooks import LAB, run_playbook
from acmelab.tables import table
from acmelab.waits import settled, wait_until

GIB, MIB = 1 << 30, 1 << 20
OUT = STATE / 'bench'
REPORT = STATE / 'bench-report.txt'
GENERIC = 'generic-nfs'            # section, volume_backend_name and volume type
GENERIC_SHARE = 'bench-generic-nfs'
GENERIC_QUOTA = 60 * GIB
CLEANUP_S = 60  # what the driver may take to clean up after a failed create (nfs-stop)
GENERIC_MOUNT_BASE = '/var/lib/cinder/mnt-generic'  # lab/playbooks/bench_backend.yml
STEPS = ('setup', 'clone', 'images', 'burst', 'scale', 'restart', 'shared-base', 'migrate',
         'nfs-stop', 'teardown')
MIGRATE_MIB = 256  # written into the generic volume before it moves
LOCK_WORDS = re.compile(r'lock|Lock|coordination|tooz|deadlock', re.I)
GENERIC_LOG = '/var/log/cinder/cinder-volume-generic-nfs.log'
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


def save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')


def counters(lab: Lab) -> dict[str, dict[str, int]]:
    return {g.name: g.counters() for g in lab.guests}


def generic_host(lab: Lab) -> Guest:
    return lab.guests[0]


def backends(lab: Lab, args: argparse.Namespace) -> list[tuple[str, str]]:
    """(backend, volume type) of the backends --backends names (acme, generic)."""
    known = {'acme': (lab.backend.name, lab.backend.volume_type), 'generic': (GENERIC, GENERIC)}
    return [known[name] for name in args.backends.split(',')]


# --- setup / teardown ---------------------------------------------------------------------

def playbook(lab: Lab, args: argparse.Namespace, state: str, **extra: str) -> None:
    recap = run_playbook(
        LAB / 'playbooks' / 'bench_backend.yml', STATE / 'inventory.yml',
        dict(acme_bench_state=state, acme_bench_host=generic_host(lab).name,
             acme_lab_root=str(LAB.parent), acme_bench_mount_base=args.generic_mount_base,
             **extra),
        OUT / f'playbook-{state}', env={'CONTAINERS_CONF': str(STATE / 'containers.conf')})
    log(f'bench_backend.yml ({state}): {recap}')


def generic_share(lab: Lab) -> dict:
    client, host = lab.appliance.client, generic_host(lab)
    uid, gid = (int(x) for x in host.ssh('id -u cinder; id -g cinder').split())
    # root not squashed: the generic driver's snapshots need file operations as root
    rules = [{'clients': host.address, 'access': 'rw', 'root_squash': False}]
    found = client.shares.find(GENERIC_SHARE, lab.appliance.pool)
    if found is not None:
        client.shares.set_nfs(found['id'], True, rules)
        return client.shares.get(found['id'])
    return client.shares.create(
        GENERIC_SHARE, lab.appliance.pool, quota_bytes=GENERIC_QUOTA,
        nfs={'enabled': True, 'rules': rules}, root={'uid': uid, 'gid': gid, 'mode': '0755'})


def step_setup(lab: Lab, args: argparse.Namespace) -> dict:
    share = generic_share(lab)
    export = share['exports'][0]
    log(f'generic backend share {GENERIC_SHARE}: {export} (quota {GENERIC_QUOTA // GIB} GiB)')
    playbook(lab, args, 'present', acme_bench_export=export)
    lab.cinder.ensure_type(lab.backend.volume_type, lab.backend.name)
    lab.cinder.ensure_type(GENERIC, GENERIC)
    start = time.monotonic()
    wait_until(lambda: lab.cinder.backend_up(GENERIC) and lab.cinder.backend_up(lab.backend.name),
               bool, 900, 'the pools of both backends', interval=5)
    log(f'both pools up ({time.monotonic() - start:.0f} s after the playbook)')
    return dict(export=export, host=generic_host(lab).name,
                machines=[g.machine() for g in lab.guests], host_machine=host_machine())


def cinder_manage(lab: Lab) -> list[str]:
    """cinder-manage of the controller, with its cinder.conf."""
    controller = lab.inventory.controller
    return [f'{controller["acme_lab_controller_venv"]}/bin/cinder-manage', '--config-file',
            controller['acme_lab_controller_cinder_conf']]


def step_teardown(lab: Lab, args: argparse.Namespace) -> dict:
    left = lab.cinder.volumes('bench-')
    if left:
        lab.cinder.delete_all(left, 1800)
    playbook(lab, args, 'absent')
    service = f'{generic_host(lab).name}@{GENERIC}'
    subprocess.run(cinder_manage(lab) + ['service', 'remove', 'cinder-volume', service],
                   capture_output=True, text=True, check=False)
    share = lab.appliance.client.shares.find(GENERIC_SHARE, lab.appliance.pool)
    if share is not None:
        lab.appliance.client.shares.delete(share['id'], recursive=True)
    lab.cinder.delete_type(GENERIC)
    log(f'generic backend removed: service {service}, share {GENERIC_SHARE}, type {GENERIC}')
    return dict(removed=[service, GENERIC_SHARE, GENERIC], volumes_left=len(left))


def host_machine() -> str:
    cpu = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text()
                .splitlines() if line.startswith('model name')), '?')
    mem = int(next(line.split()[1] for line in Path('/proc/meminfo').read_text().splitlines()
                   if line.startswith('MemTotal'))) // 1024 ** 2
    return (f'{os.cpu_count()} vCPU {cpu}, {mem} GiB RAM, Linux {platform.release()}, '
            f'load {os.getloadavg()[0]:.1f}')


# --- clone cost versus size -------------------------------------------------------------------

def write_data(lab: Lab, backend: str, volume_id: str, size_gib: int, where: str) -> float:
    """Fill the volume's file with non-zero data: as the cinder user on a volume host, through
    NFS, or (``where='appliance'``) straight into the appliance's storage at native speed."""
    mib = size_gib * 1024  # full: a share's quota has headroom (acme_share_quota_headroom)
    if where == 'appliance':
        return write_on_appliance(lab, backend, volume_id, mib)
    if backend == GENERIC:
        host = generic_host(lab)
        path = f'{host.nfs_mounts(GENERIC_MOUNT_BASE)[0]}/volume-{volume_id}'
        command = f'runuser -u cinder -- python3 - {path} {mib}'
    else:
        share = lab.appliance.share_of(volume_id)
        clients = {rule['clients'] for rule in share['nfs']['rules']}
        host = next(g for g in lab.guests if g.address in clients)
        export = share['exports'][0]
        command = (f'set -e; d=$(mktemp -d /tmp/acme-bench.XXXXXX); '
                   f'mount -t nfs -o vers=3,proto=tcp {export} $d; '
                   f'runuser -u cinder -- python3 - $d/volume-{volume_id} {mib}; '
                   f'umount $d; rmdir $d')
    start = time.monotonic()
    host.ssh(command, stdin=WRITER, timeout=7200)
    return time.monotonic() - start


def write_on_appliance(lab: Lab, backend: str, volume_id: str, mib: int) -> float:
    share = (lab.appliance.client.shares.find(GENERIC_SHARE, lab.appliance.pool)
             if backend == GENERIC else lab.appliance.share_of(volume_id))
    directory = lab.appliance.share_dir(share['id'])
    block = bytearray(os.urandom(MIB))
    start = time.monotonic()
    with (directory / f'volume-{volume_id}').open('r+b') as out:
        for index in range(mib):
            block[:8] = (index + 1).to_bytes(8, 'little')
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return time.monotonic() - start


def measured_create(lab: Lab, name: str, volume_type: str, size: int, **source: str
                    ) -> tuple[str, dict]:
    for guest in lab.guests:
        guest.drop_caches()
    before = counters(lab)
    offset = lab.appliance.log_offset()
    start = time.monotonic()
    volume_id = lab.cinder.create(name, volume_type, size, **source)
    status = lab.cinder.wait_one(volume_id, timeout=7200).status
    seconds = time.monotonic() - start
    traffic = moved(before, counters(lab))
    calls = lab.appliance.calls_since(offset)
    copies = [c for c in calls if c[0] == 'POST' and
              (c[1].endswith('/shares') or c[1].endswith('/snapshots'))]
    return volume_id, dict(status=status, seconds=seconds, **traffic,
                           appliance_ms=sum(c[3] for c in copies),
                           appliance_calls=[f'{c[0]} {c[1]} {c[2]} {c[3]:.0f}ms' for c in copies])


def clone_one_size(lab: Lab, backend: str, volume_type: str, size: int, where: str) -> dict:
    cloud = lab.cinder
    source = cloud.create(f'bench-clone-src-{backend}-{size}', volume_type, size)
    status = cloud.wait_one(source, 1800).status
    if status != 'available':
        raise RuntimeError(f'{backend}: source volume of {size} GiB is {status}')
    written = write_data(lab, backend, source, size, where)
    log(f'{backend}: {size} GiB written into {source} ({where}) in {written:.0f} s '
        f'({size * 1024 / written:.0f} MiB/s)')
    snapshot = cloud.snapshot(source, f'bench-clone-snap-{backend}-{size}')
    made, row = [], dict(size=size, write_s=written, written_on=where)
    for op, src in (('create_volume_from_snapshot', dict(snapshot_id=snapshot)),
                    ('create_cloned_volume', dict(source_volume_id=source))):
        volume_id, row[op] = measured_create(
            lab, f'bench-clone-{op[:12]}-{backend}-{size}', volume_type, size, **src)
        made.append(volume_id)
        log(f'{backend}: {op} {size} GiB: {row[op]["status"]} in {row[op]["seconds"]:.1f} s, '
            f'host rx {row[op]["rx"] / MIB:.1f} MiB tx {row[op]["tx"] / MIB:.1f} MiB, '
            f'appliance {row[op]["appliance_ms"]:.0f} ms')
    cloud.delete_all(made, 1800)
    cloud.delete_snapshot(snapshot, 1800)
    cloud.delete_all([source], 1800)
    return row


def idle_rate(lab: Lab, seconds: float = 20) -> dict:
    before = counters(lab)
    time.sleep(seconds)
    return {k: v / seconds for k, v in moved(before, counters(lab)).items()}


def earlier(step: str) -> dict:
    """The rows of backends an earlier run of ``step`` measured (a run with --backends keeps
    the other backend's)."""
    path = OUT / f'{step}.json'
    return json.loads(path.read_text()).get('backends', {}) if path.exists() else {}


def step_clone(lab: Lab, args: argparse.Namespace) -> dict:
    result = dict(sizes=args.sizes, idle_per_s=idle_rate(lab), backends=earlier('clone'),
                  appliance_storage=lab.appliance.storage_type())
    for backend, volume_type in backends(lab, args):
        rows = result['backends'][backend] = []
        for size in args.sizes:
            rows.append(clone_one_size(lab, backend, volume_type, size, args.write_on))
            save(OUT / 'clone.json', result)  # what is done so far survives an interruption
    return result


# --- volumes from one image (the image-volume cache) ---------------------------------------------

def image_file(size: int) -> Path:
    """An image of ``size`` GiB of seeded data (no zero block), made once under lab/state."""
    path = OUT / 'images' / f'bench-{size}g.raw'
    if not path.exists() or path.stat().st_size != size * GIB:
        path.parent.mkdir(parents=True, exist_ok=True)
        generator = random.Random(size)
        with path.open('wb') as out:
            for _mib in range(size * 1024):
                out.write(generator.randbytes(MIB))
    return path


def image_volumes(lab: Lab, backend: str, volume_type: str, size: int, count: int) -> dict:
    """An empty volume (the baseline), then ``count`` volumes from one image, one by one."""
    conn = lab.cinder.conn
    image = conn.image.create_image(f'bench-image-{size}g', filename=str(image_file(size)),
                                    disk_format='raw', container_format='bare', wait=True,
                                    timeout=3600)
    empty_id, empty = measured_create(lab, f'bench-empty-{backend}-{size}', volume_type, size)
    made, rows = [empty_id], []
    try:
        for index in range(count):
            volume_id, row = measured_create(lab, f'bench-image-{backend}-{size}-{index}',
                                             volume_type, size, image_id=image.id)
            made.append(volume_id)
            row['mounts_after'] = mounts_at_rest(lab) if backend != GENERIC else None
            rows.append(row)
            log(f'{backend}: volume {index + 1} of a {size} GiB image: {row["status"]} in '
                f'{row["seconds"]:.1f} s, host rx {row["rx"] / MIB:.1f} MiB')
    finally:
        lab.cinder.delete_all(made, 3600)
        lab.cinder.delete_all(lab.cinder.image_cache_entries(image.id), 3600)
        conn.image.delete_image(image, ignore_missing=True)
    return dict(size=size, empty=empty, volumes=rows)


def step_images(lab: Lab, args: argparse.Namespace) -> dict:
    result = dict(sizes=args.sizes, count=args.image_volumes, backends=earlier('images'))
    for backend, volume_type in backends(lab, args):
        rows = result['backends'][backend] = []
        for size in args.sizes:
            rows.append(image_volumes(lab, backend, volume_type, size, args.image_volumes))
            save(OUT / 'images.json', result)
    return result


# --- concurrency --------------------------------------------------------------------------------

def volume_logs(lab: Lab) -> HostLogs:
    """The cinder-volume logs (the ACME and the generic service's) from now on."""
    return HostLogs(lab.guests, [lab.inventory.acme_log, GENERIC_LOG]).mark()


def log_errors(logs: HostLogs) -> tuple[int, int, list[str]]:
    """ERROR lines in the cinder-volume logs since their mark: all, lock-related, samples."""
    logs.read()
    errors = [line for _host, line in logs.lines(' ERROR ')]
    locks = [line for line in errors if LOCK_WORDS.search(line)]
    return len(errors), len(locks), (locks or errors)[:3]


def burst(lab: Lab, backend: str, volume_type: str, count: int, tag: str) -> dict:
    logs = volume_logs(lab)
    names = [f'bench-{tag}-{backend}-{i:03d}' for i in range(count)]
    start = time.monotonic()
    ids = lab.cinder.create_many(names, volume_type)
    sent = time.monotonic() - start
    done = lab.cinder.wait_all(ids, timeout=3600)
    wall = time.monotonic() - start
    statuses = [reached.status for reached in done.values()]
    errors, locks, samples = log_errors(logs)
    deleted, left = lab.cinder.delete_all(ids, 3600)
    last = sent + max((r.seconds for r in done.values()), default=wall - sent)
    return dict(count=count, sent_s=sent, wall_s=last,
                available=statuses.count('available'), error=statuses.count('error'),
                stuck=count - statuses.count('available') - statuses.count('error'),
                log_errors=errors, lock_errors=locks, samples=samples,
                delete_s=deleted, not_deleted=len(left))


def serial(lab: Lab, backend: str, volume_type: str, count: int) -> dict:
    times, ids = [], []
    for index in range(count):
        start = time.monotonic()
        volume_id = lab.cinder.create(f'bench-serial-{backend}-{index:03d}', volume_type)
        status = lab.cinder.wait_one(volume_id, 1800).status
        times.append(time.monotonic() - start)
        ids.append(volume_id)
        if status != 'available':
            log(f'{backend}: serial create {index} ended {status}')
    lab.cinder.delete_all(ids, 1800)
    return dict(count=count, total_s=sum(times), mean_s=sum(times) / count)


def step_burst(lab: Lab, args: argparse.Namespace) -> dict:
    result = dict(burst=args.burst, serial=args.serial, backends=earlier('burst'))
    for backend, volume_type in backends(lab, args):
        row = dict(burst=burst(lab, backend, volume_type, args.burst, 'burst'))
        log(f'{backend}: {args.burst} at once: {row["burst"]}')
        row['serial'] = serial(lab, backend, volume_type, args.serial)
        log(f'{backend}: {args.serial} one by one: {row["serial"]}')
        result['backends'][backend] = row
        save(OUT / 'burst.json', result)
    return result


# --- scale, restart, NFS server stopped ---------------------------------------------------------

def appliance_names(lab: Lab) -> set[str]:
    return {s['name'] for s in lab.appliance.shares()}


def mounts_at_rest(lab: Lab) -> int:
    return sum(len(found) for found in lab.mounts().values())


def db_connections() -> int:
    """Connections the lab's PostgreSQL serves now (its listening end, in this namespace)."""
    out = subprocess.run(['ss', '-Htn', 'state', 'established', '( sport = :5432 )'],
                         capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def appliance_snapshots(lab: Lab) -> int:
    return sum(len(snaps) for snaps in lab.appliance.holdings().values())


def quota_drift(lab: Lab) -> int:
    """Volumes Cinder's quota usage counts for the project beyond those that exist."""
    conn = lab.cinder.conn
    in_use = conn.block_storage.get_quota_set(conn.current_project_id, usage=True).usage
    return in_use['volumes'] - len(lab.cinder.volumes(''))


def quota_sync(lab: Lab) -> str:
    """The operator's repair of drifted quota usage: cinder-manage quota sync."""
    done = subprocess.run(cinder_manage(lab) + ['quota', 'sync', '--project-id',
                                                lab.cinder.conn.current_project_id],
                          capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).strip()[-300:]


def step_scale(lab: Lab, args: argparse.Namespace) -> dict:
    with PeakSampler(db_connections, every=2) as db_peak:
        result = scale(lab, args)
    drift = quota_drift(lab)
    synced = quota_sync(lab) if drift else ''
    return dict(result, db_connections_peak=db_peak.peak, quota_drift=drift,
                quota_sync=synced, quota_drift_after_sync=quota_drift(lab))


def scale(lab: Lab, args: argparse.Namespace) -> dict:
    shares_before, snaps_before = appliance_names(lab), appliance_snapshots(lab)
    logs = volume_logs(lab)
    ids, statuses, start = [], [], time.monotonic()
    for first in range(0, args.scale, args.scale_window):
        names = [f'bench-scale-{i:03d}' for i in range(first, min(args.scale,
                                                                  first + args.scale_window))]
        wave = lab.cinder.create_many(names, lab.backend.volume_type)
        statuses += [r.status for r in lab.cinder.wait_all(wave, 3600).values()]
        ids += wave
        log(f'scale: {len(ids)} created')
    created = time.monotonic() - start
    deleted, left = lab.cinder.delete_all(ids, 3600)
    errors, locks, samples = log_errors(logs)
    new = sorted(appliance_names(lab) - shares_before)
    return dict(count=args.scale, window=args.scale_window, create_s=created,
                available=statuses.count('available'), error=statuses.count('error'),
                delete_s=deleted, not_deleted=len(left), mounts_at_rest=mounts_at_rest(lab),
                new_shares=new, snapshots_delta=appliance_snapshots(lab) - snaps_before,
                log_errors=errors, lock_errors=locks, samples=samples)


def unknown_shares(lab: Lab) -> list[str]:
    """Shares of the ACME backend whose volume Cinder does not know (any status)."""
    known = {v.id for v in lab.cinder.bs.volumes(details=False, all_projects=True)}
    volume_share = re.compile(re.escape(lab.backend.share_prefix) + r'volume-([0-9a-f-]{36})$')
    unknown = []
    for share in lab.appliance.shares():
        match = volume_share.match(share['name'])
        if match and match[1] not in known:
            unknown.append(share['name'])
    return unknown


def step_restart(lab: Lab, args: argparse.Namespace) -> dict:
    offset = lab.appliance.log_offset()
    stop, restarted = threading.Event(), {}

    def restart_when_busy() -> None:
        # restart once a few of the burst's shares are being made
        lab.appliance.calls_logged(offset, r'^POST /api/v1/shares ', 3, 600, stop)
        restarted['at'] = time.monotonic()
        restarted['seconds'] = lab.appliance.restart()

    watcher = threading.Thread(target=restart_when_busy, daemon=True)
    watcher.start()
    start = time.monotonic()
    names = [f'bench-restart-{i:03d}' for i in range(args.restart_burst)]
    ids = lab.cinder.create_many(names, lab.backend.volume_type)
    done = lab.cinder.wait_all(ids, timeout=1800)
    watcher.join(timeout=600)
    statuses = [r.status for r in done.values()]
    unknown = unknown_shares(lab)
    errors = [i for i, r in done.items() if r.status == 'error']
    with_share = [i for i in errors if lab.appliance.share_of(i) is not None]
    deleted, left = lab.cinder.delete_all(ids, 1800)
    unknown_after = unknown_shares(lab)
    return dict(count=args.restart_burst,
                restart_after_s=restarted.get('at', start) - start,
                restart_s=restarted.get('seconds'), wall_s=time.monotonic() - start,
                available=statuses.count('available'), error=statuses.count('error'),
                stuck=len(ids) - statuses.count('available') - statuses.count('error'),
                unknown_shares=unknown, error_volumes_with_share=len(with_share),
                not_deleted=len(left), delete_s=deleted, unknown_after_delete=unknown_after,
                mounts_at_rest=mounts_at_rest(lab))


ACME_UNMOUNTED = re.compile(r'Unmounted (\S+) \((\S+)\): no local user')


def generic_mounts(lab: Lab) -> list[str]:
    """The generic share's mounts on its host (source and target)."""
    out = generic_host(lab).ssh('findmnt -rn -o SOURCE,TARGET -t nfs,nfs4 || true')
    return [line for line in out.splitlines() if f'/{GENERIC_SHARE} ' in line]


def step_shared_base(lab: Lab, args: argparse.Namespace) -> dict:
    host, base = generic_host(lab), lab.backend.mount_base
    if args.generic_mount_base != base:
        raise RuntimeError(f'shared-base needs setup with --generic-mount-base {base}')
    logs = volume_logs(lab)
    generic_id = lab.cinder.create('bench-shared-generic', GENERIC)
    generic_status = lab.cinder.wait_one(generic_id, 900).status
    before = generic_mounts(lab)
    # the ACME backend's reconcile at start, then its own mounts: a create and an extend
    restart_s = time.monotonic()
    host.ssh(f'systemctl restart {lab.inventory.acme_service}')
    wait_until(lambda: lab.cinder.backend_up(lab.backend.name), bool, 900,
               'the ACME pool after the restart', interval=5)
    restart_s = time.monotonic() - restart_s
    acme_id = lab.cinder.create('bench-shared-acme', lab.backend.volume_type)
    acme_status = lab.cinder.wait_one(acme_id, 900).status
    lab.cinder.bs.extend_volume(acme_id, 2)
    time.sleep(75)  # the extend, and one more stats refresh of the ACME backend (60 s)
    extended = lab.cinder.bs.get_volume(acme_id)
    after = generic_mounts(lab)
    logs.read()
    unmounted = [ACME_UNMOUNTED.search(line).groups()
                 for _host, line in logs.lines(ACME_UNMOUNTED)]
    foreign = [u for u in unmounted if GENERIC_SHARE in u[1]]
    deleted, left = lab.cinder.delete_all([generic_id, acme_id], 900)
    result = dict(base=base, generic_volume=generic_status, acme_volume=acme_status,
                  acme_extend=f'{extended.status}, {extended.size} GiB',
                  generic_mounts_before=before,
                  generic_mounts_after=after, acme_restart_s=restart_s,
                  acme_unmounts=len(unmounted), acme_unmounts_of_the_generic_share=foreign,
                  not_deleted=len(left), acme_mounts_at_rest=len(
                      [p for p in host.nfs_mounts(base)
                       if not any(p in line for line in after)]))
    log(f'shared-base: {result}')
    return result


def acme_mounts_at_rest(lab: Lab) -> dict[str, int]:
    """NFS mounts under the ACME backend's base on each volume host, the generic share's
    (when setup put it in the same base) left out."""
    generic = {line.split()[-1] for line in generic_mounts(lab)}
    return {g.name: len([m for m in g.nfs_mounts(lab.backend.mount_base) if m not in generic])
            for g in lab.guests}


def step_migrate(lab: Lab, _args: argparse.Namespace) -> dict:
    """Generic NFS -> ACME by retype with on-demand migration (Cinder's generic migration)."""
    cloud = lab.cinder
    generic_host(lab)  # setup made the generic backend there
    volume_id = cloud.create('bench-migrate', GENERIC)
    status = cloud.wait_one(volume_id, 900).status
    if status != 'available':
        raise RuntimeError(f'migrate: the generic volume is {status}')
    write_on_appliance(lab, GENERIC, volume_id, MIGRATE_MIB)
    source_share = lab.appliance.client.shares.find(GENERIC_SHARE, lab.appliance.pool)
    before = file_sha256(lab.appliance.volume_file(source_share, f'volume-{volume_id}'))
    start = time.monotonic()
    cloud.bs.retype_volume(volume_id, lab.backend.volume_type, migration_policy='on-demand')
    volume = settled(lambda: cloud.bs.get_volume(volume_id),
                     lambda v: v.migration_status in ('success', 'error')
                     and v.status in ('available', 'error'), within=3600, interval=5)
    seconds = time.monotonic() - start
    name_id = volume.migration_id or volume_id
    share = lab.appliance.share_of(name_id)
    after = file_sha256(lab.appliance.volume_file(share, f'volume-{name_id}')) if share else None
    mounts_now = acme_mounts_at_rest(lab)
    # the copy ran on the generic backend's host: the ACME destination stays mounted there (as
    # os-brick leaves it) until the ACME backend's next reconcile on that host
    began = time.monotonic()
    mounts_left = settled(lambda: acme_mounts_at_rest(lab), lambda m: not any(m.values()),
                          within=300, interval=5)
    wait = time.monotonic() - began
    # Cinder deletes the migration's source record itself; a delete meanwhile is refused
    settled(lambda: [v for v in cloud.volumes('bench-migrate', all_projects=True)
                     if v != volume_id], lambda others: not others, within=600, interval=5)
    result = dict(written_mib=MIGRATE_MIB, status=volume.status,
                  migration_status=volume.migration_status, host=volume.host,
                  volume_type=volume.volume_type, seconds=seconds, share=bool(share),
                  checksum_before=before, checksum_after=after,
                  acme_mounts_at_success=mounts_now, acme_mounts_left=mounts_left,
                  mounts_settled_s=wait,
                  secure={k: lab.backend.options.get(k, 'auto') for k in
                          ('nas_secure_file_operations', 'nas_secure_file_permissions')})
    result['not_deleted'] = len(cloud.delete_all([volume_id], 900)[1])
    log(f'migrate: {result}')
    return result


FAILED_MOUNT = re.compile(r'Mount of (\S+) failed after (\d+) attempts: (.*)')


def configured_attempts(lab: Lab) -> int:
    return int(lab.backend.options.get('nfs_mount_attempts', 3))


def failed_mount(logs: HostLogs) -> tuple[str, str] | None:
    """(host, line) of the driver's final mount failure, if a volume host logged one."""
    logs.read()
    found = logs.lines(FAILED_MOUNT)
    return (found[0][0], FAILED_MOUNT.search(found[0][1])[0]) if found else None


def create_attempts(logs: HostLogs, volume_id: str) -> list[str]:
    """The volume hosts that started the create, once per attempt (Cinder reschedules)."""
    logs.read()
    return [host for host, _line in logs.lines(re.escape(f'Volume {volume_id}: being created'))]


def step_nfs_stop(lab: Lab, args: argparse.Namespace) -> dict:
    pid, offset, logs = lab.appliance.ganesha_pid(), lab.appliance.log_offset(), volume_logs(lab)
    stop, stopped = threading.Event(), {}

    def stop_after_share() -> None:
        if lab.appliance.calls_logged(offset, r'^POST /api/v1/shares 201', 1, 600, stop):
            os.kill(pid, signal.SIGSTOP)
            stopped['at'] = time.monotonic()

    watcher = threading.Thread(target=stop_after_share, daemon=True)
    watcher.start()
    start = time.monotonic()
    try:
        volume_id = lab.cinder.create('bench-nfs-stop', lab.backend.volume_type)
        failed = settled(lambda: failed_mount(logs), bool, args.nfs_stop_timeout, interval=2)
        # what the failed attempt left, before ganesha comes back (and Cinder's reschedule);
        # the driver cleans up right after its last attempt: given up to CLEANUP_S for that
        share_at_failure = settled(lambda: lab.appliance.share_of(volume_id),
                                   lambda share: share is None, CLEANUP_S) is not None
        mounts_at_failure = settled(lambda: mounts_at_rest(lab), lambda n: n == 0, CLEANUP_S)
    finally:
        stop.set()
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    status = lab.cinder.wait_one(volume_id, 900).status
    result = dict(configured_attempts=configured_attempts(lab), status=status,
                  stopped_after_s=stopped.get('at', start) - start,
                  failed_after_s=resumed - stopped.get('at', start),
                  host=failed and failed[0], line=failed and failed[1],
                  logged_attempts=int(FAILED_MOUNT.search(failed[1])[2]) if failed else None,
                  share_left=share_at_failure, mounts_left=mounts_at_failure,
                  cinder_attempts=create_attempts(logs, volume_id))
    _deleted, left = lab.cinder.delete_all([volume_id], 900)
    check = lab.cinder.create('bench-nfs-after', lab.backend.volume_type)
    result['after_restart'] = lab.cinder.wait_one(check, 900).status
    lab.cinder.delete_all([check], 900)
    result.update(not_deleted=len(left), mounts_at_end=mounts_at_rest(lab),
                  share_after_delete=lab.appliance.share_of(volume_id) is not None)
    return result


# --- the report -----------------------------------------------------------------------------

def mib(value: float) -> str:
    return f'{value / MIB:,.1f}'


CLONE_OPERATIONS = ('create_volume_from_snapshot', 'create_cloned_volume')


def clone_rows(data: dict) -> list[list[object]]:
    rows = []
    for backend, sizes in data['backends'].items():
        for op in CLONE_OPERATIONS:
            base = sizes[0][op]['seconds']
            rows += [[backend, op, row['size'], row[op]['seconds'], row[op]['seconds'] / base,
                      mib(row[op]['rx']), mib(row[op]['tx']), mib(row[op]['read']),
                      mib(row[op]['written']), row[op]['appliance_ms'] / 1000]
                     for row in sizes]
    return rows


def clone_table(data: dict) -> list[str]:
    idle = data['idle_per_s']
    lines = ['Clone cost versus size (volumes holding written data; time = API request to '
             'available)',
             f'  idle traffic of the volume hosts: rx {idle["rx"] / 1024:.1f} KiB/s, '
             f'tx {idle["tx"] / 1024:.1f} KiB/s, disk written {idle["written"] / 1024:.1f} KiB/s',
             f'  the appliance\'s storage: {data.get("appliance_storage", "not recorded")}']
    lines += table(('backend', 'operation', 'GiB', 'time s', 'ratio', 'NIC rx MiB',
                    'NIC tx MiB', 'disk r MiB', 'disk w MiB', 'appliance s'), clone_rows(data))
    lines.append('  ratio = t(size) / t(smallest size) of the same backend and operation; '
                 'appliance s = the appliance\'s own time for the POST /shares and POST '
                 '.../snapshots of the operation (its request log)')
    for backend, rows in data['backends'].items():
        lines.append(f'  data written per source volume ({backend}): ' + ', '.join(
            f'{r["size"]} GiB in {r["write_s"]:.0f} s on the {r.get("written_on", "host")}'
            for r in rows))
    return lines


def images_table(data: dict) -> list[str]:
    lines = [f'Volumes from one image: an empty volume, then {data["count"]} from the image, one '
             'by one (image-volume cache on; time = API request to available)']
    rows = []
    for backend, sizes in data['backends'].items():
        for entry in sizes:
            empty, volumes = entry['empty']['seconds'], entry['volumes']
            later = volumes[1:] or volumes
            rows.append([backend, entry['size'], empty, volumes[0]['seconds'],
                         sum(v['seconds'] for v in later) / len(later),
                         max(v['seconds'] for v in later) / empty, mib(volumes[0]['rx']),
                         mib(max(v['rx'] for v in later)),
                         sum(v['status'] == 'available' for v in volumes),
                         max((v['mounts_after'] or 0) for v in volumes)])
    lines += table(('backend', 'GiB', 'empty s', '1st s', 'later s (mean)', 'later/empty (max)',
                    '1st rx MiB', 'later rx MiB (max)', 'available', 'mounts'), rows)
    lines.append('  later = the 2nd and following volumes (clones of the cache entry); rx = bytes '
                 'the volume hosts received while one was made (NIC counters)')
    return lines


def burst_table(data: dict) -> list[str]:
    lines = [f'Concurrency: {data["burst"]} volumes requested at once, then {data["serial"]} '
             'one by one (1 GiB each)']
    rows, samples = [], []
    for backend, row in data['backends'].items():
        b, s = row['burst'], row['serial']
        rate, serial_rate = 60 * b['count'] / b['wall_s'], 60 / s['mean_s']
        rows.append([backend, b['wall_s'], b['available'], b['error'], b['stuck'],
                     b['lock_errors'], b['log_errors'], rate, s['mean_s'], serial_rate,
                     f'{rate / serial_rate:.1f}x'])
        samples += [f'    {backend} sample error: {line[:200]}' for line in b['samples']]
    lines += table(('backend', 'wall s', 'avail', 'error', 'stuck', 'lock err', 'ERROR lines',
                    'vol/min', 'serial s/vol', 'serial vol/min', 'speed-up'), rows)
    return lines + samples


def scale_table(data: dict) -> list[str]:
    lines = [f'Scale: {data["count"]} volumes created ({data["window"]} requested at a time) and '
             'deleted through the API, ACME backend',
             f'  created in {data["create_s"]:.0f} s: {data["available"]} available, '
             f'{data["error"]} error; deleted in {data["delete_s"]:.0f} s, {data["not_deleted"]} '
             'left',
             f'  NFS mounts at rest under the mount base: {data["mounts_at_rest"]}; new shares on '
             f'the appliance: {len(data["new_shares"])}; snapshots: {data["snapshots_delta"]:+d}',
             f'  cinder-volume ERROR lines: {data["log_errors"]} (lock-related: '
             f'{data["lock_errors"]}); peak PostgreSQL connections: '
             f'{data.get("db_connections_peak", "not sampled")}',
             f'  Cinder\'s quota usage afterwards: {data.get("quota_drift", "-")} volume(s) '
             'more than exist; after cinder-manage quota sync: '
             f'{data.get("quota_drift_after_sync", "-")}']
    return lines + [f'    sample error: {line[:200]}' for line in data['samples']]


def restart_table(data: dict) -> list[str]:
    return [f'Appliance restarted (podman restart) {data["restart_after_s"]:.1f} s into a burst '
            f'of {data["count"]} creates (API back after {data["restart_s"] or 0:.0f} s)',
            f'  available {data["available"]}, error {data["error"]}, stuck {data["stuck"]} '
            f'(all settled {data["wall_s"]:.0f} s after the first request)',
            f'  shares Cinder does not know: {len(data["unknown_shares"])}; error volumes '
            f'whose share exists: {data["error_volumes_with_share"]}',
            f'  after deleting the {data["count"]}: {data["not_deleted"]} volumes left, '
            f'{len(data["unknown_after_delete"])} unknown shares, '
            f'{data["mounts_at_rest"]} mounts']


def nfs_table(data: dict) -> list[str]:
    hosts = data.get('cinder_attempts', [])
    return [f'NFS server stopped (ganesha SIGSTOPped {data["stopped_after_s"]:.1f} s after the '
            'create request, once the appliance had made the share)',
            f'  nfs_mount_attempts = {data["configured_attempts"]}, attempts logged: '
            f'{data["logged_attempts"]}; the driver gave up {data["failed_after_s"]:.0f} s after '
            'the stop',
            f'  error ({data["host"]}): {(data["line"] or "none logged")[:240]}',
            f'  left by the failed attempt (ganesha still stopped): share '
            f'{"yes" if data["share_left"] else "no"}, mounts {data["mounts_left"]}',
            f'  ganesha resumed: the volume ended {data["status"]} after {len(hosts)} create '
            f'attempt(s) by Cinder ({", ".join(hosts) or "none logged"}); deleted: '
            f'{"no" if data["not_deleted"] else "yes"}, share after the delete: '
            f'{"yes" if data["share_after_delete"] else "no"}, mounts at the end: '
            f'{data.get("mounts_at_end", "-")}; a new volume is {data["after_restart"]}']


def shared_base_table(data: dict) -> list[str]:
    return ['shared mount base: the generic NFS backend in the ACME backend\'s base '
            f'({data["base"]})',
            f'  generic share mounted before / after the ACME reconciles: '
            f'{len(data["generic_mounts_before"])} / {len(data["generic_mounts_after"])}',
            f'  ACME cinder-volume restart: {data["acme_restart_s"]:.0f} s; ACME volume '
            f'{data["acme_volume"]}, extend {data["acme_extend"]}; generic volume '
            f'{data["generic_volume"]}',
            f'  ACME "Unmounted" lines: {data["acme_unmounts"]}, naming the generic share: '
            f'{len(data["acme_unmounts_of_the_generic_share"])}; ACME mounts at rest: '
            f'{data["acme_mounts_at_rest"]}']


def migrate_table(data: dict) -> list[str]:
    same = data['checksum_after'] == data['checksum_before']
    return ['migration generic NFS -> ACME (retype, on-demand; secure NAS mode '
            f'{data["secure"]})',
            f'  {data["written_mib"]} MiB written: {data["status"]}, migration '
            f'{data["migration_status"]} in {data["seconds"]:.0f} s, now on {data["host"]} '
            f'(type {data["volume_type"]})',
            f'  data on the appliance after: {"the same" if same else "DIFFERENT"} '
            f'(sha256 {(data["checksum_after"] or "no share")[:16]}); ACME mounts at success '
            f'{data.get("acme_mounts_at_success")}, {data["acme_mounts_left"]} '
            f'{data.get("mounts_settled_s", 0):.0f} s later; deleted: '
            f'{"no" if data["not_deleted"] else "yes"}']


TABLES = (('clone', clone_table), ('images', images_table), ('burst', burst_table),
          ('scale', scale_table), ('restart', restart_table), ('shared-base', shared_base_table),
          ('migrate', migrate_table), ('nfs-stop', nfs_table))


def report() -> str:
    setup = OUT / 'setup.json'
    lines = [f'make lab-bench report ({time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})']
    if setup.exists():
        data = json.loads(setup.read_text())
        lines += [f'  machine: {data["host_machine"]}'] + [f'  {m}' for m in data['machines']]
        lines.append(f'  generic backend: cinder.volume.drivers.nfs.NfsDriver on {data["export"]} '
                     f'({data["host"]}, its own cinder-volume service)')
    for name, render in TABLES:
        path = OUT / f'{name}.json'
        if path.exists():
            data = json.loads(path.read_text())
            lines += [''] + render(data) + [f'  (measured {data.get("finished", "?")})']
    text = '\n'.join(lines) + '\n'
    REPORT.write_text(text)
    return text


# --- main -----------------------------------------------------------------------------------

RUNNERS = {'setup': step_setup, 'clone': step_clone, 'images': step_images,
           'burst': step_burst, 'scale': step_scale, 'shared-base': step_shared_base,
           'migrate': step_migrate,
           'restart': step_restart, 'nfs-stop': step_nfs_stop, 'teardown': step_teardown}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--steps', default=','.join(STEPS))
    parser.add_argument('--sizes', default='1,4', type=lambda s: [int(x) for x in s.split(',')])
    parser.add_argument('--write-on', choices=('host', 'appliance'), default='host',
                        help='where the clone sources get their data: a volume host over NFS '
                             '(as the cinder user) or the appliance\'s storage directly')
    parser.add_argument('--backends', default='acme,generic',
                        help='clone and burst: which backends (acme, generic)')
    parser.add_argument('--image-volumes', type=int, default=10,
                        help='images: volumes made from one image of each --sizes GiB')
    parser.add_argument('--burst', type=int, default=50)
    parser.add_argument('--serial', type=int, default=10)
    parser.add_argument('--scale', type=int, default=200)
    parser.add_argument('--scale-window', type=int, default=50)
    parser.add_argument('--restart-burst', type=int, default=20)
    parser.add_argument('--nfs-stop-timeout', type=float, default=1800)
    parser.add_argument('--generic-mount-base', default=GENERIC_MOUNT_BASE,
                        help="setup: the generic backend's nfs_mount_point_base (shared-base: "
                             "the ACME backend's, /var/lib/cinder/mnt)")
    return parser.parse_args()


def run_steps(lab: Lab, args: argparse.Namespace, steps: list[str]) -> None:
    for step in steps:
        log(f'== {step}')
        start = time.monotonic()
        result = RUNNERS[step](lab, args)
        result.update(seconds=time.monotonic() - start,
                      finished=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                      load=os.getloadavg()[0])
        save(OUT / f'{step}.json', result)


def main() -> int:
    args = parse_args()
    steps = [s for s in args.steps.split(',') if s and s != 'report']
    unknown = set(steps) - set(RUNNERS)
    if unknown:
        raise SystemExit(f'lab-bench: unknown steps {sorted(unknown)}; known: {", ".join(STEPS)}')
    if steps:
        lab = Lab.open()
        with lab.cinder.unlimited_quotas():  # bursts of 50 and 200 volumes
            run_steps(lab, args, steps)
    print(report(), end='')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
