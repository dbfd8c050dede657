"""What both driver rooms share (unit: symlink mounts; integration: bind mounts): the
driver's configuration on the session appliance, a context, the volume and snapshot
factories. Each room's conftest imports these fixtures and defines ``backend_group`` and
``driver``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from oslo_concurrency import processutils
from oslo_config import cfg

from tests.support.cinder_objects import make_snapshot, make_volume

from cinder import context
from cinder.volume import configuration
from cinder.volume import driver as cinder_driver

CONF = cfg.CONF


def volume_file(appliance: Any, vol: Any) -> Path:
    """The volume's file in its share's directory on the appliance."""
    return appliance.share_dir(vol.provider_id) / vol.name


def write(appliance: Any, vol: Any, data: bytes) -> None:
    """Overwrite the start of the volume's file (its size and holes stay)."""
    with open(volume_file(appliance, vol), 'r+b') as handle:
        handle.write(data)


def read(appliance: Any, vol: Any, count: int) -> bytes:
    """The first ``count`` bytes of the volume's file."""
    with open(volume_file(appliance, vol), 'rb') as handle:
        return handle.read(count)


def configure(appliance: Any, base: Path, group: str, overrides: dict[str, Any]
              ) -> tuple[configuration.Configuration, list[str]]:
    """The backend section ``group`` for ``appliance``; the option names it set."""
    from acme_cinder import options
    conf = configuration.Configuration(cinder_driver.volume_opts, config_group=group)
    conf.append_config_values(options.ACME_OPTS)
    values = {'acme_url': appliance.url, 'acme_ca_file': appliance.ca_path,
              'acme_pool': 'pool1', 'nas_password': appliance.password,
              'nfs_mount_point_base': str(base), 'volume_backend_name': group,
              'nas_secure_file_permissions': 'true', 'nas_secure_file_operations': 'false',
              **overrides}
    for key, value in values.items():
        CONF.set_override(key, value, group=group)
    return conf, list(values)


def device_entry(mount_path: str) -> Path:
    """Where a bind mount standing for an NFS mount records the export it stands for (beside
    the mount base, so that every process of a host using that base reads it)."""
    return Path(os.path.dirname(mount_path) + '.nfs-devices') / os.path.basename(mount_path)


def name_device(mount_path: str, export: str) -> None:
    entry = device_entry(mount_path)
    entry.parent.mkdir(exist_ok=True)
    entry.write_text(export)


def read_mounts_as_nfs(read_mounts: Callable[[Any], dict]) -> Callable[[Any], dict]:
    """os-brick's ``_read_mounts`` (/proc/mounts) with each bind mount named by the export it
    stands for, as /proc/mounts names a real NFS mount (a bind mount shows its source's)."""
    def read(self: Any) -> dict:
        table = read_mounts(self)
        for path in table:
            entry = device_entry(path)
            if entry.is_file():
                table[path] = entry.read_text()
        return table
    return read


def bind_mount_for(client: Any, share_dir: Callable[[str], Any], record: list | None = None
                   ) -> Callable[..., None]:
    """os-brick's ``mount -t nfs`` (RemoteFsClient._do_mount) as a bind mount of the share's
    directory on the simulator, refused like NFS when the share has no rule for my_ip."""
    def do_mount(self, mount_type, share, mount_path, mount_options=None, flags=None):
        assert mount_type == 'nfs'
        pool, name = share.split(':', 1)[1].strip('/').split('/', 1)
        found = client.shares.find(name, pool)
        rules = found['nfs']['rules'] if found['nfs']['enabled'] else []
        if CONF.my_ip not in {rule['clients'] for rule in rules}:
            raise processutils.ProcessExecutionError(
                stderr='mount.nfs: access denied by server while mounting')
        subprocess.run(['mount', '--bind', str(share_dir(found['id'])), mount_path],
                       check=True, capture_output=True)
        name_device(mount_path, share)
        if record is not None:
            record.append((share, mount_path, mount_options, flags))
    return do_mount


@pytest.fixture
def ctx():
    return context.get_admin_context()


@pytest.fixture
def new_volume(ctx, backend_group):
    return lambda size=1, **updates: make_volume(ctx, backend_group, size=size, **updates)


@pytest.fixture
def volume(request, new_volume):
    """A volume created through ``drv`` (default: the ``driver`` fixture); provider fields set."""
    def build(size=1, drv=None, **updates):
        vol = new_volume(size=size, **updates)
        vol.update((drv or request.getfixturevalue('driver')).create_volume(vol))
        return vol
    return build


@pytest.fixture
def new_snapshot(ctx):
    return lambda vol: make_snapshot(ctx, vol)


@pytest.fixture
def snapshot(request, new_snapshot):
    """A snapshot created through ``drv`` (default: the ``driver`` fixture)."""
    def build(vol, drv=None):
        snap = new_snapshot(vol)
        snap.update((drv or request.getfixturevalue('driver')).create_snapshot(snap))
        return snap
    return build
