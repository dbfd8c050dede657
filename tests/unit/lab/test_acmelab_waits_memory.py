"""Waiting for a state and sampling peaks, with real clocks, threads and /proc."""

from __future__ import annotations

import itertools
import os

import pytest
from acmelab.memory import PeakSampler, namespace_inode, namespace_pss_kib, used_kib
from acmelab.waits import settled, wait_until


def test_settled_returns_the_first_value_that_is_done() -> None:
    values = itertools.count()
    assert settled(lambda: next(values), lambda v: v >= 3, within=10, interval=0) == 3


def test_settled_returns_the_last_value_when_time_is_up() -> None:
    values = itertools.count()
    last = settled(lambda: next(values), lambda v: v < 0, within=0.2, interval=0.05)
    assert last >= 1 and next(values) == last + 1


def test_settled_raises_what_the_probe_raises() -> None:
    def probe() -> int:
        raise ValueError('probe broke')
    with pytest.raises(ValueError, match='probe broke'):
        settled(probe, bool, within=5)


def test_wait_until_names_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match=r'the pools: not reached within 0 s \(last: False\)'):
        wait_until(lambda: False, bool, 0.1, 'the pools', interval=0.05)


def test_namespace_pss_counts_this_process() -> None:
    own = int(next(line.split()[1] for line in open('/proc/self/smaps_rollup')
                   if line.startswith('Pss:')))
    assert namespace_pss_kib(namespace_inode()) >= own > 0


def test_namespace_pss_of_an_unknown_namespace_is_zero() -> None:
    assert namespace_pss_kib(os.stat('/').st_ino + 10**12) == 0


def test_used_memory_from_meminfo() -> None:
    assert used_kib('MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 400 kB\n') == 600
    assert 0 < used_kib()


def test_peak_sampler_keeps_the_highest_value() -> None:
    values = iter([3, 9, 4] + [1] * 1000)
    with PeakSampler(lambda: next(values), every=0.01) as sampler:
        while sampler.samples < 4:
            pass
    assert sampler.peak == 9
