"""Several backends of one cinder-volume host, each a process, under one mount base
(issue 20, "Mounts: this backend's, and only this backend's").

Three real AcmeNfsDriver processes (cluster_host.py) share one mount namespace (one
/proc/mounts, as on one machine), one mount base, one Cinder database and one appliance:
backend ``acme-a`` (pool1), ``acme-b`` (pool2) and ``acme-c`` (pool1 with the same share
prefix as acme-a: two backends over one pool, e.g. two volume types). Beside them, Cinder's
generic NFS driver has its share mounted for good under the same base. As everywhere on
this host, only the kernel NFS mount is replaced by a bind mount of the share's directory.
acme-a's reconciles (at a stats refresh and at a restart) end its own idle mount and
nothing else: not acme-b's or acme-c's mounts that their operations are using, nor the
generic share.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import uuid

import pytest

from tests.support.cinder_driver import name_device
from tests.support.volume_hosts import ClusterHost

pytestmark = [pytest.mark.integration]

MY_IP = '10.0.0.5'
GENERIC_NFS = '10.9.9.9:/srv/nfs/cinder'


@pytest.fixture(scope='module')
def namespace():
    """One mount namespace for the host's processes; its mounts end with it."""
    if os.geteuid() != 0 or shutil.which('unshare') is None:
        pytest.skip('needs root and unshare (a mount namespace for the host)')
    holder = subprocess.Popen(['unshare', '--mount', '--propagation', 'private',
                               'sleep', 'infinity'])
    wait_for_own_namespace(holder.pid)
    yield ('nsenter', f'--mount=/proc/{holder.pid}/ns/mnt', '--')
    holder.kill()
    holder.wait()


def wait_for_own_namespace(pid: int) -> None:
    """Until ``unshare`` has made its namespace: entering /proc/<pid>/ns/mnt before that
    enters this process's own, and the mounts made there are not the host's (CI saw it)."""
    mine = os.readlink('/proc/self/ns/mnt')
    for _attempt in range(1000):
        if os.readlink(f'/proc/{pid}/ns/mnt') != mine:
            return
        time.sleep(0.01)
    raise AssertionError(f'unshare (pid {pid}) made no mount namespace')


@pytest.fixture(scope='module')
def base(workdir, namespace):
    """The mount base, with the generic NFS driver's share mounted for good."""
    path = workdir / 'mnt'
    export = workdir / 'generic-export'
    (export / 'volume-generic').mkdir(parents=True)
    point = path / hashlib.md5(GENERIC_NFS.encode(), usedforsecurity=False).hexdigest()
    point.mkdir(parents=True)
    subprocess.run([*namespace, 'mount', '--bind', str(export), str(point)], check=True)
    name_device(str(point), GENERIC_NFS)
    return path


@pytest.fixture(scope='module')
def backends(workdir, namespace, nas, base):
    spec = {'backend_url': f"file://{workdir / 'locks'}", 'db': str(workdir / 'cinder.sqlite'),
            'acme_url': nas.url, 'password': nas.password, 'ca': nas.ca_path,
            'data_dir': str(nas.data_dir), 'my_ip': MY_IP, 'host': 'cv1', 'base': str(base)}
    started = {}
    try:
        for name, pool, sync in (('acme-a', 'pool1', True), ('acme-b', 'pool2', False),
                                 ('acme-c', 'pool1', False)):
            overrides = {'acme_pool': pool, 'acme_share_quota_headroom': 0}  # pool2: 1 GiB
            started[name] = ClusterHost(name, {**spec, 'group': name, 'db_sync': sync,
                                               'overrides': overrides},
                                        workdir, launch=namespace)
        yield started
    finally:
        for host in started.values():
            host.stop()


def mounts(host: ClusterHost) -> set[str]:
    return set(host.call('mounts'))


def new_volume(host: ClusterHost) -> str:
    volume_id = str(uuid.uuid4())
    host.call('record', id=volume_id)
    host.call('create_volume', id=volume_id)
    return volume_id


def test_reconcile_of_one_backend_keeps_every_other_backends_mounts(backends, base, nas):
    a, b, c = backends['acme-a'], backends['acme-b'], backends['acme-c']
    generic = {str(point) for point in base.iterdir() if not point.name.startswith('.')}
    assert mounts(a) == generic
    idle = new_volume(a)
    idle_mount = a.call('os_brick_mount', id=idle)  # a local attach's leftover: unneeded
    working = {new_volume(b): b, new_volume(c): c}
    held = {host.call('hold', id=volume_id) for volume_id, host in working.items()}
    assert mounts(a) == generic | held | {idle_mount}

    assert set(a.call('stats')) == generic | held  # acme-a's reconcile
    a.restart()  # and the one at its start
    assert mounts(a) == generic | held

    for volume_id, host in working.items():  # their operations go on, their files there
        assert host.call('unhold', id=volume_id) is True
    assert mounts(a) == generic
    for volume_id, host in [*working.items(), (idle, a)]:
        host.call('delete_volume', id=volume_id)
    assert nas.shares() == [] and a.call('volumes') == []
    assert mounts(a) == generic
