"""Storage helpers: sparse copies, allocated bytes, start-up reconciliation."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from appliance_helpers import APPLIANCE

from acme_appliance import trees
from acme_appliance.records import Root
from acme_appliance.storage import Storage
from acme_appliance.trees import allocated_bytes, copy_file, copy_tree

MIB = 1 << 20
NOBODY = 65534


def sparse(path: Path, chunks: list[int], size: int = 16 * MIB) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset in chunks:
            handle.seek(offset)
            handle.write(os.urandom(64 * 1024))


@pytest.mark.parametrize("copy_range", [True, False], ids=["copy_file_range", "pread"])
def test_copy_file_keeps_holes_and_data(tmp_path: Path, monkeypatch, copy_range: bool) -> None:
    """Without reflinks; without copy_file_range (another file system) it falls back to pread."""
    def unsupported(*args):
        raise OSError(18, "cross-device")

    monkeypatch.setattr(trees, "_reflink", lambda a, b: False)
    if not copy_range:
        monkeypatch.setattr(os, "copy_file_range", unsupported)
    src = tmp_path / "src"
    sparse(src, [0, 5 * MIB, 16 * MIB - 64 * 1024])
    copy_file(src, tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == src.read_bytes()
    assert (tmp_path / "dst").stat().st_blocks * 512 <= 512 * 1024


def test_copy_file_trailing_hole_and_empty(tmp_path: Path) -> None:
    src = tmp_path / "hole"
    sparse(src, [], size=8 * MIB)
    copy_file(src, tmp_path / "copy")
    assert (tmp_path / "copy").stat().st_size == 8 * MIB
    assert (tmp_path / "copy").stat().st_blocks == 0
    (tmp_path / "empty").write_bytes(b"")
    copy_file(tmp_path / "empty", tmp_path / "empty2")
    assert (tmp_path / "empty2").read_bytes() == b""


def test_copy_tree_skips_special_files_and_keeps_modes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("x")
    os.chmod(src / "d" / "f", 0o640)
    os.mkfifo(src / "fifo")
    os.symlink("/etc/passwd", src / "abs-link")
    copy_tree(src, tmp_path / "dst")
    assert oct((tmp_path / "dst" / "d" / "f").stat().st_mode & 0o777) == oct(0o640)
    assert not (tmp_path / "dst" / "fifo").exists()
    assert os.readlink(tmp_path / "dst" / "abs-link") == "/etc/passwd"


def test_allocated_bytes_counts_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * MIB)
    os.link(tmp_path / "a", tmp_path / "b")
    sparse(tmp_path / "s", [], size=100 * MIB)
    assert MIB <= allocated_bytes(tmp_path) < MIB + 64 * 1024
    assert allocated_bytes(tmp_path / "missing") == 0


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "..", "/etc"])
def test_directory_names_must_be_uuids(tmp_path: Path, bad: str) -> None:
    store = Storage(tmp_path)
    with pytest.raises(ValueError):
        store.share_dir(bad)
    with pytest.raises(ValueError):
        store.snapshot_dir(bad)


def test_reconcile_recreates_missing_directories(tmp_path: Path) -> None:
    store = Storage(tmp_path)
    lost = str(uuid.uuid4())
    actions = store.reconcile({lost: Root(1234, 5678, 0o750)}, set())
    assert store.share_dir(lost).is_dir() and any("recreated" in a for a in actions)
    assert Root.of(store.share_dir(lost)) == Root(1234, 5678, 0o750)


def test_purge_without_root_empties_read_only_directories() -> None:
    """An unprivileged simulator must still remove a snapshot (read-only directories)."""
    base = Path(tempfile.mkdtemp(prefix="acme-purge-"))
    try:
        os.chmod(base, 0o755)
        tree = base / "trash" / "doomed"
        (tree / "ro" / "deeper").mkdir(parents=True)
        (tree / "ro" / "deeper" / "f").write_text("x")
        for path in (base / "trash", tree, tree / "ro", tree / "ro" / "deeper",
                     tree / "ro" / "deeper" / "f"):
            os.chown(path, NOBODY, NOBODY)
        os.chmod(tree / "ro" / "deeper", 0o555)
        os.chmod(tree / "ro", 0o555)
        code = ("import os, sys; from acme_appliance import trees; "
                "fd = trees.open_dir(sys.argv[1]); trees.purge(fd, 'doomed'); os.close(fd)")
        # The system python3: the venv's interpreter may not be reachable for nobody.
        subprocess.run(["/usr/bin/python3", "-c", code, str(base / "trash")], check=True,
                       user=NOBODY, group=NOBODY, env={"PYTHONPATH": str(APPLIANCE)})
        assert list((base / "trash").iterdir()) == []
    finally:
        shutil.rmtree(base)
