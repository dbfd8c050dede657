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
from tests.support.cinder_objects import make_snapshot, make_volume

from acme_cinder import nfs, options
from acme_cinder.mounts import ShareMounts
from cinder import context
from cinder.volume import configuration
from cinder.volume import driver as cinder_driver

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
def ctx():
    return context.get_admin_context()


def make_config(appliance, base, **overrides):
    conf = configuration.Configuration(cinder_driver.volume_opts, config_group=GROUP)
    conf.append_config_values(options.ACME_OPTS)
    values = {'acme_url': appliance.url, 'acme_ca_file': appliance.ca_path,
              'acme_pool': 'pool1', 'nas_login': 'admin',
              'nas_password': appliance.password, 'acme_retries': 0,
              'nfs_mount_point_base': str(base),
              'nas_secure_file_permissions': 'true', 'nas_secure_file_operations': 'false',
              'acme_file_wait_timeout': 1, 'volume_backend_name': 'acme-unit'}
    values.update(overrides)
    for key, value in values.items():
        CONF.set_override(key, value, group=GROUP)
        _OVERRIDDEN.add(key)
    return conf


def build_driver(appliance, base, setup=True, my_ip=MY_IP, **overrides):
    """A driver on ``appliance`` with symlink mounts below ``base`` (also for tests/bench)."""
    drv = nfs.AcmeNfsDriver(configuration=make_config(appliance, base, **overrides),
                            execute=Executor(), host=f'{HOST}@{GROUP}')
    mounts = SymlinkMounts(appliance, drv.base, my_ip, nfs_mount_options=drv.mount_options)
    drv._remotefsclient = mounts
    drv._mounts = ShareMounts(mounts, umount=mounts.umount,
                              attempts=drv.configuration.nfs_mount_attempts, retry_delay=0)
    if setup:
        drv.do_setup(context.get_admin_context())
        drv.check_for_setup_error()
        appliance.calls.clear()
    return drv


@pytest.fixture
def make_driver(tmp_path, appliance):
    """Build a driver (a cinder-volume host); ``my_ip``/``base`` make a second host."""
    def build(setup=True, my_ip=MY_IP, base=None, **overrides):
        return build_driver(appliance, base or tmp_path / 'mnt', setup, my_ip, **overrides)

    yield build
    for key in _OVERRIDDEN:
        CONF.clear_override(key, group=GROUP)
    _OVERRIDDEN.clear()


@pytest.fixture
def driver(make_driver):
    return make_driver()


@pytest.fixture
def new_volume(ctx):
    def build(size=1, **updates):
        return make_volume(ctx, GROUP, size=size, **updates)
    return build


@pytest.fixture
def volume(driver, new_volume):
    """A volume created through the driver (provider fields set)."""
    def build(size=1, **updates):
        vol = new_volume(size=size, **updates)
        vol.update(driver.create_volume(vol))
        return vol
    return build


@pytest.fixture
def new_snapshot(ctx):
    def build(vol):
        return make_snapshot(ctx, vol)
    return build


@pytest.fixture
def snapshot(driver, new_snapshot):
    def build(vol):
        snap = new_snapshot(vol)
        snap.update(driver.create_snapshot(snap))
        return snap
    return build
