"""The fault matrix's sweep (issue 14): one appliance call of a driver operation fails at a time.

Each step of a sweep starts from a fresh simulator state and a fresh driver (a new
cinder-volume host), arranges what the operation needs, injects one fault at the n-th REST
call the operation makes, runs it and checks the outcome against a fault-free run. Cinder's
objects keep the same ids in every step, so the appliance's names (shares, snapshots) match
from one step to the next and whole states compare by name.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.polling import wait_until

from acme_cinder import acme_client
from acme_cinder.mounts import MountError
from cinder import exception

REMOTE = {'ip': '10.0.0.9', 'host': 'compute1'}
# The driver's settings in the matrix: quick retries, a read timeout that every answer of the
# in-process simulator meets even on a loaded 2-core machine (0.2 s did not: the calls that
# were not faulted timed out too, under parallel load), and late faults clearly beyond it.
READ_TIMEOUT = 1.0
SETTINGS = dict(acme_retries=2, acme_backoff=0.0, acme_retry_after_max=0.01,
                acme_read_timeout=READ_TIMEOUT)
LATE = READ_TIMEOUT + 0.5  # how late a late request or answer comes


@dataclass(frozen=True)
class Fault:
    spec: dict      # the simulator's fault plan entry
    reason: str     # what the Cinder error it causes must say


# A late answer and a dropped answer come after the appliance did the work; a dropped request
# never reaches it; a late
# request runs on the appliance after the driver gave up on it (or retried it). The simulator
# delays a request before reading its body: once the client has gone, a late request with a
# body (POST, PUT, PATCH) is refused (422); only body-less ones (DELETE, rollback) run late.
UNREACHABLE = 'cannot reach the appliance'
FAULTS: dict[str, Fault] = {
    '503 busy': Fault({'action': 'fail', 'status': 503, 'retry_after': 1}, 'BUSY'),
    'timeout, late answer': Fault({'action': 'delay', 'when': 'after', 'delay': LATE},
                                  UNREACHABLE),
    'timeout, late request': Fault({'action': 'delay', 'delay': LATE}, UNREACHABLE),
    'drop, request': Fault({'action': 'drop'}, UNREACHABLE),
    'drop, answer': Fault({'action': 'drop', 'when': 'after'}, UNREACHABLE),
    '500': Fault({'action': 'fail', 'status': 500}, 'injected fault: INTERNAL'),
}
RAW = (acme_client.AcmeError, MountError, OSError)
TEMPORARY = 'cinder-revert-'  # a revert's clone whose delete failed; the next revert reaps it


@dataclass
class Ids:
    """The Cinder ids of one sweep, the same in every step."""

    vol: str = field(default_factory=lambda: str(uuid.uuid4()))
    other: str = field(default_factory=lambda: str(uuid.uuid4()))
    snap: str = field(default_factory=lambda: str(uuid.uuid4()))
    latest: str = field(default_factory=lambda: str(uuid.uuid4()))
    new_snap: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Factories:
    """The driver fixtures a step builds from."""

    appliance: Any
    make_driver: Callable
    new_volume: Callable
    new_snapshot: Callable
    ctx: Any
    state_root: Path
    mounts_root: Path


@dataclass
class Step:
    """One fresh cinder-volume host on a fresh appliance, with a volume."""

    f: Factories
    ids: Ids
    driver: Any = None
    vol: Any = None

    def volume(self, vol_id: str, create: bool = True) -> Any:
        vol = self.f.new_volume(id=vol_id)
        if create:
            vol.update(self.driver.create_volume(vol))
        return vol

    def snapshot(self, vol: Any, snap_id: str, create: bool = True) -> Any:
        snap = self.f.new_snapshot(vol)
        snap.id = snap_id
        if create:
            snap.update(self.driver.create_snapshot(snap))
        return snap


def new_step(f: Factories, ids: Ids) -> Step:
    f.appliance.reset(Path(tempfile.mkdtemp(dir=f.state_root, prefix='matrix')))
    base = Path(tempfile.mkdtemp(dir=f.mounts_root, prefix='mnt'))
    step = Step(f, ids, f.make_driver(base=base, **SETTINGS))
    step.vol = step.volume(ids.vol)
    return step


def state(step: Step) -> tuple:
    """What an operation may change, by name: shares (quota, NFS rules), snapshots, mounts."""
    shares = sorted((s.name, s.quota_bytes, s.nfs_enabled,
                     tuple(sorted(r.clients for r in s.nfs_rules)))
                    for s in step.f.appliance.shares())
    names = {s.id: s.name for s in step.f.appliance.shares()}
    snapshots = sorted((names[s.share_id], s.name) for s in step.f.appliance.snapshots())
    mounts = sorted(step.driver._remotefsclient.table.values())
    points = sorted(n for n in os.listdir(step.driver.base) if not n.startswith('.'))
    return shares, snapshots, mounts, points


def without_temporary(found: tuple) -> tuple:
    shares, *rest = found
    return ([s for s in shares if not s[0].startswith(TEMPORARY)], *rest)


def fault_hits(appliance: Any) -> int:
    return sum(f['hits'] for f in appliance.call('GET', '/_admin/faults', 200).json()['items'])


# -- the operations: arrange (on a fresh step), then act ----------------------------------------
Act = Callable[[], Any]


def _create(s: Step) -> Act:
    new = s.volume(s.ids.other, create=False)
    return lambda: s.driver.create_volume(new)


def _clone(s: Step) -> Act:
    new = s.volume(s.ids.other, create=False)
    return lambda: s.driver.create_cloned_volume(new, s.vol)


def _from_snapshot(s: Step) -> Act:
    snap, new = s.snapshot(s.vol, s.ids.snap), s.volume(s.ids.other, create=False)
    return lambda: s.driver.create_volume_from_snapshot(new, snap)


def _snapshot(s: Step) -> Act:
    snap = s.snapshot(s.vol, s.ids.new_snap, create=False)
    return lambda: s.driver.create_snapshot(snap)


def _revert_by_copy(s: Step) -> Act:
    """To an older snapshot: the file is copied from it."""
    older = s.snapshot(s.vol, s.ids.snap)
    s.snapshot(s.vol, s.ids.latest)
    return lambda: s.driver.revert_to_snapshot(s.f.ctx, s.vol, older)


def _revert_by_rollback(s: Step) -> Act:
    """To the latest snapshot: the appliance rolls the share back."""
    s.snapshot(s.vol, s.ids.snap)
    latest = s.snapshot(s.vol, s.ids.latest)
    return lambda: s.driver.revert_to_snapshot(s.f.ctx, s.vol, latest)


def _manage(s: Step) -> Act:
    legacy = s.f.appliance.create_share('legacy')
    (s.f.appliance.share_dir(legacy['id']) / 'disk.img').write_bytes(b'x' * 4096)
    new = s.volume(s.ids.other, create=False)
    return lambda: s.driver.manage_existing(new, {'source-name': 'legacy'})


def _manage_snapshot(s: Step) -> Act:
    s.f.appliance.create_snapshot(s.vol.provider_id, 'before')
    snap = s.snapshot(s.vol, s.ids.new_snap, create=False)
    return lambda: s.driver.manage_existing_snapshot(snap, {'source-name': 'before'})


def _delete_volume(s: Step) -> Act:
    return lambda: s.driver.delete_volume(s.vol)


def _delete_snapshot(s: Step) -> Act:
    snap = s.snapshot(s.vol, s.ids.snap)
    return lambda: s.driver.delete_snapshot(snap)


def _initialize(s: Step) -> Act:
    return lambda: s.driver.initialize_connection(s.vol, REMOTE)


def _terminate(s: Step) -> Act:
    s.driver.initialize_connection(s.vol, REMOTE)
    return lambda: s.driver.terminate_connection(s.vol, REMOTE)


OPERATIONS: dict[str, Callable[[Step], Act]] = {
    'create_volume': _create,
    'clone from volume': _clone,
    'clone from snapshot': _from_snapshot,
    'create_snapshot': _snapshot,
    'extend_volume': lambda s: lambda: s.driver.extend_volume(s.vol, 2),
    'revert (file copy)': _revert_by_copy,
    'revert (rollback)': _revert_by_rollback,
    'manage_existing': _manage,
    'manage_existing_snapshot': _manage_snapshot,
    'delete_volume': _delete_volume,
    'delete_snapshot': _delete_snapshot,
    'initialize_connection': _initialize,
    'terminate_connection': _terminate,
}
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')


def _generic(message: str) -> str:
    return UUID.sub('<id>', message)


@dataclass
class Cell:
    """The outcome of one operation under one fault, over every call it makes."""

    calls: int = 0
    retried: int = 0          # the fault hit; the operation succeeded
    errors: int = 0           # a clean Cinder error; the repeat succeeded
    temporary: int = 0        # succeeded, leaving a revert's temporary clone
    messages: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f'{self.retried} ok'] if self.retried else []
        parts += [f'{self.errors} err'] if self.errors else []
        parts += [f'{self.temporary} tmp'] if self.temporary else []
        return f"{self.calls}: " + ', '.join(parts)


@dataclass(frozen=True)
class Reference:
    """An operation without a fault: the Cinder ids, the state after it, its REST calls."""

    ids: Ids
    expected: tuple
    calls: int


_REFERENCES: dict[str, Reference] = {}


def reference(f: Factories, op: str) -> Reference:
    """Run once per operation (the faults of one operation share it: the ids stay)."""
    if op not in _REFERENCES:
        ids = Ids()
        step = new_step(f, ids)
        act = OPERATIONS[op](step)
        f.appliance.calls.clear()
        act()
        _REFERENCES[op] = Reference(ids, state(step), len(f.appliance.calls))
    return _REFERENCES[op]


class Answered:
    """Waits until the appliance has finished every request that arrived since it was made:
    a late request runs after the driver gave up on it, and may leave something behind."""

    def __init__(self, appliance: Any) -> None:
        self.appliance = appliance
        self.calls = len(appliance.calls)
        self.offset = appliance.log_path.stat().st_size

    def wait(self, timeout: float = 30) -> None:
        arrived = len(self.appliance.calls) - self.calls
        # one log line per request, when it ends
        wait_until(lambda: self._finished() >= arrived, timeout, 'the appliance finishing')

    def _finished(self) -> int:
        with open(self.appliance.log_path, 'rb') as log:
            log.seek(self.offset)
            # the fault plan's own calls are not the driver's (their lines may come late too)
            return sum(b' /api/v1/' in line and b'/_admin/' not in line for line in log)


def run_step(f: Factories, op: str, ids: Ids, fault: str, nth: int, cell: Cell,
             expected: tuple) -> bool:
    """Fail the nth call of the operation; check it; False once no call was left to fail."""
    arrange = OPERATIONS[op]
    plan = FAULTS[fault]
    step = new_step(f, ids)
    act = arrange(step)
    before = state(step)
    f.appliance.add_fault(method='*', path='.*', nth=nth, **plan.spec)
    mark = Answered(f.appliance)
    try:
        act()
    except exception.CinderException as error:
        message = str(error)
        assert plan.reason in message and not isinstance(error, RAW), (nth, message)
        mark.wait()
        f.appliance.clear_faults()
        assert state(step) == before, (nth, message)
        act()  # the same user action again
        assert _left_temporary(state(step), expected) is not None, (nth, 'repeat')
        cell.errors += 1
        cell.messages.append(_generic(message))
        return True
    mark.wait()
    if not fault_hits(f.appliance):
        return False
    left = _left_temporary(state(step), expected)
    assert left is not None, (nth, state(step), expected)
    cell.temporary += left
    cell.retried += not left
    return True


def _left_temporary(found: tuple, expected: tuple) -> bool | None:
    """None: not the expected state; True: it is, but for a revert's temporary clone."""
    if found == expected:
        return False
    return True if without_temporary(found) == expected else None


def sweep(f: Factories, op: str, fault: str) -> Cell:
    ref = reference(f, op)
    cell = Cell(calls=ref.calls)
    for nth in range(1, ref.calls + 1):
        hit = run_step(f, op, ref.ids, fault, nth, cell, ref.expected)
        assert hit, (op, fault, nth, 'not hit')
    assert cell.retried + cell.errors + cell.temporary == ref.calls
    return cell


LEGEND = ('A cell: the REST calls of the operation (each failed once in its own run): '
          'n ok = succeeded anyway (retried),\n'
          'n err = a Cinder error giving the reason, nothing left behind, '
          'the repeat succeeded,\n'
          "n tmp = succeeded, leaving a revert's temporary clone the next revert or delete "
          'removes.\nA late or dropped answer comes after the appliance did the work; a dropped '
          'request never reaches it;\na late request runs after the driver gave up on it.')


def table(cells: dict[tuple[str, str], Cell]) -> str:
    """operation x fault -> 'calls: n ok, n err, n tmp', under LEGEND."""
    width = max(len(op) for op in OPERATIONS) + 2
    head = 'operation'.ljust(width) + ''.join(f.ljust(24) for f in FAULTS)
    lines = [LEGEND, '', head, '-' * len(head)]
    for op in OPERATIONS:
        row = [str(cells[op, f]) if (op, f) in cells else 'not run' for f in FAULTS]
        lines.append(op.ljust(width) + ''.join(c.ljust(24) for c in row))
    return '\n'.join(lines)


def error_messages(cells: dict[tuple[str, str], Cell]) -> str:
    """The distinct Cinder errors of each cell (ids replaced by <id>)."""
    lines = []
    for (op, fault), cell in cells.items():
        lines += [f'{op} / {fault}: {m}' for m in dict.fromkeys(cell.messages)]
    return '\n'.join(lines)
