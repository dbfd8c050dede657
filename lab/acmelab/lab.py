"""The running lab in one object: its inventory, volume hosts, default ACME backend, appliance
and Cinder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .appliance import Appliance
from .cinder import Cinder
from .guest import Guest
from .inventory import Backend, LabInventory

# lab/state, or where lab-up put it (ACME_LAB_STATE)
STATE = Path(os.environ.get('ACME_LAB_STATE') or Path(__file__).resolve().parents[1] / 'state')


@dataclass
class Lab:
    inventory: LabInventory
    guests: list[Guest]
    backend: Backend
    appliance: Appliance
    cinder: Cinder

    @classmethod
    def open(cls, state: Path = STATE) -> Lab:
        """Everything from the inventory and clouds.yaml of the lab whose state is ``state``."""
        os.environ.setdefault('OS_CLIENT_CONFIG_FILE', str(state / 'clouds.yaml'))
        inventory = LabInventory.load(state)
        backend = inventory.backends[0]
        return cls(inventory, list(inventory.volume_hosts.values()), backend,
                   Appliance(inventory.appliance, backend, state / 'containers.conf'),
                   Cinder(inventory.cloud))

    def guest(self, address: str) -> Guest:
        return next(g for g in self.guests if g.address == address)

    def mounts(self, base: str | None = None) -> dict[str, list[str]]:
        """{host: NFS mounts under ``base`` (the default backend's), not the cloud's generic
        NFS backend's}."""
        argv = self.inventory.acme_mounts_argv
        return {g.name: g.acme_mounts(base or self.backend.mount_base, argv) for g in self.guests}
