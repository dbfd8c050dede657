"""The cinder-volume logs of the volume hosts (LabInventory.acme_log, ...): what each wrote
since mark()."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .guest import Guest


class HostLogs:
    def __init__(self, guests: Iterable[Guest], paths: Iterable[str]) -> None:
        self.guests = {g.name: g for g in guests}
        self.paths = list(paths)
        self.offsets: dict[str, dict[str, int]] = {}
        self.text: dict[str, str] = dict.fromkeys(self.guests, '')

    def mark(self) -> HostLogs:
        """From now on: what read() returns starts here."""
        self.offsets = {n: g.log_sizes(self.paths) for n, g in self.guests.items()}
        self.text = dict.fromkeys(self.guests, '')
        return self

    def read(self) -> dict[str, str]:
        """{host: its lines since mark()}."""
        self.text = {n: g.log_since(self.offsets[n]) for n, g in self.guests.items()}
        return self.text

    def host_of(self, request_id: str) -> str:
        """The host(s) whose log names ``request_id`` (read() first), '?' if none."""
        names = [n for n, text in self.text.items() if request_id and request_id in text]
        return '+'.join(names) or '?'

    def lines(self, pattern: str | re.Pattern) -> list[tuple[str, str]]:
        """(host, line) of the lines matching ``pattern`` (read() first)."""
        wanted = re.compile(pattern)
        return [(host, line) for host, text in self.text.items()
                for line in text.splitlines() if wanted.search(line)]
