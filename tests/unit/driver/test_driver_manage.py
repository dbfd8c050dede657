"""Manage and unmanage (issue 9, "Manage / unmanage"): shares and snapshots made outside
Cinder, on the real simulator with Cinder's real database."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid

import pytest
from driver_helpers import MY_IP, QUOTA, assert_clean

from cinder import exception, objects
from cinder.db import api as db
from cinder.objects import fields

GIB = 1024**3
OLD_HOST = '192.0.2.50'  # a client the foreign share was exported to before


def rules(appliance, share_id: str) -> list[tuple[str, str, bool]]:
    share = next(s for s in appliance.shares() if s.id == share_id)
    return [(r.clients, r.access, r.root_squash) for r in share.nfs_rules]


def state(appliance) -> list:
    """Everything manage may change: names, quotas, rules, roots, files, snapshots."""
    return [(s.id, s.name, s.quota_bytes, s.nfs_enabled, s.nfs_rules, s.root,
             sorted(os.listdir(appliance.share_dir(s.id))), appliance.snapshot_names(s.id))
            for s in appliance.shares()]


@pytest.fixture
def foreign_share(appliance):
    """A share made outside Cinder (exported to another host) holding one 1.5 GiB file."""
    share = appliance.create_share('legacy', quota_bytes=10 * GIB, nfs={
        'enabled': True, 'rules': [{'clients': OLD_HOST, 'access': 'rw'}]})
    with open(appliance.share_dir(share['id']) / 'disk.img', 'wb') as f:
        f.truncate(GIB + GIB // 2)
    return share


def attachment(ctx, vol, ip: str) -> objects.VolumeAttachment:
    return objects.VolumeAttachment(
        context=ctx, id=str(uuid.uuid4()), volume_id=vol.id, attached_host='compute1',
        attach_status=fields.VolumeAttachStatus.ATTACHED,
        connector={'ip': ip, 'host': 'compute1'})


# -- manage a volume ---------------------------------------------------------------------------
@pytest.mark.parametrize('ref_key', ['source-name', 'source-id'])
def test_managed_volume_is_whole_gib_renamed_and_file_extended(driver, appliance,
                                                               foreign_share, new_volume,
                                                               ref_key):
    ref = {ref_key: foreign_share['name'] if ref_key == 'source-name' else foreign_share['id']}
    vol = new_volume(size=None)
    assert driver.manage_existing_get_size(vol, ref) == 2  # 1.5 GiB, rounded up
    vol.size = 2
    vol.update(driver.manage_existing(vol, ref))
    share = appliance.shares()[0]
    assert vol.provider_id == share.id == foreign_share['id']
    assert share.name == 'cinder-' + vol.name and share.quota_bytes == QUOTA[2]
    assert vol.provider_location == f'127.0.0.1:/pool1/cinder-{vol.name}'
    assert os.listdir(appliance.share_dir(share.id)) == [vol.name]
    info = os.stat(appliance.share_dir(share.id) / vol.name)
    assert info.st_size == 2 * GIB and info.st_blocks == 0  # extended, still sparse
    assert oct(info.st_mode & 0o777) == oct(0o660)
    assert_clean(driver, appliance, shares=1)


def test_managed_volume_export_rules_reset_to_this_host_and_attachment_connectors(
        driver, appliance, foreign_share, new_volume, ctx):
    vol = new_volume(size=2)
    vol.volume_attachment = objects.VolumeAttachmentList(
        objects=[attachment(ctx, vol, '10.0.0.9')])
    driver.manage_existing(vol, {'source-name': 'legacy'})
    assert rules(appliance, foreign_share['id']) == [(MY_IP, 'rw', False),
                                                     ('10.0.0.9', 'rw', False)]


def test_managed_volume_secure_mode_root_for_cinder_user_and_root_squash(
        make_driver, appliance, foreign_share, new_volume):
    drv = make_driver(nas_secure_file_operations='true')
    vol = new_volume(size=2)
    drv.manage_existing(vol, {'source-name': 'legacy'})
    info = os.stat(appliance.share_dir(foreign_share['id']))
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (
        os.getuid(), os.getgid(), 0o775)
    assert rules(appliance, foreign_share['id']) == [(MY_IP, 'rw', True)]


def test_managed_volume_larger_than_the_file_gets_the_requested_size(driver, appliance,
                                                                     foreign_share,
                                                                     new_volume):
    vol = new_volume(size=3)
    driver.manage_existing(vol, {'source-name': 'legacy'})
    assert os.stat(appliance.share_dir(foreign_share['id']) / vol.name).st_size == 3 * GIB
    assert appliance.shares()[0].quota_bytes == QUOTA[3]


@pytest.mark.parametrize('sparse', [True, False],
                         ids=['sparse', 'thick'])
def test_managed_file_not_a_whole_mib_is_extended_to_exactly_whole_gib(
        make_driver, appliance, foreign_share, new_volume, sparse):
    drv = make_driver(nfs_sparsed_volumes=sparse)
    path = appliance.share_dir(foreign_share['id']) / 'disk.img'
    os.truncate(path, GIB - 1)
    vol = new_volume(size=None)
    vol.size = drv.manage_existing_get_size(vol, {'source-name': 'legacy'})
    drv.manage_existing(vol, {'source-name': 'legacy'})
    assert vol.size == 1
    assert os.path.getsize(appliance.share_dir(foreign_share['id']) / vol.name) == GIB


@pytest.mark.parametrize('migrated', [False, True], ids=['volume', 'migrated-volume'])
def test_managing_a_share_that_backs_a_cinder_volume_is_refused(driver, appliance, db_volume,
                                                                new_volume, migrated):
    """Cinder's check_already_managed_volume: the share's name names a volume in the DB (for
    a migrated volume, the name of the migration's deleted temporary volume)."""
    owner = db_volume(**({'_name_id': str(uuid.uuid4())} if migrated else {}))
    owner.update(driver.create_volume(owner))
    before = state(appliance)
    appliance.calls.clear()
    for ref in ({'source-name': 'cinder-' + owner.name}, {'source-id': owner.provider_id}):
        with pytest.raises(exception.ManageExistingAlreadyManaged, match=owner.name):
            driver.manage_existing_get_size(new_volume(), ref)
        with pytest.raises(exception.ManageExistingAlreadyManaged):
            driver.manage_existing(new_volume(), ref)
    assert appliance.writes == [] and state(appliance) == before


def test_failed_manage_then_delete_of_the_error_managing_volume_keeps_the_data(
        driver, appliance, foreign_share, new_volume):
    vol = new_volume(size=2)
    appliance.add_fault(method='PUT', path='/shares/[^/]+/nfs', nth=2, action='fail',
                        status=500)  # the 1st grants this host, the 2nd resets the rules
    with pytest.raises(exception.VolumeBackendAPIException):
        driver.manage_existing(vol, {'source-name': 'legacy'})
    driver.delete_volume(vol)  # what Cinder does when the user deletes it
    assert [s.id for s in appliance.shares()] == [foreign_share['id']]


def test_manage_whose_rename_answer_is_lost_then_error_managing_delete_keeps_the_data(
        driver, appliance, foreign_share, new_volume):
    vol = new_volume(size=2)
    appliance.add_fault(method='PATCH', path='/shares/[^/]+', action='drop', when='after')
    with pytest.raises(exception.VolumeBackendAPIException, match='cannot reach'):
        driver.manage_existing(vol, {'source-name': 'legacy'})
    vol.status = 'error_managing_deleting'  # what Cinder passes when the user deletes it
    driver.delete_volume(vol)
    assert [s.id for s in appliance.shares()] == [foreign_share['id']]


def test_unmanaged_volume_can_be_managed_again_once_gone_from_cinder(driver, appliance,
                                                                     foreign_share,
                                                                     db_volume, new_volume):
    first = db_volume(size=2)
    first.update(driver.manage_existing(first, {'source-name': 'legacy'}))
    ref = {'source-name': 'cinder-' + first.name}
    with pytest.raises(exception.ManageExistingAlreadyManaged):
        driver.manage_existing(new_volume(size=2), ref)
    driver.unmanage(first)
    first.destroy()  # Cinder's unmanage deletes the row
    second = new_volume(size=2)
    second.update(driver.manage_existing(second, ref))
    assert [s.name for s in appliance.shares()] == ['cinder-' + second.name]
    assert os.listdir(appliance.share_dir(second.provider_id)) == [second.name]
    assert_clean(driver, appliance, shares=1)


def test_lock_files_of_a_managed_volume_go_with_its_share(driver, foreign_share, db_volume,
                                                          cinder_runtime):
    vol = db_volume(size=2)
    vol.update(driver.manage_existing(vol, {'source-name': 'legacy'}))  # the manage lock too
    driver.delete_volume(vol)
    driver.clean_volume_file_locks(vol.id)
    left = [p.name for p in (cinder_runtime / 'locks').iterdir()]
    assert not [n for n in left if foreign_share['id'] in n or vol.id in n], left


def test_unmanage_releases_a_local_mount_and_keeps_the_share(driver, appliance, volume):
    vol = volume()
    driver._remotefsclient.mount(vol.provider_location)
    appliance.calls.clear()
    driver.unmanage(vol)
    assert appliance.writes == []
    assert_clean(driver, appliance, shares=1)


# -- references that cannot be managed: refused, nothing changed ----------------------------
@pytest.mark.parametrize('internal', ['cinder-deleted-', 'cinder-revert-'])
def test_internal_shares_are_refused(driver, appliance, new_volume, internal):
    share = appliance.create_share(internal + str(uuid.uuid4()))
    (appliance.share_dir(share['id']) / 'disk.img').write_bytes(b'x')
    before = state(appliance)
    for ref in ({'source-name': share['name']}, {'source-id': share['id']}):
        with pytest.raises(exception.ManageExistingInvalidReference, match='internal'):
            driver.manage_existing_get_size(new_volume(), ref)
        with pytest.raises(exception.ManageExistingInvalidReference, match='internal'):
            driver.manage_existing(new_volume(), ref)
    assert appliance.writes == [] and state(appliance) == before


@pytest.mark.parametrize('ref, reason', [
    ({'source-name': 'nope'}, None), ({'source-id': 'nope'}, None), ({}, None),
    ({'source-name': 'other-pool'}, None), ({'source-id': 'other-pool'}, 'pool1')],
    ids=['unknown-name', 'unknown-id', 'empty', 'other-pool', 'other-pool-by-id'])
def test_bad_reference_is_invalid_and_changes_nothing(driver, appliance, foreign_share,
                                                      new_volume, ref, reason):
    other = appliance.create_share('other-pool', pool='pool2')
    ref = {key: other['id'] if key == 'source-id' and value == 'other-pool' else value
           for key, value in ref.items()}
    before = state(appliance)
    with pytest.raises(exception.ManageExistingInvalidReference, match=reason):
        driver.manage_existing_get_size(new_volume(), ref)
    with pytest.raises(exception.ManageExistingInvalidReference, match=reason):
        driver.manage_existing(new_volume(), ref)
    assert appliance.writes == [] and state(appliance) == before
    assert_clean(driver, appliance, shares=2)


@pytest.mark.parametrize('content', [['disk.img', 'other'], []], ids=['two-files', 'empty'])
def test_share_without_exactly_one_file_is_refused_and_unmounted(
        driver, appliance, foreign_share, new_volume, content):
    share_dir = appliance.share_dir(foreign_share['id'])
    (share_dir / 'disk.img').unlink()
    for name in content:
        (share_dir / name).write_bytes(b'x')
    with pytest.raises(exception.ManageExistingInvalidReference, match='exactly one'):
        driver.manage_existing_get_size(new_volume(), {'source-name': 'legacy'})
    assert driver._remotefsclient.table == {}
    assert sorted(os.listdir(share_dir)) == content
    assert appliance.shares()[0].name == 'legacy'


@pytest.mark.parametrize('secure', ['false', 'true'])
def test_refused_manage_leaves_the_foreign_share_as_it_was(make_driver, appliance,
                                                           foreign_share, new_volume, secure):
    drv = make_driver(nas_secure_file_operations=secure)
    (appliance.share_dir(foreign_share['id']) / 'other').write_bytes(b'x')
    before = state(appliance)
    with pytest.raises(exception.ManageExistingInvalidReference, match='exactly one'):
        drv.manage_existing(new_volume(size=2), {'source-name': 'legacy'})
    assert state(appliance) == before


def test_secure_mode_refuses_a_file_of_another_user_before_any_change(make_driver, appliance,
                                                                      foreign_share,
                                                                      new_volume):
    """Cinder asks manage_existing_get_size first: that refuses, with the reason."""
    drv = make_driver(nas_secure_file_operations='true')
    os.chown(appliance.share_dir(foreign_share['id']) / 'disk.img', 4242, 4242)
    with pytest.raises(exception.ManageExistingInvalidReference, match='uid 4242'):
        drv.manage_existing_get_size(new_volume(), {'source-name': 'legacy'})
    share = appliance.shares()[0]
    assert share.name == 'legacy' and share.quota_bytes == 10 * GIB
    assert os.listdir(appliance.share_dir(share.id)) == ['disk.img']


# -- manage a snapshot --------------------------------------------------------------------------
@pytest.mark.parametrize('ref_key', ['source-name', 'source-id'])
def test_managed_snapshot_is_renamed_to_cinders_snapshot_name(driver, appliance, volume,
                                                              new_snapshot, ref_key):
    vol = volume()
    raw = appliance.create_snapshot(vol.provider_id, 'before-upgrade')
    snap = new_snapshot(vol)
    ref = {ref_key: raw['name'] if ref_key == 'source-name' else raw['id']}
    assert driver.manage_existing_snapshot_get_size(snap, ref) == 1
    assert driver.manage_existing_snapshot(snap, ref) == {'provider_id': raw['id']}
    assert appliance.snapshot_names(vol.provider_id) == [snap.name]
    driver.unmanage_snapshot(snap)
    assert appliance.snapshot_names(vol.provider_id) == [snap.name]


def test_managed_snapshot_already_named_by_cinder_needs_no_rename(driver, appliance, volume,
                                                                  new_snapshot):
    vol = volume()
    snap = new_snapshot(vol)
    raw = appliance.create_snapshot(vol.provider_id, snap.name)
    appliance.calls.clear()
    assert driver.manage_existing_snapshot(snap, {'source-id': raw['id']}) == {
        'provider_id': raw['id']}
    assert appliance.writes == []


@pytest.mark.parametrize('ref', ['unknown-name', 'unknown-id', 'snapshot-of-another-volume'])
def test_bad_snapshot_reference_is_invalid_and_renames_nothing(driver, appliance, volume,
                                                               new_snapshot, ref):
    vol, other = volume(), volume()
    theirs = appliance.create_snapshot(other.provider_id, 'theirs')
    refs = {'unknown-name': {'source-name': 'nope'}, 'unknown-id': {'source-id': 'nope'},
            'snapshot-of-another-volume': {'source-id': theirs['id']}}
    appliance.calls.clear()
    for manage in (driver.manage_existing_snapshot_get_size, driver.manage_existing_snapshot):
        with pytest.raises(exception.ManageExistingInvalidReference):
            manage(new_snapshot(vol), refs[ref])
    assert appliance.writes == []
    assert appliance.snapshot_names(other.provider_id) == ['theirs']


# -- manageable lists -------------------------------------------------------------------------
def by_reference(entries: list[dict]) -> dict[str, dict]:
    return {e['reference']['source-name']: e for e in entries}


def test_manageable_volumes_mark_managed_and_internal_shares_unsafe(driver, appliance,
                                                                    foreign_share, volume):
    managed = volume()
    for internal in ('cinder-deleted-' + str(uuid.uuid4()), 'cinder-revert-x'):
        appliance.create_share(internal)
    appliance.create_share('elsewhere', pool='pool2')
    before = state(appliance)
    entries = by_reference(driver.get_manageable_volumes([managed], None, 10, 0, ['size'],
                                                         ['asc']))
    assert len(entries) == 4  # pool1 only
    legacy = entries['legacy']
    assert legacy['safe_to_manage'] is True and legacy['reason_not_safe'] is None
    assert legacy['size'] == 2 and legacy['cinder_id'] is None  # what manage gives: 1.5 GiB
    mine = entries['cinder-' + managed.name]
    assert mine['safe_to_manage'] is False and mine['cinder_id'] == managed.id
    assert mine['size'] == managed.size == 1  # its quota's headroom is no extra GiB
    assert mine['reason_not_safe'] == 'already managed'
    internal = [e for name, e in entries.items() if name.startswith('cinder-deleted-')
                or name.startswith('cinder-revert-')]
    assert len(internal) == 2
    assert all(not e['safe_to_manage'] and 'internal' in e['reason_not_safe']
               for e in internal)
    assert state(appliance) == before  # the look into legacy put its rules back
    assert_clean(driver, appliance, shares=5)


def qemu_img(*args: str) -> None:
    subprocess.run(['qemu-img', *args], check=True, capture_output=True)


def make_qcow2(share_dir, name: str = 'disk.img') -> None:
    (share_dir / 'disk.img').unlink()
    qemu_img('create', '-q', '-f', 'qcow2', str(share_dir / name), '1G')


def make_backed_qcow2(share_dir) -> None:
    """A qcow2 whose backing file is outside the share (what a manage must never adopt)."""
    (share_dir / 'disk.img').unlink()
    qemu_img('create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/hostname',
             str(share_dir / 'disk.img'))


MAKERS = {'qcow2': (make_qcow2, 'is qcow2: only raw files'),
          'backing-file': (make_backed_qcow2, 'has a backing file')}


@pytest.mark.parametrize('kind', MAKERS)
def test_manage_refuses_a_file_that_is_not_raw_and_changes_nothing(driver, appliance,
                                                                   foreign_share, new_volume,
                                                                   kind):
    make, reason = MAKERS[kind]
    make(appliance.share_dir(foreign_share['id']))
    before = state(appliance)
    with pytest.raises(exception.ManageExistingInvalidReference, match=reason):
        driver.manage_existing_get_size(new_volume(), {'source-name': 'legacy'})
    with pytest.raises(exception.ManageExistingInvalidReference, match=reason):
        driver.manage_existing(new_volume(size=2), {'source-name': 'legacy'})
    assert state(appliance) == before
    assert_clean(driver, appliance, shares=1)


def test_manageable_volumes_tell_the_size_manage_gives_and_refuse_what_manage_refuses(
        driver, appliance):
    """Only a share holding exactly one raw file is safe, with that file's size rounded up
    (not the share's quota); each other one says why, as a manage of it would."""
    contents = {'raw': ['disk.img'], 'no-file': [], 'two-files': ['a.img', 'b.img'],
                'qcow2': None, 'backing-file': None}
    for name, files in contents.items():
        share = appliance.create_share(name, quota_bytes=10 * GIB)
        share_dir = appliance.share_dir(share['id'])
        for file in ['disk.img'] if files is None else files:
            with open(share_dir / file, 'wb') as image:
                image.truncate(3 * GIB // 2)
        if files is None:
            MAKERS[name][0](share_dir)
    before = state(appliance)
    entries = by_reference(driver.get_manageable_volumes([], None, 10, 0, ['size'], ['asc']))
    assert {name: (e['safe_to_manage'], e['size']) for name, e in entries.items()} == {
        'raw': (True, 2), 'no-file': (False, 10), 'two-files': (False, 10),
        'qcow2': (False, 10), 'backing-file': (False, 10)}
    assert 'holds 0' in entries['no-file']['reason_not_safe']
    assert 'holds 2' in entries['two-files']['reason_not_safe']
    assert 'only raw files' in entries['qcow2']['reason_not_safe']
    assert 'backing file' in entries['backing-file']['reason_not_safe']
    assert state(appliance) == before
    assert_clean(driver, appliance, shares=5)


def test_manageable_volumes_mark_a_share_of_another_backends_volume_unsafe(
        make_driver, appliance, db_volume, tmp_path):
    """Another backend on the same appliance pool (another volume type): its volumes' shares
    are listed here too, and were offered as safe to manage (issue 20)."""
    other_backend = make_driver(acme_share_prefix='gold-', base=tmp_path / 'gold')
    theirs = db_volume()
    theirs.update(other_backend.create_volume(theirs))
    db.volume_update(theirs._context, theirs.id, {'provider_id': theirs.provider_id})
    driver = make_driver(acme_share_prefix='cinder-')
    entries = by_reference(driver.get_manageable_volumes([], None, 10, 0, ['size'], ['asc']))
    entry = entries['gold-' + theirs.name]
    assert entry['safe_to_manage'] is False
    assert entry['reason_not_safe'] == 'already managed by another backend'


def test_manageable_volumes_paginate(driver, appliance):
    for name in ('a', 'b', 'c', 'd', 'e'):
        appliance.create_share(name, quota_bytes=GIB)
    page = driver.get_manageable_volumes([], None, 2, 1, ['reference'], ['asc'])
    assert [e['reference']['source-name'] for e in page] == ['b', 'c']
    page = driver.get_manageable_volumes([], {'source-name': 'c'}, 10, 0, ['reference'],
                                         ['asc'])
    assert [e['reference']['source-name'] for e in page] == ['d', 'e']
    page = driver.get_manageable_volumes([], None, 2, 0, ['reference'], ['desc'])
    assert [e['reference']['source-name'] for e in page] == ['e', 'd']


def test_manageable_snapshots_mark_managed_and_internal_ones_unsafe(driver, appliance, volume,
                                                                    snapshot, new_volume):
    vol = volume()
    snap = snapshot(vol)
    appliance.create_snapshot(vol.provider_id, 'foreign')
    clone = new_volume()
    clone.update(driver.create_cloned_volume(clone, vol))
    entries = by_reference(driver.get_manageable_snapshots([snap], None, 10, 0, ['size'],
                                                           ['asc']))
    assert set(entries) == {snap.name, 'foreign', 'cinder-clone-' + clone.id}
    foreign = entries['foreign']
    assert foreign['safe_to_manage'] is True and foreign['size'] == 1
    assert foreign['source_reference'] == {'source-name': 'cinder-' + vol.name}
    assert entries[snap.name]['cinder_id'] == snap.id
    assert entries[snap.name]['safe_to_manage'] is False
    hidden = entries['cinder-clone-' + clone.id]
    assert hidden['safe_to_manage'] is False and 'internal' in hidden['reason_not_safe']


def test_manageable_snapshots_paginate(driver, appliance, volume):
    vol = volume()
    for name in ('s1', 's2', 's3'):
        appliance.create_snapshot(vol.provider_id, name)
    page = driver.get_manageable_snapshots([], None, 1, 1, ['reference'], ['asc'])
    assert [e['reference']['source-name'] for e in page] == ['s2']


# -- managed snapshots taken before their share was managed -----------------------------------
def manage_with_old_snapshot(drv, appliance, share, new_volume, new_snapshot):
    """'legacy' (one 1.5 GiB disk.img) snapshotted as 'before', then both managed."""
    appliance.create_snapshot(share['id'], 'before')
    vol = new_volume(size=2)
    vol.update(drv.manage_existing(vol, {'source-name': 'legacy'}))
    snap = new_snapshot(vol)
    snap.update(drv.manage_existing_snapshot(snap, {'source-name': 'before'}))
    return vol, snap


@pytest.mark.parametrize('secure', ['false', 'true'])
def test_revert_to_a_snapshot_managed_with_its_share_keeps_the_volume_usable(
        make_driver, appliance, foreign_share, new_volume, new_snapshot, ctx, secure):
    drv = make_driver(nas_secure_file_operations=secure)
    vol, snap = manage_with_old_snapshot(drv, appliance, foreign_share, new_volume,
                                         new_snapshot)
    root = appliance.shares()[0].root
    drv.revert_to_snapshot(ctx, vol, snap)
    assert os.listdir(appliance.share_dir(vol.provider_id)) == [vol.name]
    assert os.path.getsize(appliance.share_dir(vol.provider_id) / vol.name) == 2 * GIB
    assert appliance.shares()[0].root == root


def test_volume_from_a_snapshot_managed_with_its_share_has_whole_gib(
        driver, appliance, foreign_share, new_volume, new_snapshot):
    _vol, snap = manage_with_old_snapshot(driver, appliance, foreign_share, new_volume,
                                          new_snapshot)
    clone = new_volume(size=snap.volume_size)
    clone.update(driver.create_volume_from_snapshot(clone, snap))
    assert os.listdir(appliance.share_dir(clone.provider_id)) == [clone.name]
    assert os.path.getsize(appliance.share_dir(clone.provider_id) / clone.name) == 2 * GIB


# -- issue 20: no two Cinder records on one appliance object ----------------------------------
def db_snapshot(ctx, vol, **updates) -> objects.Snapshot:
    """A snapshot that exists in Cinder's database, of a volume that does."""
    snap = objects.Snapshot(context=ctx, volume_id=vol.id, volume_size=vol.size,
                            volume_type_id=vol.volume_type_id,
                            status=fields.SnapshotStatus.CREATING, **updates)
    snap.create()
    snap.volume = vol
    snap.obj_reset_changes(['volume'])
    return snap


def recorded(ctx, snap, model: dict) -> None:
    """What the volume manager saves of the driver's answer."""
    db.snapshot_update(ctx, snap.id, model)
    snap.update(model)
    snap.obj_reset_changes()


@pytest.mark.parametrize('ref', [
    {}, {'source-guid': 'before-upgrade'}, {'source_name': 'before-upgrade'},
    {'source-name': None}, {'source-name': ''}, {'source-id': None},
    {'source-name': 'before-upgrade', 'source-id': 'x'}],
    ids=['empty', 'source-guid', 'typo', 'null-name', 'empty-name', 'null-id', 'both'])
def test_snapshot_manage_reference_naming_nothing_usable_takes_no_snapshot(
        driver, appliance, volume, new_snapshot, ref):
    """Data loss (issue 20): such a reference took the share's oldest snapshot."""
    vol = volume()
    appliance.create_snapshot(vol.provider_id, 'before-upgrade')
    appliance.calls.clear()
    for manage in (driver.manage_existing_snapshot_get_size, driver.manage_existing_snapshot):
        with pytest.raises(exception.ManageExistingInvalidReference, match='exactly one'):
            manage(new_snapshot(vol), ref)
    assert appliance.writes == []
    assert appliance.snapshot_names(vol.provider_id) == ['before-upgrade']


def test_volume_manage_reference_naming_nothing_usable_is_invalid(driver, appliance,
                                                                  foreign_share, new_volume):
    before = state(appliance)
    for ref in ({'source-guid': 'legacy'}, {'source-name': None},
                {'source-name': 'legacy', 'source-id': foreign_share['id']}):
        with pytest.raises(exception.ManageExistingInvalidReference, match='exactly one'):
            driver.manage_existing(new_volume(), ref)
    assert appliance.writes == [] and state(appliance) == before


@pytest.mark.parametrize('ref_key', ['source-name', 'source-id'])
def test_snapshot_that_backs_a_cinder_snapshot_cannot_be_managed_again(
        driver, appliance, ctx, db_volume, ref_key):
    """Deleting either of two Cinder snapshots on one appliance snapshot lost the other's."""
    vol = db_volume()
    vol.update(driver.create_volume(vol))
    taken = db_snapshot(ctx, vol)
    recorded(ctx, taken, driver.create_snapshot(taken))
    raw = appliance.create_snapshot(vol.provider_id, 'before-upgrade')
    first = db_snapshot(ctx, vol)
    recorded(ctx, first, driver.manage_existing_snapshot(first, {'source-name': 'before-upgrade'}))
    appliance.calls.clear()
    for existing in (taken, first):
        ref = {ref_key: existing.name if ref_key == 'source-name' else existing.provider_id}
        second = db_snapshot(ctx, vol)
        for manage in (driver.manage_existing_snapshot_get_size,
                       driver.manage_existing_snapshot):
            with pytest.raises(exception.ManageExistingAlreadyManaged):
                manage(second, ref)
    assert appliance.writes == []
    assert sorted(appliance.snapshot_names(vol.provider_id)) == sorted([taken.name, first.name])
    assert first.provider_id == raw['id']


@pytest.mark.parametrize('ref_key', ['source-name', 'source-id'])
def test_two_concurrent_manages_of_one_share_exactly_one_wins(make_driver, appliance,
                                                              foreign_share, db_volume,
                                                              ref_key, tmp_path):
    """Two cinder-volume services (two drivers, each its mount base), two volumes, one
    share, at once."""
    drivers = [make_driver(), make_driver(base=tmp_path / 'mnt-2')]
    vols = [db_volume(size=2), db_volume(size=2)]
    ref = {ref_key: 'legacy' if ref_key == 'source-name' else foreign_share['id']}
    start = threading.Barrier(2)
    outcomes: list = [None, None]

    def manage(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = drivers[index].manage_existing(vols[index], dict(ref))
        except exception.CinderException as error:
            outcomes[index] = error

    threads = [threading.Thread(target=manage, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    won = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, dict)]
    assert len(won) == 1, outcomes
    lost = outcomes[1 - won[0]]
    assert isinstance(lost, (exception.ManageExistingAlreadyManaged,
                             exception.ManageExistingInvalidReference)), lost
    share = appliance.shares()[0]
    assert share.name == 'cinder-' + vols[won[0]].name
    assert os.listdir(appliance.share_dir(share.id)) == [vols[won[0]].name]
    for drv in drivers:
        assert_clean(drv, appliance, shares=1)
