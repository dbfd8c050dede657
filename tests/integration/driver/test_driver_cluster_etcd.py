"""Two cinder-volume hosts of one active-active cluster, locking through a real etcd.

Each host is a process of its own (cluster_host.py) in a mount namespace of its own, with
its own my_ip, mount base and tooz coordinator on ``etcd3+http://127.0.0.1:<port>`` (Debian's
etcd-server, started here), the cluster's shared Cinder database (sqlite) and the same
simulator. Both build the real AcmeNfsDriver; the requests they get are the volume
manager's. Lock waits are shown twice: by the key in etcd held by one host while the
other asks, and by the hosts' lock events (wait, acquired, released).

What tooz's etcd3gw driver does while etcd is down, as observed and asserted below: taking a
lock fails at once with tooz.coordination.ToozConnectionError (connection refused), which the
driver reports as a VolumeBackendAPIException naming the lock service, and
nothing on the appliance changes; once etcd is back the same coordinator locks again.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from tests.support.etcd import Etcd
from tests.support.polling import wait_until
from tests.support.volume_hosts import ClusterHost

pytestmark = [pytest.mark.integration]

MY_IP = {'cv1': '10.0.0.5', 'cv2': '10.0.0.6'}
LOCK_KEYS = '/tooz/locks'
# tooz's etcd lock lease (seconds): short, so that what outlives it shows quickly; the
# coordinator refreshes the leases of held locks every membership_timeout (2 s).
LOCK_TIMEOUT = 4


@pytest.fixture(scope='module')
def etcd(workdir):
    server = Etcd(workdir / 'etcd').start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def hosts(workdir, etcd, nas):
    if os.geteuid() != 0 or shutil.which('unshare') is None:
        pytest.skip('needs root and unshare (a mount namespace per host)')
    spec = {'backend_url': f'{etcd.tooz_url}?lock_timeout={LOCK_TIMEOUT}&membership_timeout=2',
            'db': str(workdir / 'cinder.sqlite'),
            'acme_url': nas.url, 'password': nas.password, 'ca': nas.ca_path,
            'data_dir': str(nas.data_dir), 'cluster': 'acme-cluster'}
    started = []
    try:
        started.append(ClusterHost('cv1', {**spec, 'db_sync': True, 'my_ip': MY_IP['cv1']},
                                   workdir))
        started.append(ClusterHost('cv2', {**spec, 'my_ip': MY_IP['cv2']}, workdir))
        yield started
    finally:
        for host in started:  # their mount namespaces, and mounts, end with them
            host.stop()


@pytest.fixture
def volumes(hosts, nas, etcd):
    """New volumes (created through ``via``); at the end: the appliance holds exactly the
    shares of the volumes in Cinder's database, no host has a mount, no lock is held."""
    def create(via: ClusterHost, source: str | None = None) -> str:
        volume_id = str(uuid.uuid4())
        via.call('record', id=volume_id)
        if source:
            via.call('create_cloned_volume', id=volume_id, source=source)
        else:
            via.call('create_volume', id=volume_id)
        return volume_id

    yield create
    in_cinder = {v['provider_id'] for v in hosts[0].call('volumes')}
    assert {share.id for share in nas.shares()} == in_cinder
    assert [host.call('mounts') for host in hosts] == [[], []]
    assert etcd.keys(LOCK_KEYS) == {}


def provider_id(host: ClusterHost, volume_id: str) -> str:
    return next(v['provider_id'] for v in host.call('volumes') if v['id'] == volume_id)


def rules(nas, share_id: str) -> set[str]:
    share = next(s for s in nas.shares() if s.id == share_id)
    return {rule.clients for rule in share.nfs_rules}


def connector(number: int) -> dict:
    return {'ip': f'10.0.1.{number}', 'host': f'compute-{number}'}


def lock_events(reply: dict, lock: str) -> dict[str, float]:
    """When each event of ``lock`` happened during the request."""
    return {event: at for event, name, at in reply['locks'] if name == lock}


def events(reply: dict) -> list[str]:
    """The request's lock events, in order."""
    return [event[0] for event in reply['locks']]


def one_waits_for_the_other(nas, etcd, share_id: str, holder: tuple, waiter: tuple
                            ) -> tuple[dict, dict]:
    """``holder`` takes the share's lock (its rule write slowed down on the appliance); once
    etcd shows the lock held, ``waiter`` makes its request. Returns both replies."""
    nas.add_fault(method='PUT', path=f'/shares/{share_id}/nfs', action='delay', delay=1.5)
    key = f'{LOCK_KEYS}cinder-acme-share-{share_id}'
    holder[0].send(holder[1], **holder[2])
    held_by = wait_until(lambda: etcd.keys(key).get(key), 20, 'the lock key in etcd')
    waiter[0].send(waiter[1], **waiter[2])
    assert etcd.keys(key).get(key) == held_by  # still the holder's while the waiter asks
    first, second = holder[0].reply(), waiter[0].reply()
    assert first['ok'] and second['ok'], (first, second)
    held = lock_events(first, f'acme-share-{share_id}')
    waited = lock_events(second, f'acme-share-{share_id}')
    assert waited['wait'] < held['released'] <= waited['acquired']
    return first, second


def test_the_lock_service_serialises_both_hosts_changing_one_share(hosts, nas, etcd,
                                                                   volumes):
    cv1, cv2 = hosts
    source = volumes(cv1)
    share = provider_id(cv1, source)

    # rules: both hosts give a compute node access at once; neither rule is lost
    one_waits_for_the_other(
        nas, etcd, share,
        holder=(cv2, 'initialize_connection', {'id': source, 'connector': connector(2)}),
        waiter=(cv1, 'initialize_connection', {'id': source, 'connector': connector(1)}))
    assert rules(nas, share) == {cv1.my_ip, '10.0.1.1', '10.0.1.2'}

    # clone on one host while the other host revokes a rule of the source
    clone = str(uuid.uuid4())
    cv1.call('record', id=clone)
    cv1.send('create_cloned_volume', id=clone, source=source)
    cv2.send('terminate_connection', id=source, connector=connector(2))
    assert cv1.reply()['ok'] and cv2.reply()['ok']
    assert rules(nas, share) == {cv1.my_ip, '10.0.1.1'}
    assert len(nas.snapshots(share)) == 1  # the clone's hidden source snapshot

    # delete of the clone (which removes its source snapshot on the source's share) while
    # the other host writes the source's rules: the delete waits for the share's lock
    one_waits_for_the_other(
        nas, etcd, share,
        holder=(cv2, 'initialize_connection', {'id': source, 'connector': connector(3)}),
        waiter=(cv1, 'delete_volume', {'id': clone}))
    assert rules(nas, share) == {cv1.my_ip, '10.0.1.1', '10.0.1.3'}
    assert nas.snapshots(share) == []
    assert [v['id'] for v in cv1.call('volumes')] == [source]
    cv2.call('delete_volume', id=source)


def test_attach_on_one_host_detach_on_the_other_leaves_no_mount(hosts, volumes):
    cv1, cv2 = hosts
    volume = volumes(cv1)
    here = {'ip': cv1.my_ip, 'host': 'cv1'}  # a local attach of host 1 (backup, image copy)
    attachment = cv1.call('attach', id=volume, connector=here)
    cv1.call('initialize_connection', id=volume, connector=here)
    mount = cv1.call('os_brick_mount', id=volume)
    assert cv1.call('stats') == [mount]  # still attached: the mount stays

    cv2.call('detach', id=volume, attachment_id=attachment)  # the detach lands on host 2
    assert cv2.call('mounts') == []
    assert cv1.call('mounts') == [mount]  # until host 1's next stats refresh
    assert cv1.call('stats') == []
    cv2.call('delete_volume', id=volume)


def test_etcd_down_fails_lock_taking_operations_cleanly_and_they_succeed_after(
        hosts, nas, etcd, volumes):
    cv1, cv2 = hosts
    volume = volumes(cv1)
    share = provider_id(cv1, volume)
    rules_before = rules(nas, share)
    shares_before = {s.id for s in nas.shares()}
    waiting = str(uuid.uuid4())
    cv2.call('record', id=waiting)

    etcd.stop()
    try:
        cv1.send('initialize_connection', id=volume, connector=connector(4))  # share lock
        cv2.send('create_volume', id=waiting)  # volume lock
        failures = [cv1.reply(), cv2.reply()]
    finally:
        etcd.start()
    for failed in failures:  # a Cinder error that names the lock service
        assert not failed['ok'] and failed['error'] == 'VolumeBackendAPIException'
        assert 'cinder.exception.CinderException' in failed['types']
        assert 'coordination' in failed['message'] or 'lock' in failed['message']
        assert 'etcd3gw.exceptions.ConnectionFailedError' in failed['trace']
        assert events(failed) == ['wait']  # never acquired
    assert rules(nas, share) == rules_before  # nothing half done
    assert {s.id for s in nas.shares()} == shares_before

    cv1.call('initialize_connection', id=volume, connector=connector(4))
    cv2.call('create_volume', id=waiting)
    assert rules(nas, share) == rules_before | {'10.0.1.4'}
    cv2.call('delete_volume', id=waiting)
    cv1.call('delete_volume', id=volume)


def test_etcd_down_while_a_lock_is_held_keeps_that_lock_until_its_host_restarts(
        hosts, nas, etcd, volumes):
    """tooz keeps a lock whose release failed among its coordinator's held locks, and the
    heartbeat keeps refreshing its lease: once etcd is back the key stays, and every other
    host waits for that share (Cinder's locks block) until the holder's cinder-volume
    restarts. Its own operation was done on the appliance, yet reported failed."""
    cv1, cv2 = hosts
    volume = volumes(cv1)
    share = provider_id(cv1, volume)
    key = f'{LOCK_KEYS}cinder-acme-share-{share}'
    nas.add_fault(method='PUT', path=f'/shares/{share}/nfs', action='delay', delay=1.5)
    cv2.send('initialize_connection', id=volume, connector=connector(6))
    held_by = wait_until(lambda: etcd.keys(key).get(key), 20, 'the lock key in etcd')
    etcd.stop()
    try:
        holder = cv2.reply()
    finally:
        etcd.start()
    assert not holder['ok'] and holder['error'] == 'VolumeBackendAPIException'
    assert events(holder) == ['wait', 'acquired']  # no release
    assert '10.0.1.6' in rules(nas, share)  # the rule was written all the same

    cv1.send('initialize_connection', id=volume, connector=connector(7))
    assert cv1.poll(timeout=2 * LOCK_TIMEOUT) is None  # the lease outlives its timeout
    assert etcd.keys(key).get(key) == held_by

    cv2.restart()  # nobody refreshes the lease any more: it expires, cv1 goes on
    assert events(cv1.reply()) == ['wait', 'acquired', 'released']
    assert {'10.0.1.6', '10.0.1.7'} <= rules(nas, share)
    cv1.call('delete_volume', id=volume)
