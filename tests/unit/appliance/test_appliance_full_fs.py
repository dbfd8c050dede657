"""A full data file system (NFS clients can fill it: quotas are accounted, not enforced): the
API answers 507 NO_SPACE, the log loses whole records only, and the appliance still starts.

The data directory is on a small tmpfs this test mounts (root only) and removes."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from appliance_helpers import API, PASSWORD, USER, assert_error, create_share, started

from acme_appliance import cli, ganesha
from acme_appliance.errors import ApiError
from acme_appliance.supervisor import PIDS_FILE, Supervisor

FS_SIZE = "4m"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    point = tmp_path / "fs"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(point)],
                   check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=True)


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte (as an NFS client could)."""
    filler = directory / "filler"
    size = 1 << 20
    with open(filler, "ab", buffering=0) as out:
        while size:
            try:
                out.write(b"x" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                size //= 2
    return filler


def login(client) -> object:
    return client.post(f"{API}/auth/login", json={"username": USER, "password": PASSWORD})


def test_logins_and_writes_on_a_full_file_system_are_507(small_fs: Path) -> None:
    data, conf = small_fs / "data", small_fs / "ganesha"
    ganesha.write_config(conf, "127.0.0.1", 2049, 20048, 32803)
    with started(data, ganesha_conf_dir=conf) as client:
        rules = {"enabled": True, "rules": [{"clients": "*", "access": "rw"}]}
        share = create_share(client, "a", nfs=rules)
        filler = fill(data / "shares" / share["id"])
        assert_error(login(client), 507, "NO_SPACE")
        reply = client.get(f"{API}/shares/{share['id']}")  # measures the share: no space to keep
        assert reply.status_code == 200 and reply.json()["id"] == share["id"]
        assert_error(client.post(f"{API}/shares", json={"name": "b", "pool": "pool1"}),
                     507, "NO_SPACE")
        assert_error(client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": False}),
                     507, "NO_SPACE")
        with pytest.raises(ApiError) as exports_error:  # the exports file, written without a
            client.app.state.appliance.sync_exports(reexport="/pool1/a")  # database change
        assert exports_error.value.code == "NO_SPACE"
        filler.unlink()
        assert login(client).status_code == 200


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_log_loses_whole_records_only_on_a_full_file_system(
        small_fs: Path, root_logging: None) -> None:
    log_file = small_fs / "appliance.log"
    cli.setup_logging(str(log_file))
    log = logging.getLogger("acme_appliance.test")
    log.info("before")
    filler = fill(small_fs)
    log.info("long %s", "y" * 64 * 1024)
    assert log_file.read_text().endswith("before\n")
    filler.unlink()
    log.info("after")
    lines = log_file.read_text().splitlines()
    assert lines[0].endswith("before")
    assert "1 log records were lost: no space left" in lines[1]
    assert lines[2].endswith("after") and len(lines) == 3


def test_the_appliance_starts_on_a_full_file_system(small_fs: Path) -> None:
    data, conf = small_fs / "data", small_fs / "ganesha"
    with started(data, ganesha_conf_dir=conf) as client:
        create_share(client, "a")
    ganesha.write_config(conf, "127.0.0.1", 2049, 20048, 32803)
    fill(small_fs)
    ganesha.write_config(conf, "127.0.0.1", 2049, 20048, 32803)  # unchanged: nothing to write
    supervisor = Supervisor(argparse.Namespace(state_dir=str(small_fs)))
    supervisor.record("api", 12345)
    assert not (small_fs / PIDS_FILE).exists() and supervisor.pids["api"] == 12345
    with started(data, token="Bearer unknown", ganesha_conf_dir=conf) as client:
        assert client.get(f"{API}/health").status_code == 200
        assert_error(login(client), 507, "NO_SPACE")
