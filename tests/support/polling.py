"""One bounded wait for the tests: poll a condition until it holds or a timeout passes.

The timeout is a bound on a wait, never a measured duration that a test asserts on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar('T')


def wait_until(predicate: Callable[[], T], timeout: float = 10, what: str = 'the condition',
               interval: float = 0.02) -> T:
    """The first truthy value ``predicate`` returns; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f'{what}: not within {timeout} s'
        time.sleep(interval)
    return found
