"""A guest of the lab (volume or compute host), reached over SSH with its pinned host key."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

# whole disks, not their partitions (vda, not vda1): a partition's I/O is its disk's too
WHOLE_DISK = re.compile(r'^(?:[sv]d[a-z]+|xvd[a-z]+|nvme\d+n\d+)$')
COUNTERS = ('rx', 'tx', 'read', 'written')


def io_counters(net_dev: str, diskstats: str) -> dict[str, int]:
    """Bytes through the NICs (not lo) and the whole disks, from /proc/net/dev and
    /proc/diskstats."""
    found = dict.fromkeys(COUNTERS, 0)
    for line in net_dev.splitlines()[2:]:
        iface, data = line.split(':', 1)
        if iface.strip() != 'lo':
            fields = data.split()
            found['rx'] += int(fields[0])
            found['tx'] += int(fields[8])
    for line in diskstats.splitlines():
        fields = line.split()
        if len(fields) > 9 and WHOLE_DISK.match(fields[2]):
            found['read'] += int(fields[5]) * 512
            found['written'] += int(fields[9]) * 512
    return found


def moved(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
          ) -> dict[str, int]:
    """What all guests moved between two io_counters() readings ({guest: counters})."""
    total = dict.fromkeys(COUNTERS, 0)
    for name, counters in before.items():
        for key, value in counters.items():
            total[key] += after[name][key] - value
    return total


@dataclass
class Guest:
    name: str
    address: str
    key: str
    ssh_args: str = ''
    backends: dict = field(default_factory=dict)

    def ssh(self, command: str, stdin: str | None = None, timeout: float = 900,
            check: bool = True) -> str:
        argv = ['ssh', '-i', self.key, *shlex.split(self.ssh_args), '-o', 'BatchMode=yes',
                '-o', 'ControlMaster=auto', '-o', 'ControlPath=/tmp/acme-lab-ssh-%C',
                '-o', 'ControlPersist=900', f'root@{self.address}', command]
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f'{self.name}: {command!r} exit {done.returncode}: '
                               f'{done.stderr.strip()[-500:]}')
        return done.stdout

    def counters(self) -> dict[str, int]:
        net, disk = self.ssh('cat /proc/net/dev; echo ==; cat /proc/diskstats').split('==\n')
        return io_counters(net, disk)

    def drop_caches(self) -> None:
        self.ssh('sync; echo 3 > /proc/sys/vm/drop_caches')

    def nfs_mounts(self, base: str) -> list[str]:
        """The NFS mount points under ``base``."""
        return self._under(base, self.ssh('findmnt -rn -o TARGET -t nfs,nfs4 || true'))

    def acme_mounts(self, base: str, argv: list[str]) -> list[str]:
        """The NFS mount points under ``base`` that ``argv`` lists: the inventory's
        acme_lab_acme_mounts_argv, every NFS mount but the cloud's generic NFS backend's, which
        shares Cinder's default mount base and keeps its shares mounted."""
        return self._under(base, self.ssh(shlex.join(argv)))

    @staticmethod
    def _under(base: str, mount_points: str) -> list[str]:
        return [p for p in mount_points.split() if p.startswith(base.rstrip('/') + '/')]

    def log_sizes(self, paths: Iterable[str]) -> dict[str, int]:
        paths = list(paths)
        out = self.ssh('; '.join(f'stat -c %s {shlex.quote(p)} 2>/dev/null || echo 0'
                                 for p in paths))
        return dict(zip(paths, (int(x) for x in out.split()), strict=True))

    def log_since(self, offsets: dict[str, int]) -> str:
        return ''.join(self.ssh(f'tail -c +{off + 1} {shlex.quote(p)} 2>/dev/null || true')
                       for p, off in offsets.items())

    def machine(self) -> str:
        out = self.ssh("nproc; awk '/MemTotal/ {print $2}' /proc/meminfo; uname -r").split()
        return f'{self.name}: {out[0]} vCPU (TCG), {int(out[1]) // 1024} MiB, Linux {out[2]}'
