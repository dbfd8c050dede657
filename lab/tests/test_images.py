"""The image path against the lab's Glance: Cinder writes an image into a new ACME volume and
reads a volume back into an image by mounting the volume's share itself (os-brick's remotefs
client under Cinder's mount base) and unmounting it right after.

The images are made here, offline: data from a seeded generator, raw and converted to qcow2 by
qemu-img. The volume's bytes are read straight from the appliance's storage (the container's
data volume), not through Cinder.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from acmelab.appliance import file_sha256
from acmelab.control import stopped
from acmelab.lab import Lab
from acmelab.waits import settled

pytestmark = pytest.mark.lab
IMAGE_MIB = 64
MIB = 1 << 20


def seeded_raw(path: Path, mib: int, seed: int) -> Path:
    """A raw image of ``mib`` MiB of seeded data (no zero block: nothing sparse to skip)."""
    generator = random.Random(seed)
    with path.open('wb') as out:
        for _mib in range(mib):
            out.write(generator.randbytes(MIB))
    return path


@pytest.fixture(scope='module')
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A raw image of IMAGE_MIB MiB and the same as qcow2."""
    folder = tmp_path_factory.mktemp('images')
    raw, qcow2 = seeded_raw(folder / 'image.raw', IMAGE_MIB, 21), folder / 'image.qcow2'
    subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', str(raw), str(qcow2)],
                   check=True)
    return {'raw': raw, 'qcow2': qcow2}


@pytest.fixture(scope='module')
def large_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 GiB: its download into a volume host under TCG lasts long enough to stop Glance in
    the middle of it."""
    return seeded_raw(tmp_path_factory.mktemp('large') / 'large.raw', 1024, 22)


@pytest.fixture
def made(lab: Lab) -> Iterator[dict[str, list[str]]]:
    """What a test made in Cinder and Glance, deleted afterwards."""
    things: dict[str, list[str]] = {'volumes': [], 'images': []}
    yield things
    lab.cinder.delete_all(things['volumes'], 900)
    for image in things['images']:
        lab.cinder.conn.image.delete_image(image, ignore_missing=True)


def mounts_settle(lab: Lab) -> dict[str, list[str]]:
    """The volume hosts' mounts under the backend's base, once none is left (or after 150 s:
    a host unmounts what another ended at its next stats refresh)."""
    return settled(lab.mounts, lambda found: not any(found.values()), 150, interval=5)


def volume_file(lab: Lab, volume_id: str) -> Path:
    share = lab.appliance.share_of(volume_id)
    assert share is not None, f'no share for volume {volume_id}'
    return lab.appliance.volume_file(share, f'volume-{volume_id}')


def upload(lab: Lab, made: dict, path: Path, disk_format: str) -> str:
    image = lab.cinder.conn.image.create_image(
        f'acme-lab-image-{disk_format}-{time.strftime("%H%M%S")}', filename=str(path),
        disk_format=disk_format, container_format='bare', wait=True, timeout=600)
    made['images'].append(image.id)
    return image.id


@pytest.mark.parametrize('disk_format', ['raw', 'qcow2'])
def test_volume_from_image_holds_the_image(lab: Lab, images: dict[str, Path], made: dict,
                                           disk_format: str) -> None:
    image_id = upload(lab, made, images[disk_format], disk_format)
    volume_id = lab.cinder.create(f'acme-lab-from-{disk_format}', lab.backend.volume_type,
                                  size=1, image_id=image_id)
    made['volumes'].append(volume_id)
    reached = lab.cinder.wait_one(volume_id, 900)
    assert reached.status == 'available', f'volume from a {disk_format} image: {reached}'
    volume = lab.cinder.bs.get_volume(volume_id)
    assert volume.is_bootable
    assert volume.volume_image_metadata.get('image_id') == image_id
    data = volume_file(lab, volume_id)
    raw = images['raw']
    assert file_sha256(data, raw.stat().st_size) == file_sha256(raw), 'the volume lacks the image'
    assert data.stat().st_size == 1 << 30
    assert not any(mounts_settle(lab).values()), 'mounts left after the download'


def test_volume_uploaded_to_an_image_is_its_bytes(lab: Lab, images: dict[str, Path],
                                                  made: dict, tmp_path: Path) -> None:
    source = upload(lab, made, images['raw'], 'raw')
    volume_id = lab.cinder.create('acme-lab-to-image', lab.backend.volume_type, size=1,
                                  image_id=source)
    made['volumes'].append(volume_id)
    assert lab.cinder.wait_one(volume_id, 900).status == 'available'
    data, _req = lab.cinder.action(volume_id, 'os-volume_upload_image', {
        'image_name': 'acme-lab-uploaded', 'disk_format': 'raw', 'container_format': 'bare',
        'force': False})
    image_id = data['os-volume_upload_image']['image_id']
    made['images'].append(image_id)
    image = lab.cinder.conn.image.wait_for_status(
        lab.cinder.conn.image.get_image(image_id), 'active', failures=['killed', 'deleted'],
        interval=5, wait=900)
    assert lab.cinder.wait_one(volume_id, 900).status == 'available'
    downloaded = tmp_path / 'uploaded.raw'
    lab.cinder.conn.image.download_image(image, output=str(downloaded))
    assert file_sha256(downloaded) == file_sha256(volume_file(lab, volume_id))
    assert image.size == 1 << 30
    assert not any(mounts_settle(lab).values()), 'mounts left after the upload'


def test_later_volumes_of_an_image_are_appliance_clones(lab: Lab, images: dict[str, Path],
                                                        made: dict) -> None:
    """With the image-volume cache on (acme-lab): the first volume fills the cache, the second
    (larger than the entry) is a clone of the cache entry made by the appliance, then extended:
    the image's bytes do not pass through a volume host again."""
    if not lab.backend.options.get('image_volume_cache_enabled'):
        pytest.skip('the lab backend has no image-volume cache')
    image_id = upload(lab, made, images['raw'], 'raw')
    first = lab.cinder.create('acme-lab-cache-1', lab.backend.volume_type, image_id=image_id)
    made['volumes'].append(first)
    assert lab.cinder.wait_one(first, 900).status == 'available'
    entry = settled(lambda: lab.cinder.image_cache_entries(image_id), bool, 300, interval=5)
    made['volumes'] += list(entry)
    assert len(entry) == 1, f'cache entries of the image: {entry}'
    before = {g.name: g.counters() for g in lab.guests}
    offset = lab.appliance.log_offset()
    # larger than the cache entry: Cinder clones it, then the driver extends the clone
    second = lab.cinder.create('acme-lab-cache-2', lab.backend.volume_type, size=2,
                               image_id=image_id)
    made['volumes'].append(second)
    assert lab.cinder.wait_one(second, 900).status == 'available'
    received = sum(g.counters()['rx'] - before[g.name]['rx'] for g in lab.guests)
    share = lab.appliance.share_of(second)
    assert share['origin_snapshot_id'], f'not a clone: {share}'
    calls = [f'{m} {p} {s}' for m, p, s, _ms in lab.appliance.calls_since(offset)]
    assert 'POST /api/v1/shares 201' in calls, calls
    assert received < IMAGE_MIB * MIB // 4, f'{received} bytes reached the volume hosts'
    raw = images['raw']
    assert file_sha256(volume_file(lab, second), raw.stat().st_size) == file_sha256(raw)
    assert volume_file(lab, second).stat().st_size == 2 << 30
    assert not any(mounts_settle(lab).values())


def test_glance_gone_during_a_download_leaves_an_error_volume_and_no_mount(
        lab: Lab, large_image: Path, made: dict) -> None:
    """glance-api stopped while cinder-volume downloads the image into the new volume: the
    volume ends in error, no host keeps the share mounted, and deleting the volume leaves no
    share on the appliance (Cinder keeps an errored volume until it is deleted)."""
    image_id = upload(lab, made, large_image, 'raw')
    volume_id = lab.cinder.create('acme-lab-glance-gone', lab.backend.volume_type, size=2,
                                  image_id=image_id)
    made['volumes'].append(volume_id)
    status = settled(lambda: lab.cinder.bs.get_volume(volume_id).status,
                     lambda s: s != 'creating', 600, interval=0.5)
    assert status == 'downloading', f'the volume was {status} before Glance stopped'
    with stopped(lab.inventory.supervisor_conf, 'glance-api'):
        reached = lab.cinder.wait_one(volume_id, 900)
    assert reached.status == 'error', reached
    assert not any(mounts_settle(lab).values()), 'mounts left after the failed download'
    _seconds, left = lab.cinder.delete_all([volume_id], 600)
    assert not left, f'volume not deleted: {left}'
    assert lab.appliance.share_of(volume_id) is None, 'the share outlived its volume'
