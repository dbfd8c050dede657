"""Simulator settings: one dataclass plus parsers for sizes, pools, users and listen addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)
_UNITS = {
    "": 1, "B": 1,
    "K": 1000, "KB": 1000, "KIB": 1 << 10,
    "M": 1000**2, "MB": 1000**2, "MIB": 1 << 20,
    "G": 1000**3, "GB": 1000**3, "GIB": 1 << 30,
    "T": 1000**4, "TB": 1000**4, "TIB": 1 << 40,
    "P": 1000**5, "PB": 1000**5, "PIB": 1 << 50,
}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([A-Za-z]*)\s*$")
DEFAULT_POOLS = {"pool1": 100 << 30}


def valid_name(name: str) -> bool:
    """True when `name` follows the contract's name rule."""
    return bool(_NAME_RE.fullmatch(name))


def parse_size(text: str) -> int:
    """'100GiB' -> 107374182400; plain digits are bytes; K/M/G/T/P are powers of 1000."""
    match = _SIZE_RE.match(text)
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"invalid size {text!r} (examples: 1048576, 500MiB, 100GiB, 2TB)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def parse_pool(text: str) -> tuple[str, int]:
    """'pool1:100GiB' -> ('pool1', 107374182400)."""
    name, sep, size = text.partition(":")
    if not sep or not valid_name(name):
        raise ValueError(f"invalid pool {text!r}, expected NAME:SIZE")
    total = parse_size(size)
    if total <= 0:
        raise ValueError(f"pool {name!r} must have a positive size")
    return name, total


def parse_user(text: str) -> tuple[str, str]:
    """'admin:secret' -> ('admin', 'secret'); the password may contain ':'."""
    name, sep, password = text.partition(":")
    if not sep or not name or not password:
        raise ValueError("invalid user, expected NAME:PASSWORD")
    return name, password


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:8443' or '[::1]:8443' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid listen address {text!r}, expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass
class ApplianceConfig:
    """Everything the app factory needs; the CLI and the tests build one of these."""

    data_dir: Path
    pools: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_POOLS))
    users: dict[str, str] = field(default_factory=dict)
    token_ttl: int = 3600
    nfs_address: str = "127.0.0.1"
    enable_faults: bool = False
    ganesha_conf_dir: Path | None = None
    ganesha_pidfile: Path | None = None
    usage_refresh_interval: float = 30.0
    body_timeout: float = 30.0  # seconds a request body may take to arrive (408 after)
    model: str = "ACME NAS Simulator"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        for name in self.pools:
            if not valid_name(name):
                raise ValueError(f"invalid pool name {name!r}")
        if self.token_ttl <= 0:
            raise ValueError("token TTL must be positive")
