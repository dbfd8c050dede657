"""Functional tests of the driver: the real AcmeNfsDriver against the real simulator (HTTPS).

This host has no kernel NFS client (docs: lab-recipes), so exactly one step is replaced:
os-brick's `mount -t nfs` becomes `mount --bind <simulator share dir> <os-brick mount point>`.
Everything else is real: os-brick's RemoteFsClient and mount points, umount (cinder privsep,
in-process as root), file commands, Cinder objects and cinder.coordination (tooz file driver).
Tests that rely on the bind mount are named *_bindmount.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from oslo_config import cfg

from tests.support import cinder_runtime as cinder_runtime_support
from tests.support.cinder_driver import (bind_mount_for, configure, ctx,  # noqa: F401  # pylint: disable=unused-import
                                         new_snapshot, new_volume, read_mounts_as_nfs, snapshot,
                                         volume)

from acme_functional import GROUP, MY_IP, mounts_under

from cinder import context

CONF = cfg.CONF


def pytest_collection_modifyitems(items):
    for item in items:
        if '/integration/driver/' in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope='session', autouse=True)
def cinder_runtime(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip('bind mounts need root')
    import cinder.privsep
    cinder_runtime_support.start(tmp_path_factory.mktemp('cinder'))
    # umount runs through cinder's privsep entrypoint; as root it can run in-process.
    cinder.privsep.sys_admin_pctxt.set_client_mode(False)
    # os-brick's own root commands (the attach path's device check) likewise.
    import os_brick.privileged
    os_brick.privileged.default.set_client_mode(False)
    yield
    cinder_runtime_support.stop()


@pytest.fixture(autouse=True)
def this_host_ip():
    """my_ip of the cinder-volume host (per test: other suites may set their own)."""
    CONF.set_override('my_ip', MY_IP)
    yield
    CONF.clear_override('my_ip')


@pytest.fixture(autouse=True)
def system_ca_bundle_in_environment(monkeypatch):
    """acme_ca_file must win over the environment's CA bundle (SSL_CERT_FILE: Python's ssl
    defaults, the trust store the client uses without a CA file)."""
    monkeypatch.setenv('SSL_CERT_FILE', '/etc/ssl/certs/ca-certificates.crt')


@pytest.fixture
def bind_mounts(monkeypatch, appliance):
    """Replace only os-brick's NFS mount command by a bind mount of the share's directory
    (named in the mount table by its export, as an NFS mount is)."""
    from os_brick.remotefs import remotefs
    done = []
    monkeypatch.setattr(remotefs.RemoteFsClient, '_do_mount',
                        bind_mount_for(appliance.client(), appliance.share_dir, done))
    monkeypatch.setattr(remotefs.RemoteFsClient, '_read_mounts',
                        read_mounts_as_nfs(remotefs.RemoteFsClient._read_mounts))
    return done


@pytest.fixture
def base(tmp_path):
    path = tmp_path / 'mnt'
    yield path
    for mount_point in reversed(mounts_under(path)):  # never leave a mount behind
        subprocess.run(['umount', '-l', mount_point], check=False)


@pytest.fixture
def backend_group():
    return GROUP


@pytest.fixture
def make_driver(appliance, base, bind_mounts):
    from acme_cinder import nfs
    made = []

    def build(setup=True, **overrides):
        conf, names = configure(appliance, base, GROUP, {
            'nas_user': 'admin', 'acme_retries': 1, 'acme_backoff': 0.1,
            'acme_file_wait_timeout': 5, **overrides})
        made.extend(names)
        drv = nfs.AcmeNfsDriver(configuration=conf)
        if setup:
            drv.do_setup(context.get_admin_context())
            drv.check_for_setup_error()
        return drv

    yield build
    for key in made:
        CONF.clear_override(key, group=GROUP)


@pytest.fixture
def driver(make_driver):
    return make_driver()


@pytest.fixture(scope='module')
def workdir(request):
    """A directory for the module's host processes (databases, logs, mount bases)."""
    path = Path(tempfile.mkdtemp(prefix=f'acme-{request.module.__name__}-'))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='module')
def nas(request, appliance_server, appliance_state_root):
    """One simulator state for the module (its host processes keep its data directory)."""
    return appliance_server.reset(Path(tempfile.mkdtemp(dir=appliance_state_root,
                                                        prefix=request.module.__name__)))
