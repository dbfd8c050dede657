"""Each supported Cinder release loads the driver the way cinder-volume does.

For every release in tests/support/cinder_releases.py (the current one and the previous SLURP
release), the driver is installed into that release's virtualenv, and Cinder's own
VolumeManager imports it from a cinder.conf section; do_setup, check_for_setup_error and
get_volume_stats then run against the real simulator over HTTPS.
"""

from __future__ import annotations

import subprocess
import textwrap

import pytest
from acme_functional import MY_IP

from tests.support.cinder_releases import RELEASES, install_driver, release_venv, uninstall_driver

PROBE = textwrap.dedent("""\
    import sys
    from oslo_config import cfg
    from cinder import context, objects, version
    objects.register_all()
    cfg.CONF(['--config-file', sys.argv[1]], project='cinder')
    from cinder import rpc
    rpc.init(cfg.CONF)
    from cinder.volume import manager
    mgr = manager.VolumeManager(service_name='acme-1')
    drv = mgr.driver
    drv.do_setup(context.get_admin_context())
    drv.check_for_setup_error()
    stats = drv.get_volume_stats(refresh=True)
    print(version.version_info.release_string(),
          type(drv).__module__ + '.' + type(drv).__name__, drv.configuration.config_group,
          stats['volume_backend_name'], stats['storage_protocol'],
          drv.configuration.nfs_mount_point_base, drv.SUPPORTS_ACTIVE_ACTIVE)
    """)


def cinder_conf(path, state, appliance):
    path.write_text(textwrap.dedent(f"""\
        [DEFAULT]
        enabled_backends = acme-1
        state_path = {state}
        my_ip = {MY_IP}
        transport_url = fake:/
        [database]
        connection = sqlite:///{state}/cinder.db
        [coordination]
        backend_url = file://{state}/locks
        [acme-1]
        volume_driver = acme_cinder.nfs.AcmeNfsDriver
        volume_backend_name = acme-1
        acme_url = {appliance.url}
        acme_ca_file = {appliance.ca_path}
        acme_pool = pool1
        nas_login = admin
        nas_password = {appliance.password}
        nfs_mount_point_base = {state}/mnt
        """))


@pytest.fixture(scope='module', params=RELEASES, ids=lambda r: f'{r.series}-cinder-{r.cinder}')
def release(request, tmp_path_factory):
    """(release, its virtualenv with the driver installed)."""
    venv = release_venv(request.param)
    if request.param.pins is None:  # the test virtualenv has the driver (editable)
        yield request.param, venv
        return
    install_driver(venv, tmp_path_factory.mktemp('driver'))
    try:
        yield request.param, venv
    finally:
        uninstall_driver(venv)


def test_volume_manager_loads_the_driver(release, appliance, tmp_path):
    info, venv = release
    state = tmp_path / 'state'
    state.mkdir()
    conf = tmp_path / 'cinder.conf'
    cinder_conf(conf, state, appliance)
    subprocess.run([venv / 'bin' / 'cinder-manage', '--config-file', conf, 'db', 'sync'],
                   check=True, capture_output=True, timeout=300)
    result = subprocess.run([venv / 'bin' / 'python', '-c', PROBE, conf], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [info.cinder, 'acme_cinder.nfs.AcmeNfsDriver', 'acme-1',
                                     'acme-1', 'NFS', f'{state}/mnt', 'True']
    assert appliance.password not in result.stdout + result.stderr
    # the calls Cinder made reached the appliance: login, then the pool lookups of the stats
    assert any(call.path.startswith('/pools') for call in appliance.calls)
