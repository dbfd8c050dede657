"""ShareMounts: mounts only while this host needs the data, judged again after restarts."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from acme_cinder.mounts import MountError, ShareMounts

EXPORT = '192.0.2.10:/pool1/a'
OTHER = '192.0.2.10:/pool1/b'


class Table:
    """The kernel's mount table and os-brick's RemoteFsClient (its mount point rule)."""

    def __init__(self, base, fail_mounts=0, fail_umounts=0):
        from os_brick.remotefs import remotefs
        self.brick = remotefs.RemoteFsClient('nfs', None, nfs_mount_point_base=str(base))
        self.mounted: dict[str, str] = {}
        self.mounts = self.umounts = 0
        self.fail_mounts, self.fail_umounts = fail_mounts, fail_umounts

    def get_mount_point(self, export):
        return self.brick.get_mount_point(export)

    def get_mount_base(self):
        return self.brick.get_mount_base()

    def _read_mounts(self):
        return dict(self.mounted)

    def mount(self, export, flags=None):
        self.mounts += 1
        if self.fail_mounts:
            self.fail_mounts -= 1
            raise RuntimeError('mount.nfs: timed out')
        self.mounted[self.get_mount_point(export)] = export

    def umount(self, path):
        self.umounts += 1
        if self.fail_umounts:
            self.fail_umounts -= 1
            raise RuntimeError('target is busy')
        self.mounted.pop(path, None)


@pytest.fixture
def table(tmp_path):
    return Table(tmp_path)


def make(table, attempts=3):
    return ShareMounts(table, umount=table.umount, attempts=attempts, retry_delay=0)


def test_mounted_block_mounts_then_unmounts(table):
    mounts = make(table)
    with mounts.mounted(EXPORT) as path:
        assert path == table.get_mount_point(EXPORT)
        assert set(table.mounted) == {path}
    assert table.mounted == {}


def test_nested_users_share_one_mount(table):
    mounts = make(table)
    with mounts.mounted(EXPORT), mounts.mounted(OTHER), mounts.mounted(EXPORT):
        assert mounts.in_use(EXPORT) and len(table.mounted) == 2
    assert table.mounts == 2 and table.mounted == {}


def test_failing_body_still_unmounts(table):
    mounts = make(table)
    with pytest.raises(ValueError), mounts.mounted(EXPORT):
        raise ValueError('rename failed')
    assert table.mounted == {} and not mounts.in_use(EXPORT)


def test_a_mount_made_by_somebody_else_is_left_to_them(table):
    """os-brick's mount of a local attach: an operation borrows it and leaves it."""
    table.mount(EXPORT)
    mounts = make(table)
    with mounts.mounted(EXPORT):
        pass
    assert set(table.mounted) == {table.get_mount_point(EXPORT)}
    mounts.release(EXPORT)
    assert table.mounted == {}


def test_release_waits_for_running_operations(table):
    mounts = make(table)
    with mounts.mounted(EXPORT):
        mounts.release(EXPORT)
        assert table.mounted
    assert table.mounted == {}


def test_mount_is_retried_nfs_mount_attempts_times(table):
    table.fail_mounts = 2
    with make(table, attempts=3).mounted(EXPORT):
        assert table.mounts == 3


def test_mount_failure_after_all_attempts_leaves_nothing(table):
    table.fail_mounts = 5
    mounts = make(table, attempts=2)
    with pytest.raises(MountError, match='timed out'), mounts.mounted(EXPORT):
        pytest.fail('body must not run')
    assert table.mounts == 2 and not mounts.in_use(EXPORT) and table.mounted == {}


def test_prepare_runs_before_each_mount_attempt_and_not_for_a_mounted_share(table):
    """This host's access is made sure of before mounting: a refused mount is an ERROR in
    os-brick's log although nothing is wrong (issue 20)."""
    calls = []
    mounts = make(table)
    with mounts.mounted(EXPORT, prepare=lambda: calls.append(1)):
        with mounts.mounted(EXPORT, prepare=lambda: calls.append(2)):
            pass
    assert calls == [1] and table.mounts == 1
    table.fail_mounts = 2
    with mounts.mounted(EXPORT, prepare=lambda: calls.append(3)):
        pass
    assert calls == [1, 3, 3, 3] and table.mounts == 4


def test_unmount_is_retried(table):
    table.fail_umounts = 1
    with make(table).mounted(EXPORT):
        pass
    assert table.umounts == 2 and table.mounted == {}


def test_release_reports_a_failed_unmount(table):
    table.mount(EXPORT)
    table.fail_umounts = 9
    with pytest.raises(MountError, match='busy'):
        make(table).release(EXPORT)


def test_reconcile_unmounts_what_nobody_needs(table, caplog):
    table.mount(EXPORT)
    table.mount(OTHER)
    mounts = make(table)
    with caplog.at_level(logging.INFO):
        removed = mounts.reconcile(lambda: [OTHER])
    assert removed == [table.get_mount_point(EXPORT)]
    assert set(table.mounted) == {table.get_mount_point(OTHER)}
    assert 'no local user of this host needs it' in caplog.text


def test_reconcile_never_touches_a_share_an_operation_uses(table):
    mounts = make(table)
    with mounts.mounted(EXPORT):
        assert mounts.reconcile(lambda: []) == []
        assert table.mounted


def test_reconcile_rechecks_what_is_needed_under_the_mounts_lock(table):
    """A user that arrived after the first read (a local attach begun meanwhile) keeps it."""
    table.mount(EXPORT)
    reads = iter([[], [EXPORT]])
    assert make(table).reconcile(lambda: next(reads)) == []
    assert table.mounted == {table.get_mount_point(EXPORT): EXPORT}


def test_reconcile_judges_only_the_mounts_its_backend_owns(table):
    table.mount(EXPORT)
    table.mount(OTHER)
    mounts = ShareMounts(table, umount=table.umount, retry_delay=0,
                         owns=lambda export: export == EXPORT)
    assert mounts.reconcile(lambda: []) == [table.get_mount_point(EXPORT)]
    assert table.mounted == {table.get_mount_point(OTHER): OTHER}


def test_a_mount_the_driver_made_before_a_reboot_is_not_taken_for_its_own(table):
    """After a reboot os-brick mounts the share again for a local attach; the record of the
    driver's mount from before the reboot must not make an operation end that mount."""
    mounts = make(table)
    with mounts.mounted(EXPORT):
        pass  # the driver mounted and unmounted it (the record's directory exists)
    with open(mounts._record._path(EXPORT, 'mounted'), 'w') as flag:
        flag.write('another-boot')  # what a crash before the last boot left
    table.mount(EXPORT)  # os-brick's local attach, after the reboot
    with mounts.mounted(EXPORT):
        pass
    assert table.mounted == {table.get_mount_point(EXPORT): EXPORT}


def test_reconcile_ignores_mounts_outside_the_base(table, tmp_path):
    table.mounted['/mnt/elsewhere'] = EXPORT
    assert make(table).reconcile(lambda: pytest.fail('nothing to judge')) == []


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
    assert errors == [] and table.mounted == {} and not mounts.in_use(EXPORT)
