"""Share and snapshot directories: staging, publishing, removal and start-up repair.

Layout under the data root (directory names are appliance-chosen UUIDs, never user input):
`shares/<id>/`, `snapshots/<id>/`, `tmp/<id>/` (being built), `trash/` (being removed).
A directory appears under `shares/` or `snapshots/` only by one rename from `tmp/`.
"""

from __future__ import annotations

import logging
import os
import stat
import uuid
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from acme_appliance.records import Root
from acme_appliance.trees import copy_tree, open_dir, purge

log = logging.getLogger(__name__)


def apply_root(path: Path, root: Root) -> None:
    """chown (only when it changes: an unprivileged simulator can keep its own) + chmod."""
    st = os.stat(path, follow_symlinks=False)
    if (st.st_uid, st.st_gid) != (root.uid, root.gid):
        os.chown(path, root.uid, root.gid, follow_symlinks=False)
    os.chmod(path, root.mode)


def _check_id(object_id: str) -> str:
    """Directory names are UUIDs; refuse anything else so no path can leave the data root."""
    return str(uuid.UUID(object_id))


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
        old = uuid.uuid4().hex
        os.rename(final, self.trash / old)
        os.rename(staged, final)
        self._purge_logged(old)

    def remove(self, path: Path) -> None:
        """Remove a tree: one rename into the trash makes it vanish at once, then it is purged.

        A purge that fails is logged, not raised: the tree is already gone from every view and
        start-up purges the trash again."""
        doomed = uuid.uuid4().hex
        try:
            os.rename(path, self.trash / doomed)
        except FileNotFoundError:
            return
        self._purge_logged(doomed)

    def _purge_logged(self, name: str) -> bool:
        trash_fd = open_dir(self.trash)
        try:
            purge(trash_fd, name)
        except Exception:
            log.exception("removing trash/%s failed; the next start-up retries", name)
            return False
        finally:
            os.close(trash_fd)
        return True

    def reconcile(self, share_roots: Mapping[str, Root], snapshot_ids: set[str]) -> list[str]:
        """Start-up repair after a crash: finish committed renames, delete every leftover.

        A share directory that has to be recreated gets its recorded root ownership back. A
        step that fails is logged and reported, and the repair carries on with the next one.
        """
        share_ids = set(share_roots)
        actions: list[str] = []
        for path in list(self.trash.iterdir()):
            done = self._purge_logged(path.name)
            actions.append(f"{'removed' if done else 'could not remove'} trash {path.name}")
        for path in list(self.tmp.iterdir()):
            actions.append(_attempt(partial(self._settle_staged, path, share_ids, snapshot_ids),
                                    f"settling tmp/{path.name}"))
        for base, known in ((self.shares, share_ids), (self.snapshots, snapshot_ids)):
            for path in list(base.iterdir()):
                if path.name not in known:
                    actions.append(_attempt(partial(self._remove_orphan, path),
                                            f"removing orphan {base.name}/{path.name}"))
            for object_id in known - {p.name for p in base.iterdir()}:
                root = share_roots[object_id] if base is self.shares else None
                actions.append(_attempt(partial(self._recreate, base, object_id, root),
                                        f"recreating {base.name}/{object_id}"))
        return actions

    def _remove_orphan(self, path: Path) -> str:
        self.remove(path)
        return f"removed orphan {path.parent.name}/{path.name}"

    def _recreate(self, base: Path, object_id: str, root: Root | None) -> str:
        path = base / _check_id(object_id)
        path.mkdir(mode=0o755)
        if root is not None:
            apply_root(path, root)
        return f"recreated missing {base.name}/{object_id} (empty)"

    def _settle_staged(self, path: Path, share_ids: set[str], snapshot_ids: set[str]) -> str:
        for base, known in ((self.shares, share_ids), (self.snapshots, snapshot_ids)):
            if path.name in known and not (base / path.name).exists():
                self.publish(path, base / path.name)
                return f"completed {base.name}/{path.name}"
        self.remove(path)
        return f"removed unfinished tmp/{path.name}"


def _attempt(step: Callable[[], str], what: str) -> str:
    """Run one repair step; a failure is logged and described instead of stopping the repair."""
    try:
        return step()
    except Exception as exc:
        log.exception("start-up repair: %s failed", what)
        return f"{what} failed: {exc}"
