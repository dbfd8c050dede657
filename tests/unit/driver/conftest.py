"""Fixtures of the driver's unit tests: no services, everything in-process.

The real client talks HTTP to an in-memory appliance (`responses`), mounts are symlinks,
file commands run for real on tmp directories, cinder.coordination uses tooz's file driver.
"""

from __future__ import annotations

import uuid

import pytest
import responses
from acme_fake import MY_IP, URL, Executor, FakeAppliance, FakeRemoteFs
from oslo_config import cfg

from tests.support.cinder_objects import make_volume

from acme_cinder import nfs, options
from acme_cinder.mounts import ShareMounts
from cinder import context, coordination, objects
from cinder.objects import fields
from cinder.volume import configuration
from cinder.volume import driver as cinder_driver

CONF = cfg.CONF
GROUP = 'acme-unit'
_OVERRIDDEN: set[str] = set()


@pytest.fixture(scope='session', autouse=True)
def cinder_runtime(tmp_path_factory):
    objects.register_all()
    CONF([], project='cinder', default_config_files=[])
    locks = tmp_path_factory.mktemp('locks')
    CONF.set_override('backend_url', f'file://{locks}', group='coordination')
    coordination.COORDINATOR.start()
    yield
    coordination.COORDINATOR.stop()


@pytest.fixture(autouse=True)
def this_host_ip():
    """my_ip of the cinder-volume host (per test: other suites may set their own)."""
    CONF.set_override('my_ip', MY_IP)
    yield
    CONF.clear_override('my_ip')


@pytest.fixture
def ctx():
    return context.get_admin_context()


@pytest.fixture
def appliance(tmp_path):
    fake = FakeAppliance(tmp_path / 'appliance')
    (fake.root / 'shares').mkdir(parents=True)
    (fake.root / 'snapshots').mkdir()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        yield fake


def make_config(tmp_path, **overrides):
    conf = configuration.Configuration(cinder_driver.volume_opts, config_group=GROUP)
    conf.append_config_values(options.ACME_OPTS)
    values = {'acme_url': URL, 'acme_pool': 'pool1', 'nas_user': 'admin',
              'nas_password': 'not-the-real-one', 'acme_retries': 0,
              'nfs_mount_point_base': str(tmp_path / 'mnt'),
              'nas_secure_file_permissions': 'true', 'nas_secure_file_operations': 'false',
              'acme_file_wait_timeout': 1, 'volume_backend_name': 'acme-unit'}
    values.update(overrides)
    for key, value in values.items():
        CONF.set_override(key, value, group=GROUP)
        _OVERRIDDEN.add(key)
    return conf


@pytest.fixture
def make_driver(tmp_path, appliance):
    made = []

    def build(setup=True, **overrides):
        drv = nfs.AcmeNfsDriver(configuration=make_config(tmp_path, **overrides),
                                execute=Executor())
        fake_fs = FakeRemoteFs(appliance, drv.base, nfs_mount_options=drv.mount_options)
        drv._remotefsclient = fake_fs
        drv._mounts = ShareMounts(fake_fs, lock=drv._lock, umount=fake_fs.umount,
                                  attempts=drv.configuration.nfs_mount_attempts,
                                  retry_delay=0)
        if setup:
            drv.do_setup(context.get_admin_context())
            drv.check_for_setup_error()
            appliance.reset_calls()
        made.append(drv)
        return drv

    yield build
    for key in _OVERRIDDEN:
        CONF.clear_override(key, group=GROUP)


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
        snap = objects.Snapshot(context=ctx, id=str(uuid.uuid4()), volume_id=vol.id,
                                volume_size=vol.size, provider_id=None,
                                status=fields.SnapshotStatus.CREATING)
        snap.volume = vol
        return snap
    return build


@pytest.fixture
def snapshot(driver, new_snapshot):
    def build(vol):
        snap = new_snapshot(vol)
        snap.update(driver.create_snapshot(snap))
        return snap
    return build
