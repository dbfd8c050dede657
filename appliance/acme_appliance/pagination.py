"""Opaque list cursors: a page ends at a sequence number, the next one starts after it."""

from __future__ import annotations

import base64
import binascii
import re

from acme_appliance.errors import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1  # sqlite's INTEGER range
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{0,40}$"
_SEQ = re.compile(r"seq:([0-9]{1,19})")


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The sequence number a cursor stands for; 0 (the start) when there is none."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    match = _SEQ.fullmatch(text)
    if match and int(match.group(1)) <= MAX_SEQ:
        return int(match.group(1))
    raise ApiError("INVALID", "invalid cursor", {"cursor": cursor[:64]})


def next_cursor(seqs: list[int], limit: int) -> str | None:
    """Given the sequence numbers of up to limit+1 fetched rows, the cursor after the page."""
    return encode_cursor(seqs[limit - 1]) if len(seqs) > limit else None
