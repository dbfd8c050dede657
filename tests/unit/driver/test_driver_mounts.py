"""ShareMounts: mount-on-demand with reference counts, exports and per-share locks."""

from __future__ import annotations

import threading
import time

import pytest
from acme_fake import Executor

from acme_cinder.mounts import MountError, ShareMounts, lock_name

EXPORT = '192.0.2.10:/pool1/a'
OTHER = '192.0.2.10:/pool1/b'


class Table:
    """Mount table and RemoteFsClient double (os-brick's mount point rule)."""

    def __init__(self, base, fail_mounts=0, fail_umounts=0):
        from os_brick.remotefs import remotefs
        self.brick = remotefs.RemoteFsClient('nfs', None, nfs_mount_point_base=str(base))
        self.mounted: set[str] = set()
        self.mounts = self.umounts = 0
        self.fail_mounts, self.fail_umounts = fail_mounts, fail_umounts

    def get_mount_point(self, export):
        return self.brick.get_mount_point(export)

    def _read_mounts(self):
        return {p: 'dev' for p in self.mounted}

    def mount(self, export, flags):
        self.mounts += 1
        if self.fail_mounts:
            self.fail_mounts -= 1
            raise RuntimeError('mount.nfs: timed out')
        self.mounted.add(self.get_mount_point(export))

    def umount(self, path):
        self.umounts += 1
        if self.fail_umounts:
            self.fail_umounts -= 1
            raise RuntimeError('target is busy')
        self.mounted.discard(path)


@pytest.fixture
def table(tmp_path):
    return Table(tmp_path)


def make(table, attempts=3):
    locks: dict[str, threading.Lock] = {}
    return ShareMounts(table, lock=lambda name: locks.setdefault(name, threading.Lock()),
                       umount=table.umount, attempts=attempts, retry_delay=0)


def test_mounted_block_mounts_then_unmounts(table):
    mounts = make(table)
    with mounts.mounted(EXPORT) as path:
        assert path == table.get_mount_point(EXPORT)
        assert table.mounted == {path}
    assert table.mounted == set()


def test_nested_users_share_one_mount(table):
    mounts = make(table)
    with mounts.mounted(EXPORT), mounts.mounted(OTHER), mounts.mounted(EXPORT):
        assert mounts.users(EXPORT) == 2 and len(table.mounted) == 2
    assert table.mounts == 2 and table.mounted == set()


def test_failing_body_still_unmounts(table):
    mounts = make(table)
    with pytest.raises(ValueError), mounts.mounted(EXPORT):
        raise ValueError('rename failed')
    assert table.mounted == set() and mounts.users(EXPORT) == 0


def test_export_is_idempotent_and_keeps_mount_until_unexport(table):
    mounts = make(table)
    mounts.export('vol-1', EXPORT)
    mounts.export('vol-1', EXPORT)
    with mounts.mounted(EXPORT):
        pass
    assert table.mounted == {table.get_mount_point(EXPORT)}
    assert mounts.unexport('vol-1', EXPORT) is True
    assert table.mounted == set() and table.mounts == 1


def test_unexport_keeps_mount_while_an_operation_uses_it(table):
    mounts = make(table)
    mounts.export('vol-1', EXPORT)
    with mounts.mounted(EXPORT):
        assert mounts.unexport('vol-1', EXPORT) is False
        assert table.mounted
    assert table.mounted == set()


def test_unexport_unmounts_a_mount_left_by_an_earlier_run(table):
    table.mounted.add(table.get_mount_point(EXPORT))
    assert make(table).unexport('vol-1', EXPORT) is True
    assert table.mounted == set()


def test_mount_is_retried_nfs_mount_attempts_times(table):
    table.fail_mounts = 2
    mounts = make(table, attempts=3)
    with mounts.mounted(EXPORT):
        assert table.mounts == 3


def test_mount_failure_after_all_attempts_leaves_nothing(table):
    table.fail_mounts = 5
    mounts = make(table, attempts=2)
    with pytest.raises(MountError, match='timed out'), mounts.mounted(EXPORT):
        pytest.fail('body must not run')
    assert table.mounts == 2 and mounts.users(EXPORT) == 0 and table.mounted == set()


def test_prepare_runs_only_when_a_mount_is_refused(table):
    calls = []
    mounts = make(table)
    with mounts.mounted(EXPORT, prepare=lambda: calls.append(1)):
        with mounts.mounted(EXPORT, prepare=lambda: calls.append(2)):
            pass
    assert calls == [] and table.mounts == 1
    table.fail_mounts = 2
    with mounts.mounted(EXPORT, prepare=lambda: calls.append(3)):
        pass
    assert calls == [3] and table.mounts == 4


def test_unmount_is_retried_then_reported(table):
    table.fail_umounts = 1
    mounts = make(table)
    with mounts.mounted(EXPORT):
        pass
    assert table.umounts == 2 and table.mounted == set()
    table.fail_umounts = 9
    with pytest.raises(MountError, match='busy'), mounts.mounted(EXPORT):
        pass


def test_concurrent_users_never_unmount_under_each_other(table):
    mounts = make(table)
    errors = []

    def user():
        try:
            for _attempt in range(50):
                with mounts.mounted(EXPORT) as path:
                    if path not in table.mounted:
                        errors.append('used while unmounted')
                    time.sleep(0)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=user) for _thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and table.mounted == set() and mounts.users(EXPORT) == 0


def test_lock_name_is_the_same_on_every_host():
    assert lock_name(EXPORT) == lock_name(EXPORT)
    assert lock_name(EXPORT) != lock_name(OTHER)
    assert lock_name(EXPORT).startswith('acme-share-')


def test_executor_double_fails_on_demand():
    run = Executor()
    run.fail('true')
    with pytest.raises(Exception, match='injected'):
        run('true')
    assert run('true') == ('', '')
