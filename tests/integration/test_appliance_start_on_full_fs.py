"""The simulator as `appliance/run start --no-container` runs it (rpcbind, ganesha, the API) on
a state directory whose file system NFS clients have filled (quotas are accounted, not
enforced): it starts again (on space the supervisor keeps in reserve), reads answer, writes
are 507 NO_SPACE.

The state directory is on a small tmpfs this test mounts (root only) and removes; ganesha gets
ports of its own (12349, 12348, 12503)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Appliance, require_tools

pytestmark = [pytest.mark.integration]

PORTS = ['--nfs-port', '12349', '--mnt-port', '12348', '--nlm-port', '12503']


@pytest.fixture
def small_state(tmp_path: Path) -> Iterator[Path]:
    """A state directory on a 16 MiB tmpfs, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip('mounting a small file system needs root')
    require_tools('rpcbind', 'ganesha.nfsd')
    point = tmp_path / 'fs'
    point.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', str(point)], check=True)
    try:
        yield point / 'state'
    finally:
        subprocess.run(['umount', '-l', str(point)], check=True)


def fill(directory: Path) -> None:
    """Fill the file system of `directory` to the last byte."""
    size = 1 << 20
    with open(directory / f'filler-{os.urandom(4).hex()}', 'ab', buffering=0) as out:
        while size:
            try:
                out.write(b'x' * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                size //= 2


def test_the_appliance_starts_again_on_a_full_file_system(small_state: Path) -> None:
    appliance = Appliance(small_state, ['--no-container', *PORTS])
    try:
        appliance.start()
        share = appliance.call('POST', '/shares', 201, json={'name': 'a', 'pool': 'pool1'}).json()
        fill(small_state / 'data' / 'shares' / share['id'])
        appliance.stop()
        appliance.start()  # on the space the supervisor kept in reserve
        fill(small_state / 'data' / 'shares' / share['id'])  # and the clients take that too
        assert appliance.call('GET', f"/shares/{share['id']}", 200).json()['name'] == 'a'
        appliance.call('POST', '/shares', 507, json={'name': 'b', 'pool': 'pool1'})
    finally:
        appliance.stop()
