"""RFC 3339 UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime


def now_rfc3339() -> str:
    """Current time as RFC 3339 UTC with microseconds, e.g. 2026-01-02T03:04:05.123456Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
