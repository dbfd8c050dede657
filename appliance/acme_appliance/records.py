"""Plain value types shared by the layers (store, storage, exports, ganesha); imports nothing
of the package, so every other module can depend on it and imports run one way."""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rule:
    """One client rule of an export."""

    clients: str
    access: str
    root_squash: bool


def canonical_clients(clients: str) -> str:
    """'*', or the canonical text of the IP address or network ``clients`` names.

    Raises ValueError for anything else, an IPv6 zone id (``fe80::1%eth0``) included: ganesha
    cannot parse it, and one unparsable client makes the whole exports file unparsable.
    """
    if clients == "*":
        return clients
    if "%" in clients:
        raise ValueError(f"an IPv6 zone id (%...) is not a client: {clients!r}")
    if "/" in clients:
        return str(ipaddress.ip_network(clients, strict=False))
    return str(ipaddress.ip_address(clients))


def check_canonical_clients(clients: str) -> str:
    """``clients`` if it is '*' or an address or network written canonically, else ValueError."""
    canonical = canonical_clients(clients)
    if canonical != clients:
        raise ValueError(f"{clients!r} is not written canonically: write {canonical!r}")
    return clients


@dataclass(frozen=True)
class ExportSpec:
    """One enabled export: what `GaneshaExports.sync` writes as an EXPORT block."""

    export_id: int
    directory: Path
    pseudo: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Root:
    """Owner, group and permission bits of a share's top directory."""

    uid: int
    gid: int
    mode: int

    @classmethod
    def default(cls) -> Root:
        """uid 0, gid 0, 0755; without root privileges the simulator's own uid and gid."""
        if os.geteuid() == 0:
            return cls(0, 0, 0o755)
        return cls(os.geteuid(), os.getegid(), 0o755)

    @classmethod
    def of(cls, path: Path) -> Root:
        st = os.stat(path, follow_symlinks=False)
        return cls(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
