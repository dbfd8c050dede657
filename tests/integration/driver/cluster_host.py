"""One cinder-volume host of an active-active cluster, as a process of its own.

Run by test_driver_cluster_etcd.py, one per host, each in a mount namespace of its own
(``unshare --mount``: its own /proc/mounts, like a separate machine), with its own Cinder
configuration (``my_ip``, ``host``), its own tooz coordinator on the shared coordination
backend (etcd) and the cluster's shared Cinder database (sqlite). It builds the real
AcmeNfsDriver against the simulator and then serves requests: one JSON object per line on
stdin (``{"op": ..., **arguments}``), one JSON reply per line on the original stdout
(``{"ok": ..., "result"|"error"|"message": ..., "locks": [...]}``). ``locks`` lists the
coordination lock events of that request: [event, lock name, time.time()], event being
wait (acquire called), acquired or released.

As in the functional tests, only the kernel NFS mount is replaced, by a bind mount of the
share's directory on the simulator, refused like NFS when the share has no rule for this
host's my_ip. Logs (DEBUG for tooz, coordination and the driver) go to ``spec['log']``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests.support, from the checkout

GROUP = 'acme-cluster'
LOCK_EVENTS: list[list] = []


def trace_locks() -> None:
    """Record every coordination lock's acquire/release (the driver's and Cinder's)."""
    from cinder import coordination
    get_lock = coordination.COORDINATOR.get_lock

    def traced(name: str) -> Any:
        lock = get_lock(name)
        acquire, release = lock.acquire, lock.release

        def traced_acquire(*args: Any, **kwargs: Any) -> bool:
            LOCK_EVENTS.append(['wait', name, time.time()])
            got = acquire(*args, **kwargs)
            LOCK_EVENTS.append(['acquired' if got else 'not-acquired', name, time.time()])
            return got

        def traced_release() -> bool:
            done = release()
            LOCK_EVENTS.append(['released', name, time.time()])
            return done

        lock.acquire, lock.release = traced_acquire, traced_release
        return lock

    coordination.COORDINATOR.get_lock = traced


def build_driver(spec: dict) -> Any:
    import cinder.privsep
    import os_brick.privileged
    from oslo_config import cfg
    from os_brick.remotefs import remotefs

    from tests.support import cinder_runtime
    from tests.support.cinder_driver import bind_mount_for, configure, read_mounts_as_nfs

    from acme_cinder import acme_client, nfs
    from cinder import context

    cinder_runtime.start(None, spec['backend_url'], spec['db'], db_sync=spec.get('db_sync'))
    cfg.CONF.set_override('my_ip', spec['my_ip'])
    cfg.CONF.set_override('host', spec['host'])
    # umount (cinder privsep) and os-brick's root commands run in-process: we are root.
    cinder.privsep.sys_admin_pctxt.set_client_mode(False)
    os_brick.privileged.default.set_client_mode(False)
    client = acme_client.AcmeClient(spec['acme_url'], 'admin', spec['password'],
                                    verify=spec['ca'])
    remotefs.RemoteFsClient._do_mount = bind_mount_for(
        client, lambda share_id: os.path.join(spec['data_dir'], 'shares', share_id))
    remotefs.RemoteFsClient._read_mounts = read_mounts_as_nfs(
        remotefs.RemoteFsClient._read_mounts)
    appliance = SimpleNamespace(url=spec['acme_url'], ca_path=spec['ca'],
                                password=spec['password'])
    group = spec.get('group', GROUP)
    conf, _names = configure(appliance, spec['base'], group, {
        'nas_login': 'admin', 'acme_retries': 0, 'acme_file_wait_timeout': 5,
        **spec.get('overrides', {})})
    trace_locks()
    driver = nfs.AcmeNfsDriver(configuration=conf, host=f"{spec['host']}@{group}")
    driver.do_setup(context.get_admin_context())
    driver.check_for_setup_error()
    return driver


class Host:
    """The requests this host serves, as Cinder's volume manager would make them."""

    def __init__(self, driver: Any, spec: dict) -> None:
        from cinder import context
        self.driver, self.spec = driver, spec
        self.ctx = context.get_admin_context()
        self.holds: dict[str, threading.Event] = {}
        self.held: dict[str, bool] = {}

    def volume(self, volume_id: str) -> Any:
        from cinder import objects
        return objects.Volume.get_by_id(self.ctx, volume_id)

    # the database ------------------------------------------------------------------------
    def op_record(self, id: str, size: int = 1, status: str = 'creating') -> dict:
        from cinder.db import api as db
        default_type = db.volume_type_get_by_name(self.ctx, '__DEFAULT__')['id']
        db.volume_create(self.ctx, {'id': id, 'size': size, 'status': status,
                                    'host': self._backend_host(),
                                    'volume_type_id': default_type})
        return {'id': id}

    def _backend_host(self) -> str:
        """host@backend#pool of this backend's volumes (the cluster's name in a cluster)."""
        conf = self.driver.configuration
        return f"{self.spec.get('cluster', self.spec['host'])}@{conf.config_group}#{conf.acme_pool}"

    def op_volumes(self) -> list[dict]:
        from cinder import objects
        return [{'id': v.id, 'provider_id': v.provider_id, 'status': v.status}
                for v in objects.VolumeList.get_all(self.ctx)]

    def op_attach(self, id: str, connector: dict) -> str:
        from cinder import objects
        from cinder.objects import fields
        attachment = objects.VolumeAttachment(
            self.ctx, volume_id=id, attached_host=connector['host'], connector=connector,
            attach_status=fields.VolumeAttachStatus.ATTACHED, attach_mode='rw')
        attachment.create()
        self._status(id, 'in-use')
        return attachment.id

    def _status(self, id: str, status: str) -> None:
        vol = self.volume(id)
        vol.status = status
        vol.save()

    # the driver, as the volume manager calls it ------------------------------------------
    def op_create_volume(self, id: str) -> dict:
        return self._created(id, self.driver.create_volume)

    def op_create_cloned_volume(self, id: str, source: str) -> dict:
        src = self.volume(source)
        return self._created(id, lambda vol: self.driver.create_cloned_volume(vol, src))

    def _created(self, id: str, create: Callable[[Any], dict]) -> dict:
        vol = self.volume(id)
        model = create(vol)
        vol.update(model)
        vol.status = 'available'
        vol.save()
        return model

    def op_delete_volume(self, id: str) -> None:
        vol = self.volume(id)
        self.driver.delete_volume(vol)
        vol.destroy()

    def op_initialize_connection(self, id: str, connector: dict) -> dict:
        return self.driver.initialize_connection(self.volume(id), connector)

    def op_terminate_connection(self, id: str, connector: dict) -> bool:
        return self.driver.terminate_connection(self.volume(id), connector)

    def op_detach(self, id: str, attachment_id: str) -> None:
        """attachment_delete landing on this host: end the connection, forget the record."""
        from cinder import objects
        attachment = objects.VolumeAttachment.get_by_id(self.ctx, attachment_id)
        vol = self.volume(id)
        self.driver.terminate_connection(vol, attachment.connector)
        self.driver.remove_export(self.ctx, vol)
        attachment.destroy()
        self._status(id, 'available')

    def op_os_brick_mount(self, id: str) -> str:
        """What os-brick's NFS connector does on this host for a local attach."""
        vol = self.volume(id)
        self.driver._remotefsclient.mount(vol.provider_location)
        return self.driver._mounts.mount_point(vol.provider_location)

    def op_hold(self, id: str) -> str:
        """An operation of this backend (an extend, a revert) in progress: it keeps the
        share mounted, through the driver, until ``unhold``."""
        self.holds[id] = threading.Event()
        mounted = threading.Event()

        def operation() -> None:
            with self.driver._mounted(self.volume(id)) as mount_point:
                mounted.set()
                self.holds[id].wait()
                self.held[id] = os.path.isfile(os.path.join(mount_point, self.volume(id).name))

        threading.Thread(target=operation, daemon=True).start()
        mounted.wait(60)
        return self.driver._mounts.mount_point(self.volume(id).provider_location)

    def op_unhold(self, id: str) -> bool:
        """End the operation; whether its volume file was still there at its end."""
        self.holds.pop(id).set()
        for _attempt in range(600):
            if id in self.held:
                return self.held.pop(id)
            time.sleep(0.1)
        raise TimeoutError(f'the operation on {id} did not end')

    def op_stats(self) -> list[str]:
        self.driver.get_volume_stats(refresh=True)
        return self.op_mounts()

    def op_mounts(self) -> list[str]:
        with open('/proc/self/mounts') as table:
            return [line.split()[1] for line in table
                    if line.split()[1].startswith(self.spec['base'] + '/')]


def serve(host: Host, replies: Any) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        LOCK_EVENTS.clear()
        try:
            reply = {'ok': True, 'result': getattr(host, 'op_' + request.pop('op'))(**request)}
        except Exception as error:  # the test judges what failed and how
            logging.getLogger(__name__).exception('request failed')
            reply = {'ok': False, 'error': type(error).__name__, 'message': str(error),
                     'types': [t.__module__ + '.' + t.__name__ for t in type(error).__mro__],
                     'trace': traceback.format_exc()[-3000:]}
        reply['locks'] = list(LOCK_EVENTS)
        replies.write(json.dumps(reply, default=str) + '\n')
        replies.flush()


def main() -> None:
    spec = json.loads(sys.argv[1])
    replies = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)  # whatever prints goes to stderr, never into the replies
    logging.basicConfig(filename=spec['log'], level=logging.INFO,
                        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    for name in ('tooz', 'cinder.coordination', 'acme_cinder'):
        logging.getLogger(name).setLevel(logging.DEBUG)
    host = Host(build_driver(spec), spec)
    replies.write(json.dumps({'ok': True, 'result': 'ready', 'pid': os.getpid()}) + '\n')
    replies.flush()
    serve(host, replies)
    from cinder import coordination
    coordination.COORDINATOR.stop()  # stdin closed: cinder-volume stops
    logging.shutdown()
    os._exit(0)  # without waiting for the interpreter's teardown of eventlet and privsep


if __name__ == '__main__':
    main()
