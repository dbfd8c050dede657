"""Text tables of the lab's reports (tabulate), indented under their title."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tabulate import tabulate


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], floatfmt: str = '.1f',
          indent: str = '  ') -> list[str]:
    """The lines of a plain table: a header line, then one line per row."""
    text = tabulate(list(rows), headers=list(headers), tablefmt='simple', floatfmt=floatfmt)
    return [indent + line for line in text.splitlines()]
