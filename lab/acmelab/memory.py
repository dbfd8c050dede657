"""Peak samplers: the PSS of everything in a network namespace (the lab's QEMU guests
included), the machine's used memory, or any other count (database connections).

    python -m acmelab.memory --netns acme-lab --out lab/state/memory.json

is lab-up's sampler for the whole make lab (stopped by its PID); the file is rewritten after
every sample, so it holds the peaks so far.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

PSS = re.compile(r'^Pss:\s+(\d+)', re.MULTILINE)


def namespace_inode(netns: str | None = None) -> int:
    """The inode of a named network namespace (/run/netns/NAME), or of this process's own."""
    return os.stat(f'/run/netns/{netns}' if netns else '/proc/self/ns/net').st_ino


def namespace_pss_kib(inode: int, proc: Path = Path('/proc')) -> int:
    """The PSS of every process whose network namespace is ``inode``."""
    total = 0
    for pid in proc.iterdir():
        try:
            if not pid.name.isdigit() or os.stat(pid / 'ns' / 'net').st_ino != inode:
                continue
            found = PSS.search((pid / 'smaps_rollup').read_text())
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        total += int(found[1]) if found else 0
    return total


def used_kib(meminfo: str | None = None) -> int:
    """MemTotal - MemAvailable of the machine."""
    text = meminfo if meminfo is not None else Path('/proc/meminfo').read_text()
    values = {k: int(v.split()[0]) for k, v in (line.split(':', 1) for line in text.splitlines())}
    return values['MemTotal'] - values['MemAvailable']


class PeakSampler:
    """Calls ``probe`` every ``every`` seconds in a thread and keeps the highest value."""

    def __init__(self, probe: Callable[[], int], every: float = 5.0) -> None:
        self.probe, self.every = probe, every
        self.peak, self.samples = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.probe())
            self.samples += 1
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--netns', required=True)
    parser.add_argument('--out', type=Path, required=True)
    parser.add_argument('--every', type=float, default=2.0)
    args = parser.parse_args()
    baseline = used_kib()
    peak = dict(peak_lab_pss_kib=0, peak_used_kib=0, baseline_used_kib=baseline, samples=0)
    while True:
        try:  # the namespace comes and goes with the lab
            lab = namespace_pss_kib(namespace_inode(args.netns))
        except FileNotFoundError:
            lab = 0
        peak.update(peak_lab_pss_kib=max(peak['peak_lab_pss_kib'], lab),
                    peak_used_kib=max(peak['peak_used_kib'], used_kib()),
                    samples=peak['samples'] + 1)
        partial = args.out.with_suffix('.tmp')
        partial.write_text(json.dumps(peak) + '\n')
        partial.replace(args.out)
        time.sleep(args.every)


if __name__ == '__main__':
    main()
