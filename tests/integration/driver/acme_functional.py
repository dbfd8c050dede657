"""Constants and helpers shared by the driver's functional tests."""

from __future__ import annotations

from pathlib import Path

GROUP = 'acme-func'
MY_IP = '127.0.0.1'  # my_ip of the cinder-volume host: the simulator runs on loopback


def mounts_under(base: Path) -> list[str]:
    """Mount points below ``base`` according to the kernel (/proc/mounts)."""
    with open('/proc/mounts') as table:
        return [line.split()[1] for line in table if line.split()[1].startswith(str(base))]
