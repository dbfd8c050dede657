"""One bounded wait for the tests: poll a condition until it holds, at most timeout/interval
times (a count of attempts, never a clock: under load it waits longer, it never fails sooner).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar('T')


def wait_until(predicate: Callable[[], T], timeout: float = 10, what: str = 'the condition',
               interval: float = 0.02) -> T:
    """The first truthy value ``predicate`` returns; fails naming ``what`` after ``timeout`` s."""
    for _attempt in range(max(1, round(timeout / interval))):
        if found := predicate():
            return found
        time.sleep(interval)
    raise AssertionError(f'{what}: not within {timeout} s')
