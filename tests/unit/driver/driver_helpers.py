"""Helpers of the driver's unit tests: the mount double, the command runner, checks."""

from __future__ import annotations

import os
from unittest import mock

from oslo_concurrency import processutils
from os_brick.remotefs import remotefs as remotefs_brick

GROUP = 'acme-unit'
MIB = 1024**2
# The quota of a volume's share by default: its size plus 1 % (acme_share_quota_headroom),
# rounded up to whole MiB (the appliance's granularity).
QUOTA = {1: 1035 * MIB, 2: 2069 * MIB, 3: 3103 * MIB}
MY_IP = '10.0.0.5'  # my_ip of the cinder-volume host in these tests
HOST = 'cv1'        # its CONF.host


class SymlinkMounts(remotefs_brick.RemoteFsClient):
    """os-brick's client with its real mount points; a mount is a symlink to the share."""

    def __init__(self, appliance, base: str, my_ip: str, **kwargs):
        super().__init__('nfs', None, nfs_mount_point_base=base, **kwargs)
        self.appliance, self.my_ip = appliance, my_ip
        self.table: dict[str, str] = {}
        self.mount_calls: list[str] = []
        self.fail_umounts = 0

    def _read_mounts(self):
        return dict(self.table)

    def mount(self, share, flags=None):
        self.mount_calls.append(share)
        path = self.get_mount_point(share)
        if path in self.table:
            return
        pool, name = share.split(':/', 1)[1].split('/')[-2:]
        found = self.appliance.share_named(name, pool)
        if found is None or not found.nfs_enabled or \
                self.my_ip not in {rule.clients for rule in found.nfs_rules}:
            raise processutils.ProcessExecutionError(
                stderr='mount.nfs: access denied by server while mounting')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        os.symlink(self.appliance.share_dir(found.id), path)
        self.table[path] = share

    def umount(self, path: str) -> None:
        if self.fail_umounts:
            self.fail_umounts -= 1
            raise processutils.ProcessExecutionError(stderr='umount: target is busy')
        if path not in self.table:
            raise processutils.ProcessExecutionError(stderr='not mounted')
        os.unlink(path)
        del self.table[path]


class Executor:
    """Runs the driver's commands for real (without root helper); can fail on demand."""

    def __init__(self):
        self.commands: list[tuple[str, ...]] = []
        self.failures: dict[str, int] = {}

    def fail(self, command: str, times: int = 1) -> None:
        self.failures[command] = times

    def __call__(self, *cmd, **kwargs):
        self.commands.append(cmd)
        if self.failures.get(cmd[0]):
            self.failures[cmd[0]] -= 1
            raise processutils.ProcessExecutionError(cmd=' '.join(cmd), stderr='injected')
        kwargs = {k: v for k, v in kwargs.items() if k in ('check_exit_code',)}
        return processutils.execute(*cmd, **kwargs)


class RootRecorder(Executor):
    """The test executor, also noting each command and whether it asked for root."""

    def __init__(self):
        super().__init__()
        self.as_root: list[tuple[tuple[str, ...], bool]] = []

    def __call__(self, *cmd, **kwargs):
        self.as_root.append((cmd, kwargs.get('run_as_root', False)))
        return super().__call__(*cmd, **kwargs)


def assert_clean(driver, appliance, shares=0, snapshots=0):
    """Nothing mounted on this host; the appliance holds only what is expected."""
    assert driver._remotefsclient.table == {}
    assert len(appliance.shares()) == shares, [s.name for s in appliance.shares()]
    assert len(appliance.snapshots()) == snapshots, [s.name for s in appliance.snapshots()]


def copy_image_to_volume(driver, ctx, vol, virtual_size=None, fetch=None) -> None:
    """Cinder's image copy into ``vol`` with Glance and qemu-img replaced: ``fetch`` is what
    downloading does (default: nothing), qemu-img reports ``virtual_size`` (default: the
    volume's size)."""
    info = mock.Mock(virtual_size=virtual_size or vol.size * 1024**3)
    with mock.patch('cinder.image.image_utils.fetch_to_raw', side_effect=fetch), \
            mock.patch('cinder.image.image_utils.resize_image'), \
            mock.patch('cinder.image.image_utils.qemu_img_info', return_value=info):
        driver.copy_image_to_volume(ctx, vol, mock.Mock(), 'image-1')
