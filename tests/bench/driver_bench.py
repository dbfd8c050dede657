"""Benchmark (not a test): the Cinder driver at host level (issue 14).

The real driver against the real simulator served over HTTPS on loopback in this process (the
unit tier's appliance), with a real sqlite Cinder database; only the kernel NFS mount is a
symlink (tests/unit/driver). Prints two tables:

1. get_volume_stats (refresh) time with 10, 100 and 1,000 volumes on the backend: median of
   repeated calls; it must stay flat.
2. REST calls and mounts per driver operation, for every operation: what one call of the
   operation costs on a fresh backend holding what it needs (a volume, its snapshots, ...).

Run: .venv/bin/python tests/bench/driver_bench.py (make bench runs it).
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

warnings.simplefilter('ignore')  # eventlet's and alembic's notices at import: the tables only
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / 'tests' / 'unit' / 'driver')]
from tests.support.collection import collections_path  # noqa: E402

collections_path()
import conftest as driver_tier  # noqa: E402  (tests/unit/driver: build_driver)
import fault_sweep  # noqa: E402
from driver_helpers import GROUP, HOST, MY_IP  # noqa: E402
from oslo_config import cfg  # noqa: E402

from tests.bench.lookup_bench import median_ms  # noqa: E402
from tests.support import cinder_runtime  # noqa: E402
from tests.support.appliance import GIB, Appliance  # noqa: E402
from tests.support.cinder_objects import make_snapshot, make_volume  # noqa: E402

from cinder import context  # noqa: E402

SIZES = (10, 100, 1000)
REPEAT = 30
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')


def stats_table(sim: Appliance, tmp: Path) -> None:
    """Volumes are shares named as the driver names them (created through the API: quicker)."""
    drv = driver_tier.build_driver(sim.reset(tmp / 'stats'), tmp / 'mnt-stats')
    count = 0
    print('get_volume_stats(refresh=True) with N volumes on the backend')
    print(f'{"volumes":>8} {"median ms":>10} {"REST calls":>11}')
    for size in SIZES:
        while count < size:
            sim.create_share(f'cinder-volume-{uuid.uuid4()}', quota_bytes=GIB)
            count += 1
        drv.get_volume_stats(refresh=True)  # warm
        sim.calls.clear()
        drv.get_volume_stats(refresh=True)
        calls = len(sim.calls)
        print(f'{size:>8} {median_ms(lambda: drv.get_volume_stats(refresh=True), REPEAT):>10.2f} '
              f'{calls:>11}')


def _shape(call) -> str:
    """'GET /shares?name,pool' (ids and query values left out)."""
    query = ','.join(part.split('=')[0] for part in call.query.split('&') if part)
    return f'{call.method} {UUID.sub("{id}", call.path)}' + (f'?{query}' if query else '')


def _force_detach(s: fault_sweep.Step) -> Callable:
    s.driver.initialize_connection(s.vol, fault_sweep.REMOTE)
    return lambda: s.driver.terminate_connection(s.vol, None, force=True)


def _manage_get_size(s: fault_sweep.Step) -> Callable:
    fault_sweep.OPERATIONS['manage_existing'](s)  # the foreign share 'legacy'
    new = s.volume(s.ids.new_snap, create=False)
    return lambda: s.driver.manage_existing_get_size(new, {'source-name': 'legacy'})


def _unmanage_snapshot(s: fault_sweep.Step) -> Callable:
    snap = s.snapshot(s.vol, s.ids.snap)
    return lambda: s.driver.unmanage_snapshot(snap)


def _manageable(kind: str) -> Callable:
    return lambda s: lambda: getattr(s.driver, f'get_manageable_{kind}')(
        [], None, 10, 0, ['size'], ['asc'])


# Operations beyond the fault matrix's (fault_sweep.OPERATIONS): arrange -> act.
EXTRA: dict[str, Callable] = {
    'get_volume_stats': lambda s: lambda: s.driver.get_volume_stats(refresh=True),
    'force detach': _force_detach,
    'create_export': lambda s: lambda: s.driver.create_export(s.f.ctx, s.vol, fault_sweep.REMOTE),
    'ensure_export': lambda s: lambda: s.driver.ensure_export(s.f.ctx, s.vol),
    'remove_export': lambda s: lambda: s.driver.remove_export(s.f.ctx, s.vol),
    'manage_existing_get_size': _manage_get_size,
    'unmanage': lambda s: lambda: s.driver.unmanage(s.vol),
    'unmanage_snapshot': _unmanage_snapshot,
    'get_manageable_volumes': _manageable('volumes'),
    'get_manageable_snapshots': _manageable('snapshots'),
}


def calls_table(factories: fault_sweep.Factories) -> None:
    print('\nREST calls and mounts per driver operation (login and set-up excluded)')
    width = max(map(len, [*fault_sweep.OPERATIONS, *EXTRA])) + 2
    print(f'{"operation".ljust(width)}{"calls":>6}{"writes":>7}{"mounts":>7}  the calls')
    for name, arrange in {**fault_sweep.OPERATIONS, **EXTRA}.items():
        step = fault_sweep.new_step(factories, fault_sweep.Ids())
        act = arrange(step)
        mounts = step.driver._remotefsclient.mount_calls
        factories.appliance.calls.clear()
        before = len(mounts)
        act()
        calls = factories.appliance.calls
        writes = sum(c.method != 'GET' for c in calls)
        shapes = ', '.join(_shape(c) for c in calls) or '-'
        print(f'{name.ljust(width)}{len(calls):>6}{writes:>7}{len(mounts) - before:>7}  {shapes}')


def main() -> None:
    logging.disable(logging.CRITICAL)  # the tables only
    with tempfile.TemporaryDirectory(dir='/dev/shm' if Path('/dev/shm').is_dir() else None) \
            as name:
        tmp = Path(name)
        (tmp / 'cinder').mkdir()
        cinder_runtime.start(tmp / 'cinder')
        cfg.CONF.set_override('my_ip', MY_IP)
        cfg.CONF.set_override('host', HOST)
        sim = Appliance(tmp / 'tls').start()
        try:
            stats_table(sim, tmp)
            ctx = context.get_admin_context()
            factories = fault_sweep.Factories(
                sim, lambda **kw: driver_tier.build_driver(sim, **kw),
                lambda **kw: make_volume(ctx, GROUP, **kw), lambda vol: make_snapshot(ctx, vol),
                ctx, tmp, tmp)
            calls_table(factories)
        finally:
            sim.stop()
            cinder_runtime.stop()


if __name__ == '__main__':
    main()
