# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""Sizes as operators write them (``20GiB``, ``512MiB``, ``1073741824``) to bytes and back."""

from __future__ import annotations

import re
from decimal import Decimal

KIB = 1024

# Binary prefixes (KiB, or the bare K as ZFS and most storage CLIs read it)
# are powers of 1024; SI prefixes with a B (KB, MB, ...) are powers of 1000.
_POWERS = {'': 0, 'k': 1, 'm': 2, 'g': 3, 't': 4, 'p': 5}
_SIZE_RE = re.compile(r'^\s*(?P<number>\d+(?:\.\d+)?|\.\d+)\s*'
                      r'(?P<prefix>[kmgtp]?)(?P<suffix>i?b?)\s*$', re.IGNORECASE)
UNITS_HELP = ('bytes, or a number with a unit: B, KiB, MiB, GiB, TiB, PiB (or K, M, G, T, P), '
              'KB, MB, GB, TB, PB')
_HUMAN_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')


class SizeError(ValueError):
    """A size that cannot be read as a whole number of bytes."""


def _multiplier(prefix, suffix):
    """Bytes per unit, or None for a unit that is not one (``iB``, ``i``)."""
    prefix, suffix = prefix.lower(), suffix.lower()
    if not prefix:
        return 1 if suffix in ('', 'b') else None
    base = 1000 if suffix == 'b' else KIB
    return base ** _POWERS[prefix]


def parse_size(value):
    """Return ``value`` (int bytes, or a string with an optional unit) in bytes."""
    if isinstance(value, bool):
        raise SizeError(f'invalid size {value!r}: use {UNITS_HELP}')
    if isinstance(value, int):
        if value < 0:
            raise SizeError(f'invalid size {value}: a size cannot be negative')
        return value
    if isinstance(value, float):
        value = repr(value)
    match = _SIZE_RE.match(str(value))
    unit = match.group('prefix') + match.group('suffix') if match else ''
    if unit.endswith('b') and unit != unit.lower():
        # Gb, Mb, Gib: a capital prefix with a small b is bits (gigabit), not bytes. All
        # lowercase (gb, gib, 7b) stays the case-insensitive spelling of bytes.
        raise SizeError(f'invalid size {value!r}: {unit} is a unit of bits, not bytes; '
                        f'use {UNITS_HELP}')
    multiplier = match and _multiplier(match.group('prefix'), match.group('suffix'))
    if not multiplier:
        raise SizeError(f'invalid size {value!r}: use {UNITS_HELP}')
    size = Decimal(match.group('number')) * multiplier
    if size != size.to_integral_value():
        raise SizeError(f'invalid size {value!r}: it is not a whole number of bytes ({size})')
    return int(size)


def human_size(size_bytes):
    """``21474836480`` -> ``'20 GiB'``; exact values keep no decimals."""
    if size_bytes is None:
        return 'none'
    value = Decimal(int(size_bytes))
    unit = 0
    while value >= KIB and unit < len(_HUMAN_UNITS) - 1:
        value /= KIB
        unit += 1
    text = f'{value:.2f}'.rstrip('0').rstrip('.') if value != int(value) else str(int(value))
    return f'{text} {_HUMAN_UNITS[unit]}'
