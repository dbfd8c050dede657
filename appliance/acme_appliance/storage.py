"""Share and snapshot directories: staging, sparse-preserving copies, allocated-bytes accounting.

Layout under the data root (directory names are appliance-chosen UUIDs, never user input):
`shares/<id>/`, `snapshots/<id>/`, `tmp/<id>/` (being built), `trash/` (being removed).
A directory appears under `shares/` or `snapshots/` only by one rename from `tmp/`.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
FICLONE = 0x40049409
CHUNK = 1 << 20
_FALLBACK_ERRNOS = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


@dataclass(frozen=True)
class Root:
    """Owner, group and permission bits of a share's top directory."""

    uid: int
    gid: int
    mode: int

    @classmethod
    def default(cls) -> Root:
        """uid 0, gid 0, 0755; without root privileges the simulator's own uid and gid."""
        if os.geteuid() == 0:
            return cls(0, 0, 0o755)
        return cls(os.geteuid(), os.getegid(), 0o755)

    @classmethod
    def of(cls, path: Path) -> Root:
        st = os.stat(path, follow_symlinks=False)
        return cls(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


def apply_root(path: Path, root: Root) -> None:
    """chown (only when it changes: an unprivileged simulator can keep its own) + chmod."""
    st = os.stat(path, follow_symlinks=False)
    if (st.st_uid, st.st_gid) != (root.uid, root.gid):
        os.chown(path, root.uid, root.gid, follow_symlinks=False)
    os.chmod(path, root.mode)


def _check_id(object_id: str) -> str:
    """Directory names are UUIDs; refuse anything else so no path can leave the data root."""
    return str(uuid.UUID(object_id))


def _reflink(fd_in: int, fd_out: int) -> bool:
    try:
        fcntl.ioctl(fd_out, FICLONE, fd_in)
    except OSError:
        return False
    return True


def _copy_range(fd_in: int, fd_out: int, offset: int, count: int) -> None:
    """Copy bytes [offset, offset+count) to the same offset (copy_file_range, else pread/pwrite)."""
    end = offset + count
    try:
        while offset < end:
            done = os.copy_file_range(fd_in, fd_out, end - offset, offset, offset)
            if done == 0:
                return
            offset += done
    except OSError as exc:
        if exc.errno not in _FALLBACK_ERRNOS:
            raise
    while offset < end:
        data = os.pread(fd_in, min(CHUNK, end - offset), offset)
        if not data:
            return
        offset += os.pwrite(fd_out, data, offset)


def _data_extents(fd: int, size: int) -> Iterable[tuple[int, int]]:
    """(offset, length) of each data extent, found with SEEK_DATA/SEEK_HOLE."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return
            raise
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end - start
        offset = end


def copy_file(src: Path, dst: Path) -> None:
    """Copy a regular file keeping holes: reflink when possible, else only the data extents."""
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if not _reflink(fd_in, fd_out):
                size = os.fstat(fd_in).st_size
                for offset, length in _data_extents(fd_in, size):
                    _copy_range(fd_in, fd_out, offset, length)
                os.ftruncate(fd_out, size)
            os.fsync(fd_out)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def _copy_metadata(path: Path, st: os.stat_result) -> None:
    if os.geteuid() == 0:
        os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a directory tree (files sparse, symlinks as links, modes/owners/times kept)."""
    os.mkdir(dst, 0o700)
    for entry in os.scandir(src):
        source, target = Path(entry.path), dst / entry.name
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            copy_tree(source, target)
            continue
        if stat.S_ISREG(st.st_mode):
            copy_file(source, target)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(source), target)
        else:
            log.warning("not copying special file %s", source)
            continue
        _copy_metadata(target, st)
    _copy_metadata(dst, os.stat(src))


def allocated_bytes(root: Path) -> int:
    """Allocated bytes (st_blocks * 512) of everything below `root`, hard links counted once."""
    total, seen, pending = 0, set(), [root]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                pending.append(Path(entry.path))
    return total


def _force_remove(func, path, _exc_info) -> None:  # type: ignore[no-untyped-def]
    """rmtree error hook: make the parent writable (read-only snapshots) and retry once."""
    parent = os.path.dirname(path)
    os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRWXU)
    func(path)


class Storage:
    """The directories of shares and snapshots under one data root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.shares = root / "shares"
        self.snapshots = root / "snapshots"
        self.tmp = root / "tmp"
        self.trash = root / "trash"
        for path in (self.shares, self.snapshots, self.tmp, self.trash):
            path.mkdir(parents=True, exist_ok=True)

    def share_dir(self, share_id: str) -> Path:
        return self.shares / _check_id(share_id)

    def snapshot_dir(self, snapshot_id: str) -> Path:
        return self.snapshots / _check_id(snapshot_id)

    def staging_dir(self, object_id: str) -> Path:
        return self.tmp / _check_id(object_id)

    def stage_empty(self, object_id: str) -> Path:
        path = self.staging_dir(object_id)
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
        return path

    def stage_copy(self, source: Path, object_id: str, read_only: bool = False) -> Path:
        """Copy `source` into the staging area; snapshots get a read-only top directory."""
        path = self.staging_dir(object_id)
        try:
            copy_tree(source, path)
        except Exception:
            self.remove(path)
            raise
        if read_only:
            os.chmod(path, 0o555)
        else:
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | stat.S_IWUSR)
        return path

    def stage_root(self, staged: Path, root: Root) -> None:
        """Give a staged share directory its root ownership; on failure the stage is removed."""
        try:
            apply_root(staged, root)
        except BaseException:
            self.remove(staged)
            raise

    def publish(self, staged: Path, final: Path) -> None:
        """Make a staged directory visible with one atomic rename."""
        os.rename(staged, final)

    def swap_in(self, staged: Path, final: Path) -> None:
        """Replace `final` by `staged` (rollback); the old tree goes to the trash."""
        old = self.trash / uuid.uuid4().hex
        os.rename(final, old)
        os.rename(staged, final)
        self.remove(old)

    def remove(self, path: Path) -> None:
        """Remove a tree: rename it into the trash first so it vanishes at once."""
        if not path.exists():
            return
        doomed = self.trash / uuid.uuid4().hex
        os.rename(path, doomed)
        shutil.rmtree(doomed, onerror=_force_remove)

    def reconcile(self, share_roots: Mapping[str, Root], snapshot_ids: set[str]) -> list[str]:
        """Start-up repair after a crash: finish committed renames, delete every leftover.

        A share directory that has to be recreated gets its recorded root ownership back.
        """
        share_ids = set(share_roots)
        actions = []
        for path in self.trash.iterdir():
            shutil.rmtree(path, onerror=_force_remove)
            actions.append(f"removed trash {path.name}")
        for path in self.tmp.iterdir():
            actions.append(self._settle_staged(path, share_ids, snapshot_ids))
        for base, known in ((self.shares, share_ids), (self.snapshots, snapshot_ids)):
            for path in base.iterdir():
                if path.name not in known:
                    self.remove(path)
                    actions.append(f"removed orphan {base.name}/{path.name}")
            for object_id in known - {p.name for p in base.iterdir()}:
                (base / _check_id(object_id)).mkdir(mode=0o755)
                if base is self.shares:
                    apply_root(base / object_id, share_roots[object_id])
                actions.append(f"recreated missing {base.name}/{object_id} (empty)")
        return actions

    def _settle_staged(self, path: Path, share_ids: set[str], snapshot_ids: set[str]) -> str:
        for base, known in ((self.shares, share_ids), (self.snapshots, snapshot_ids)):
            if path.name in known and not (base / path.name).exists():
                self.publish(path, base / path.name)
                return f"completed {base.name}/{path.name}"
        self.remove(path)
        return f"removed unfinished tmp/{path.name}"
