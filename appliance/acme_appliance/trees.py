"""Directory trees walked iteratively, every step relative to a directory file descriptor.

Any NFS client can build a tree deeper than Python's recursion limit or with paths longer than
PATH_MAX, so nothing here recurses or builds a path: each call is an *at() system call on the
descriptor of the directory it works in. A walk keeps one descriptor per level open (a copy two);
`raise_fd_limit` lifts the soft RLIMIT_NOFILE at start-up and a walk deeper than the budget stops
with `TreeTooDeep` instead of running out of descriptors. Removal needs no walk at all: it moves
subdirectories up into the trash and empties one flat directory at a time.
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import stat
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path

FICLONE = 0x40049409
CHUNK = 1 << 20
OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 4096
FD_RESERVE = 512  # descriptors left for sockets, the database and other calls running at once
ENTER, FILE, LEAVE, SKIPPED = "enter", "file", "leave", "skipped"
_FALLBACK_ERRNOS = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}

Event = tuple[str, int, "os.DirEntry[str] | None", os.stat_result]


class TreeTooDeep(Exception):
    """A directory tree deeper than this process can walk with its descriptors."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"directory tree deeper than {limit} levels")
        self.limit = limit


def raise_fd_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit: deep walks hold one descriptor per level."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = min(hard, 1 << 20)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def max_depth() -> int:
    """Levels a copy (two descriptors per level) may go down within the descriptor budget."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MAX_DEPTH
    return max(1, min(MAX_DEPTH, (soft - FD_RESERVE) // 2))


def open_dir(name: str | Path, dir_fd: int | None = None) -> int:
    """A directory descriptor; symbolic links are refused (O_NOFOLLOW)."""
    return os.open(name, OPEN_DIR, dir_fd=dir_fd)


def _entries(fd: int) -> list[os.DirEntry[str]]:
    """The entries of a directory; their stat() works relative to `fd` while it stays open."""
    with os.scandir(fd) as entries:
        return list(entries)


def walk(root_fd: int, skip_too_deep: bool = False) -> Iterator[Event]:
    """Everything below `root_fd`, depth first: (FILE, dir_fd, entry, st) for non-directories,
    (ENTER, dir_fd, entry, st) before a directory's content and (LEAVE, parent_fd, None, st)
    after it. Entries that vanish during the walk are skipped. A directory below the depth
    limit raises TreeTooDeep, or with `skip_too_deep` is (SKIPPED, dir_fd, entry, st) and its
    content is left out."""
    limit = max_depth()
    levels: list[tuple[int, Iterator[os.DirEntry[str]], os.stat_result | None]] = [
        (root_fd, iter(_entries(root_fd)), None)]
    try:
        while levels:
            fd, entries, dir_st = levels[-1]
            entry = next(entries, None)
            if entry is None:
                levels.pop()
                if levels and dir_st is not None:
                    os.close(fd)
                    yield LEAVE, levels[-1][0], None, dir_st
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                yield FILE, fd, entry, st
                continue
            if len(levels) >= limit:
                if not skip_too_deep:
                    raise TreeTooDeep(limit)
                yield SKIPPED, fd, entry, st
                continue
            yield ENTER, fd, entry, st
            levels.append(_descend(fd, entry.name, st))
    finally:
        for fd, _entries_left, dir_st in levels:
            if dir_st is not None:
                os.close(fd)


def _descend(parent_fd: int, name: str, st: os.stat_result) -> tuple[
        int, Iterator[os.DirEntry[str]], os.stat_result]:
    """Open a subdirectory for the walk; one that vanished meanwhile is walked as empty."""
    try:
        fd = open_dir(name, parent_fd)
    except FileNotFoundError:
        fd = os.dup(parent_fd)
        return fd, iter(()), st
    try:
        return fd, iter(_entries(fd)), st
    except BaseException:
        os.close(fd)
        raise


def allocated_bytes(root: Path) -> int:
    """Allocated bytes (st_blocks * 512) of everything below `root`, hard links counted once;
    TreeTooDeep when it is deeper than the walk can go."""
    return _measure(root, skip_too_deep=False)[0]


def measure(root: Path) -> tuple[int, bool]:
    """Allocated bytes as allocated_bytes counts them, of the levels the walk can reach, and
    whether that was everything (False: directories below the depth limit were left out)."""
    return _measure(root, skip_too_deep=True)


def _measure(root: Path, skip_too_deep: bool) -> tuple[int, bool]:
    try:
        root_fd = open_dir(root)
    except FileNotFoundError:
        return 0, True
    total, seen, complete = 0, set(), True
    try:
        with closing(walk(root_fd, skip_too_deep)) as events:
            for kind, _fd, _entry, st in events:
                if kind == LEAVE:
                    continue
                complete = complete and kind != SKIPPED
                if st.st_nlink > 1 and kind == FILE:
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    finally:
        os.close(root_fd)
    return total, complete


# copies -----------------------------------------------------------------------------------
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


def copy_file(src: str | Path, dst: str | Path, src_dir_fd: int | None = None,
              dst_dir_fd: int | None = None) -> None:
    """Copy a regular file keeping holes: reflink when possible, else only the data extents."""
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir_fd)
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=dst_dir_fd)
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


def _copy_metadata_at(dir_fd: int, name: str, st: os.stat_result) -> None:
    """Owner (when root), mode (not of symlinks) and times of `name` in `dir_fd`."""
    if os.geteuid() == 0:
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dir_fd)
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dir_fd, follow_symlinks=False)


def _copy_dir_metadata(fd: int, st: os.stat_result) -> None:
    """The same for a directory open as `fd`, once its content is in place."""
    if os.geteuid() == 0:
        os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_entry(src_fd: int, dst_fd: int, entry: os.DirEntry[str], st: os.stat_result) -> None:
    if stat.S_ISREG(st.st_mode):
        copy_file(entry.name, entry.name, src_fd, dst_fd)
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(entry.name, dir_fd=src_fd), entry.name, dir_fd=dst_fd)
    else:
        return  # sockets, fifos and devices are not copied
    _copy_metadata_at(dst_fd, entry.name, st)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a directory tree (files sparse, symlinks as links, modes/owners/times kept)."""
    src_fd = open_dir(src)
    targets: list[int] = []
    try:
        os.mkdir(dst, 0o700)
        targets.append(open_dir(dst))
        with closing(walk(src_fd)) as events:
            for kind, fd, entry, st in events:
                if kind == FILE:
                    assert entry is not None
                    _copy_entry(fd, targets[-1], entry, st)
                elif kind == ENTER:
                    assert entry is not None
                    os.mkdir(entry.name, 0o700, dir_fd=targets[-1])
                    targets.append(open_dir(entry.name, targets[-1]))
                else:
                    _copy_dir_metadata(targets[-1], st)
                    os.close(targets.pop())
        _copy_dir_metadata(targets[0], os.fstat(src_fd))
    finally:
        for fd in targets:
            os.close(fd)
        os.close(src_fd)


# removal ----------------------------------------------------------------------------------
def _make_writable(fd: int) -> None:
    """Read-only snapshot directories must be writable to be emptied (without root)."""
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & stat.S_IRWXU != stat.S_IRWXU:
        os.fchmod(fd, mode | stat.S_IRWXU)


def purge(trash_fd: int, name: str) -> None:
    """Remove `name` from the trash directory: each subdirectory is first renamed up into the
    trash (one file system), so every step empties one flat directory. An interrupted purge
    leaves only trash entries, which the next purge or start-up removes."""
    pending = [name]
    while pending:
        current = pending.pop()
        try:
            fd = open_dir(current, trash_fd)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            os.unlink(current, dir_fd=trash_fd)
            continue
        try:
            _make_writable(fd)
            pending.extend(_empty(fd, trash_fd))
        finally:
            os.close(fd)
        os.rmdir(current, dir_fd=trash_fd)


def _empty(fd: int, trash_fd: int) -> list[str]:
    """Unlink the files of a directory and move its subdirectories into the trash."""
    moved = []
    for entry in _entries(fd):
        if entry.is_dir(follow_symlinks=False):
            mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
            if mode & stat.S_IRWXU != stat.S_IRWXU:  # moving a directory rewrites its ".."
                os.chmod(entry.name, mode | stat.S_IRWXU, dir_fd=fd)
            moved.append(uuid.uuid4().hex)
            os.rename(entry.name, moved[-1], src_dir_fd=fd, dst_dir_fd=trash_fd)
        else:
            os.unlink(entry.name, dir_fd=fd)
    return moved
