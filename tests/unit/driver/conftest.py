"""Fixtures of the driver's unit tests: the real simulator, a real Cinder database.

The appliance is the real simulator served in-process (tests/support/appliance.py);
Cinder's database is a real sqlite one (schema from Cinder's own migrations);
file commands run for real; cinder.coordination uses tooz's file driver. Only the
kernel NFS mount is replaced: a "mount" is a symlink from os-brick's mount point to
the share's directory on the simulator, refused like NFS when the share has no rule
for this host.
"""

from __future__ import annotations

import pytest
from driver_helpers import GROUP, HOST, MY_IP, Executor, SymlinkMounts
from oslo_config import cfg

from tests.support import cinder_runtime as cinder_runtime_support
from tests.support.cinder_driver import (configure, ctx, new_snapshot,  # noqa: F401  # pylint: disable=unused-import
                                         new_volume, snapshot, volume)

from acme_cinder import nfs
from acme_cinder.mounts import ShareMounts
from cinder import context, objects
from cinder.objects import fields

CONF = cfg.CONF
_OVERRIDDEN: set[str] = set()


@pytest.fixture(scope='session', autouse=True)
def cinder_runtime(tmp_path_factory):
    """Cinder's configuration, objects, coordination (file locks) and a sqlite database."""
    state = tmp_path_factory.mktemp('cinder')
    cinder_runtime_support.start(state)
    yield state
    cinder_runtime_support.stop()


@pytest.fixture(autouse=True)
def this_host():
    """my_ip and host of the cinder-volume host (per test: other suites set their own)."""
    CONF.set_override('my_ip', MY_IP)
    CONF.set_override('host', HOST)
    yield
    CONF.clear_override('my_ip')
    CONF.clear_override('host')


@pytest.fixture
def backend_group():
    return GROUP


def build_driver(appliance, base, setup=True, my_ip=MY_IP, new_install=None, **overrides):
    """A driver on ``appliance`` with symlink mounts below ``base`` (also for tests/bench);
    ``new_install``: what the volume manager tells it (Cinder's database empty at start)."""
    conf, names = configure(appliance, base, GROUP, {
        'nas_login': 'admin', 'acme_retries': 0, 'acme_file_wait_timeout': 1, **overrides})
    _OVERRIDDEN.update(names)
    drv = nfs.AcmeNfsDriver(configuration=conf, execute=Executor(), host=f'{HOST}@{GROUP}')
    if new_install is not None:
        drv._is_voldb_empty_at_startup = new_install
    mounts = SymlinkMounts(appliance, drv.base, my_ip, nfs_mount_options=drv.mount_options)
    drv._remotefsclient = mounts
    drv._mounts = ShareMounts(mounts, umount=mounts.umount, owns=drv._owns_export,
                              attempts=drv.configuration.nfs_mount_attempts, retry_delay=0)
    if setup:
        drv.do_setup(context.get_admin_context())
        drv.check_for_setup_error()
        appliance.calls.clear()
    return drv


@pytest.fixture
def make_driver(tmp_path, appliance):
    """Build a driver (a cinder-volume host); ``my_ip``/``base`` make a second host."""
    def build(setup=True, my_ip=MY_IP, base=None, new_install=None, **overrides):
        return build_driver(appliance, base or tmp_path / 'mnt', setup, my_ip, new_install,
                            **overrides)

    yield build
    for key in _OVERRIDDEN:
        CONF.clear_override(key, group=GROUP)
    _OVERRIDDEN.clear()


@pytest.fixture
def driver(make_driver):
    return make_driver()


@pytest.fixture
def db_volume(ctx):  # noqa: F811  # the imported fixture, by name
    """A volume that exists in Cinder's database (what check_already_managed_volume reads)."""
    def build(size=1, **updates):
        vol = objects.Volume(context=ctx, size=size, host=f'{HOST}@{GROUP}#pool1',
                             status='available', display_name='vol',
                             attach_status=fields.VolumeAttachStatus.DETACHED, **updates)
        vol.create()  # the database gives it its id
        vol.volume_attachment = objects.VolumeAttachmentList(objects=[])
        vol.obj_reset_changes()
        return vol
    return build
