"""One mount base, several users (issue 20, "Mounts: this backend's, and only this backend's").

Cinder runs every backend of a host in a process of its own, and its generic NFS driver,
other ACME backends and this one default to the same base ($state_path/mnt). The reconcile
(at start and at every stats refresh) may end only this backend's idle mounts: never another
backend's, never one another process of the host is using, never a host-assisted migration's
destination, and never on a stale read of what is needed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cinder.db import api as db

GENERIC_NFS = '10.9.9.9:/srv/nfs/cinder'  # Cinder's NFS driver, mounted for good

# Another process of this host (another cinder-volume backend on the same base) using
# ``export`` through the driver's ShareMounts; it sees the share mounted already, as the
# kernel's table is the host's, and stops using it when its stdin closes.
OTHER_PROCESS = textwrap.dedent('''
    import sys
    from acme_cinder.mounts import ShareMounts

    base, export = sys.argv[1:3]

    class HostTable:
        def get_mount_base(self):
            return base

        def get_mount_point(self, export):
            return sys.argv[3]

        def _read_mounts(self):
            return {sys.argv[3]: export}

    with ShareMounts(HostTable(), umount=print).mounted(export):
        print('using', flush=True)
        sys.stdin.read()
''')


def mount_foreign(drv, device: str, target: Path) -> str:
    """A mount of somebody else at os-brick's mount point for ``device`` (in the symlink
    table the unit tier uses instead of the kernel's)."""
    path = drv._mounts.mount_point(device)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    target.mkdir(exist_ok=True)
    os.symlink(target, path)
    drv._remotefsclient.table[path] = device
    return path


def mounted(drv) -> set[str]:
    return set(drv._remotefsclient.table.values())


def test_reconcile_keeps_other_backends_and_generic_nfs_mounts_under_the_same_base(
        driver, appliance, volume, ctx, tmp_path):
    ours = volume()
    driver._remotefsclient.mount(ours.provider_location)  # a leftover: nobody needs it
    address = ours.provider_location.split(':/')[0]
    other_pool = appliance.create_share('cinder-volume-other', pool='pool2')
    other_prefix = appliance.create_share('othercloud-volume-1')
    foreign = {GENERIC_NFS,
               f"{address}:{other_pool['path']}",      # an ACME backend on another pool
               f"{address}:{other_prefix['path']}",    # an ACME backend with another prefix
               f"10.8.8.8:/pool1/{ours.provider_location.rsplit('/', 1)[1]}"}  # another appliance
    for number, device in enumerate(sorted(foreign)):
        mount_foreign(driver, device, tmp_path / f'foreign-{number}')
    driver.get_volume_stats(refresh=True)
    assert mounted(driver) == foreign
    driver.do_setup(ctx)  # the reconcile at start
    assert mounted(driver) == foreign


@pytest.fixture
def other_process(driver, volume):
    """A volume of this backend that another process of the host is using."""
    vol = volume()
    driver._remotefsclient.mount(vol.provider_location)
    process = subprocess.Popen(
        [sys.executable, '-c', OTHER_PROCESS, driver.base, vol.provider_location,
         driver._mounts.mount_point(vol.provider_location)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == 'using\n'
    yield vol, process
    process.kill()
    process.wait()


def test_mount_another_process_of_the_host_uses_survives_reconcile(driver, other_process):
    vol, process = other_process
    driver.get_volume_stats(refresh=True)
    assert mounted(driver) == {vol.provider_location}
    driver.remove_export(None, vol)  # a local attach of this process ends: not the other's use
    assert mounted(driver) == {vol.provider_location}
    process.communicate('')  # the other process is done with it
    driver.get_volume_stats(refresh=True)
    assert mounted(driver) == set()


def test_use_of_a_process_that_died_does_not_pin_the_mount(driver, other_process):
    vol, process = other_process
    process.send_signal(signal.SIGKILL)
    process.wait()
    driver.get_volume_stats(refresh=True)
    assert mounted(driver) == set()


def test_migration_destination_stays_mounted_through_reconcile(driver, ctx, db_volume):
    """Host-assisted migration: Cinder attaches the destination here to copy into it."""
    source = db_volume(migration_status='migrating')
    destination = db_volume(migration_status=f'target:{source.id}')
    model = driver.create_volume(destination)
    db.volume_update(ctx, destination.id, model)
    driver._remotefsclient.mount(model['provider_location'])  # os-brick's local attach
    driver.get_volume_stats(refresh=True)
    assert mounted(driver) == {model['provider_location']}
    db.volume_update(ctx, source.id, {'migration_status': 'success'})
    db.volume_update(ctx, destination.id, {'migration_status': 'success'})
    driver.get_volume_stats(refresh=True)
    assert mounted(driver) == set()


def test_forked_backend_process_use_survives_the_parents_reconcile(driver, volume):
    """cinder-volume builds each backend's driver in its parent, then forks a process per
    backend: a process forked after the driver was built is another user of the host, not this
    one (seen in the lab: one backend's reconcile unmounted the share of the other's create)."""
    vol = volume()
    driver._remotefsclient.mount(vol.provider_location)  # the host's table: the child's too
    read_end, write_end = os.pipe()
    done_read, done_write = os.pipe()
    child = os.fork()
    if child == 0:  # the forked backend process: uses the share until told to stop
        try:
            with driver._mounts.mounted(vol.provider_location):
                os.write(write_end, b'using')
                os.read(done_read, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(read_end, 5) == b'using'
        driver.get_volume_stats(refresh=True)  # this process's reconcile: nobody here uses it
        assert mounted(driver) == {vol.provider_location}
    finally:
        os.write(done_write, b'x')
        os.waitpid(child, 0)
