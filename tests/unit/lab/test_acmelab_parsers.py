"""What the lab library reads from text: I/O counters, etcd's watch, lock hand-overs, the
appliance compared with Cinder, tables."""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import subprocess
from pathlib import Path

from acmelab.appliance import differences, file_sha256
from acmelab.etcd import lock_summary, parse_watch_line
from acmelab.guest import Guest, io_counters, moved
from acmelab.tables import table

# /proc/net/dev: two header lines, then "iface: rx-bytes (7 more) tx-bytes (7 more)"
NET_DEV = """Inter-|   Receive |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets ...
    lo: 9000 10 0 0 0 0 0 0 9000 10 0 0 0 0 0 0
  ens3: 1000 5 0 0 0 0 0 0 2000 7 0 0 0 0 0 0
  ens4: 30 1 0 0 0 0 0 0 40 1 0 0 0 0 0 0
"""
DISKSTATS = """ 254       0 vda 100 0 8 10 200 0 16 20 0 30 30
 254       1 vda1 100 0 8 10 200 0 16 20 0 30 30
   7       0 loop0 5 0 99 0 0 0 0 0 0 0 0
  11       0 sr0 1 0 4 0 0 0 0 0 0 0 0
"""


def test_io_counters_sum_the_nics_but_lo_and_the_whole_disks() -> None:
    assert io_counters(NET_DEV, DISKSTATS) == dict(rx=1030, tx=2040, read=8 * 512,
                                                   written=16 * 512)


def test_io_counters_read_this_machine() -> None:
    found = io_counters(Path('/proc/net/dev').read_text(), Path('/proc/diskstats').read_text())
    assert set(found) == {'rx', 'tx', 'read', 'written'}
    assert all(value >= 0 for value in found.values())


def test_moved_adds_every_guest() -> None:
    before = {'a': dict(rx=1, tx=1, read=0, written=0), 'b': dict(rx=5, tx=0, read=1, written=1)}
    after = {'a': dict(rx=4, tx=2, read=0, written=8), 'b': dict(rx=6, tx=0, read=3, written=1)}
    assert moved(before, after) == dict(rx=4, tx=1, read=2, written=8)


def watch_line(*events: tuple[str, str]) -> str:
    return json.dumps({'Events': [
        {'type': kind, 'kv': {'key': base64.b64encode(key.encode()).decode(), 'value': 'x'}}
        for kind, key in events]})


def test_watch_lines_become_events() -> None:
    assert parse_watch_line(watch_line(('PUT', '/tooz/locks/a'), ('DELETE', '/tooz/locks/a')),
                            7.0) == [(7.0, 'PUT', '/tooz/locks/a', 'x'),
                                     (7.0, 'DELETE', '/tooz/locks/a', 'x')]
    assert parse_watch_line('not json', 1.0) == []


def test_lock_summary_counts_handovers_and_overlaps() -> None:
    events = [(0.0, 'PUT', 'k', 'h1'), (1.0, 'DELETE', 'k', ''), (1.5, 'PUT', 'k', 'h2'),
              (2.0, 'DELETE', 'k', ''), (9.0, 'PUT', 'k', 'h1'), (9.5, 'PUT', 'k', 'h2'),
              (3.0, 'PUT', 'j', 'h1')]
    assert lock_summary(events) == dict(keys=2, acquisitions=5, max_per_key=4, overlaps=1,
                                        handovers=1)
    assert lock_summary([])['acquisitions'] == 0


def test_differences_find_orphans_and_lost_volumes() -> None:
    holdings = {
        'cinder-volume-v1': [{'name': 'snapshot-s1'}, {'name': 'snapshot-gone'},
                             {'name': 'cinder-clone-v2'}, {'name': 'cinder-clone-v9'},
                             {'name': 'cinder-deleted-x', 'clones': ['y']}],
        'cinder-volume-v9': [],                            # Cinder has no v9
        'cinder-deleted-v8': [{'name': 'cinder-deleted-v8', 'clones': ['v2']}],  # kept for v2
        'cinder-deleted-v7': [],                           # kept for nothing
    }
    volumes = {'v1': 'available', 'v2': 'in-use', 'v3': 'available', 'v4': 'creating'}
    assert differences(holdings, 'cinder-', volumes, ['s1']) == {
        'orphans': ['snapshot snapshot-gone of cinder-volume-v1',
                    'snapshot cinder-clone-v9 of cinder-volume-v1', 'share cinder-volume-v9',
                    'share cinder-deleted-v7'],
        'lost': ['v2', 'v3']}


def test_tables_align_columns_and_format_floats() -> None:
    lines = table(('backend', 'time s'), [('acme', 1.234), ('generic-nfs', 10.0)])
    assert lines[0].split() == ['backend', 'time', 's']
    assert lines[2].split() == ['acme', '1.2'] and lines[3].split() == ['generic-nfs', '10.0']
    assert len({len(line) for line in lines}) == 1 and all(x.startswith('  ') for x in lines)


def test_file_sha256_reads_the_whole_file_or_its_first_bytes(tmp_path: Path) -> None:
    image = bytes(range(256)) * 8192 + b'tail'  # 2 MiB and 4 bytes: more than one block
    path = tmp_path / 'volume'
    path.write_bytes(image + bytes(1 << 20))
    assert file_sha256(path) == hashlib.sha256(image + bytes(1 << 20)).hexdigest()
    assert file_sha256(path, len(image)) == hashlib.sha256(image).hexdigest()


class ScriptedGuest(Guest):
    """A guest whose ssh answers from a dict of command -> output (no guest needed)."""

    answers: dict = {}

    def ssh(self, command: str, stdin: str | None = None, timeout: float = 900,
            check: bool = True) -> str:
        return self.answers[command]


# lab/inventory.yml.j2's acme_lab_acme_mounts_argv: NFS mount points but the cloud's own generic
# NFS backend's (its shares file)
MOUNTS_AWK = 'NR == FNR {owner[$1]; next} $3 ~ /^nfs/ && !($1 in owner) {print $2}'
ACME_MOUNTS_ARGV = ['awk', MOUNTS_AWK, '/etc/cinder/nfs_shares', '/proc/mounts']


def test_the_inventorys_mounts_command_leaves_out_the_clouds_generic_nfs_shares(
        tmp_path: Path) -> None:
    assert f"- '{MOUNTS_AWK}'" in (Path(__file__).parents[3] / 'lab/inventory.yml.j2').read_text()
    shares, mounts = tmp_path / 'nfs_shares', tmp_path / 'mounts'
    shares.write_text('10.123.0.1:/pool1/owner-nfs-1\n')
    mounts.write_text(
        '/dev/vda1 / ext4 rw 0 0\n'
        '10.123.0.1:/pool1/owner-nfs-1 /var/lib/cinder/mnt/71a8 nfs rw 0 0\n'
        '10.123.0.1:/pool1/cinder-volume-1 /var/lib/cinder/mnt/9c2e nfs rw 0 0\n'
        '10.123.0.1:/pool1/bench-generic-nfs /var/lib/cinder/mnt-generic/ae7c nfs4 rw 0 0\n')
    out = subprocess.run(['awk', MOUNTS_AWK, str(shares), str(mounts)], capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ['/var/lib/cinder/mnt/9c2e', '/var/lib/cinder/mnt-generic/ae7c']


def test_acme_mounts_are_the_inventory_commands_mount_points_under_the_base() -> None:
    base = '/var/lib/cinder/mnt'
    guest = ScriptedGuest('acme-volume-1', '10.123.0.10', 'key')
    guest.answers = {
        'findmnt -rn -o TARGET -t nfs,nfs4 || true':
            f'{base}/71a8\n{base}/9c2e\n{base}-generic/ae7c\n',
        shlex.join(ACME_MOUNTS_ARGV): f'{base}/9c2e\n{base}-generic/ae7c\n',
    }
    assert guest.nfs_mounts(base) == [f'{base}/71a8', f'{base}/9c2e']
    assert guest.acme_mounts(f'{base}/', ACME_MOUNTS_ARGV) == [f'{base}/9c2e']
