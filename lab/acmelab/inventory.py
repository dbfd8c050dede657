"""The one reader of the lab's inventory (lab/state/inventory.yml, from lab/inventory.yml.j2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .guest import Guest

DEFAULT_MOUNT_BASE = '/var/lib/cinder/mnt'  # Cinder's nfs_mount_point_base default


def _guest(name: str, merged: dict) -> Guest:
    return Guest(name, merged['ansible_host'], merged['ansible_ssh_private_key_file'],
                 merged.get('ansible_ssh_common_args', ''),
                 merged.get('acme_cinder_backends', {}))


@dataclass(frozen=True)
class Backend:
    """One ACME backend of the lab's cinder.conf (acme_cinder_backends)."""

    name: str
    options: dict

    @property
    def volume_type(self) -> str:
        return self.options.get('volume_type', self.name)

    @property
    def mount_base(self) -> str:
        return self.options.get('nfs_mount_point_base', DEFAULT_MOUNT_BASE)

    @property
    def share_prefix(self) -> str:
        return self.options.get('acme_share_prefix', 'cinder-')

    @property
    def pool(self) -> str:
        return self.options.get('acme_pool') or self.options['acme_pools'][0]

    def share_name(self, volume_id: str) -> str:
        return f'{self.share_prefix}volume-{volume_id}'


@dataclass(frozen=True)
class LabInventory:
    state: Path
    data: dict

    @classmethod
    def load(cls, state: Path) -> LabInventory:
        return cls(state, yaml.safe_load((state / 'inventory.yml').read_text()))

    def _group(self, name: str) -> dict:
        return self.data['all']['children'].get(name) or {}

    @property
    def cloud(self) -> str:
        """The clouds.yaml entry of the lab's admin (Keystone)."""
        return self.data['all']['vars']['acme_cloud']

    @property
    def acme_service(self) -> str:
        """The ACME backends' cinder-volume on each volume host (the service layout's unit)."""
        return self.data['all']['vars']['acme_lab_acme_service']

    @property
    def acme_log(self) -> str:
        """Its log file."""
        return self.data['all']['vars']['acme_lab_acme_log']

    @property
    def acme_mounts_argv(self) -> list[str]:
        """A volume host's command listing its NFS mount points but the cloud's generic NFS
        backend's (the playbooks' check runs the same)."""
        return self.data['all']['vars']['acme_lab_acme_mounts_argv']

    @property
    def volume_vars(self) -> dict:
        return self._group('cinder_volume').get('vars', {})

    @property
    def volume_hosts(self) -> dict[str, Guest]:
        group = self._group('cinder_volume')
        return {name: _guest(name, {**self.volume_vars, **host})
                for name, host in group['hosts'].items()}

    @property
    def backends(self) -> list[Backend]:
        """The ACME backends, the first one the lab's default (acme-lab)."""
        return [Backend(n, o) for n, o in self.volume_vars['acme_cinder_backends'].items()]

    @property
    def compute(self) -> tuple[Guest, str]:
        """The compute host and the Python of its os-brick."""
        name, host = next(iter(self._group('nova_compute')['hosts'].items()))
        return _guest(name, host), host['acme_brick_python']

    @property
    def appliance(self) -> dict:
        """The acme.nas.appliance variables of the lab's simulator container."""
        return self._group('acme_appliance').get('vars', {})

    @property
    def controller(self) -> dict:
        return self._group('controller')['hosts']['localhost']

    @property
    def cluster(self) -> str | None:
        return self.volume_vars.get('acme_cinder_cluster')

    @property
    def etcd(self) -> str | None:
        """etcd's client URL when the volume hosts coordinate through it."""
        url = self.volume_vars.get('acme_cinder_coordination_url', '')
        return url.removeprefix('etcd3+').split('?')[0] if url.startswith('etcd3+') else None

    @property
    def supervisor_conf(self) -> Path:
        """supervisord's configuration of the controller's services (etcd among them)."""
        return self.state / 'control' / 'etc' / 'supervisord.conf'
