"""Waiting for a state: the probe is called until ``done`` holds for its value (tenacity)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar('T')


def settled(probe: Callable[[], T], done: Callable[[T], bool], within: float,
            interval: float = 1.0) -> T:
    """``probe()``'s value once ``done`` holds for it, or its last value after ``within`` s.

    An exception of ``probe`` is not retried: it is raised.
    """
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(within), wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_result(lambda value: not done(value)),
        retry_error_callback=lambda state: state.outcome.result())
    return retrying(probe)


def wait_until(probe: Callable[[], T], done: Callable[[T], bool], within: float,
               what: str, interval: float = 1.0) -> T:
    """As settled(), but a value that never got ``done`` raises TimeoutError naming ``what``."""
    value = settled(probe, done, within, interval)
    if not done(value):
        raise TimeoutError(f'{what}: not reached within {within:.0f} s (last: {value!r})')
    return value
