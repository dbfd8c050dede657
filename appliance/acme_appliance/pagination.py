"""Opaque list cursors: a page ends at a sequence number, the next one starts after it."""

from __future__ import annotations

import base64
import binascii

from acme_appliance.errors import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The sequence number a cursor stands for; 0 (the start) when there is none."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _sep, value = text.partition(":")
        if kind == "seq" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError("INVALID", "invalid cursor", {"cursor": cursor})


def next_cursor(seqs: list[int], limit: int) -> str | None:
    """Given the sequence numbers of up to limit+1 fetched rows, the cursor after the page."""
    return encode_cursor(seqs[limit - 1]) if len(seqs) > limit else None
