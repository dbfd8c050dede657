"""Names of what the driver keeps on the appliance, and which of them it may collect.

Garbage collection only ever removes objects whose name says the driver made
and hid them: a snapshot an operator manages into Cinder is renamed to
Cinder's snapshot name first, so no managed object carries one of these names.
"""

from __future__ import annotations

# Snapshot of a source volume taken for create_cloned_volume.
CLONE_SOURCE_SNAPSHOT = 'cinder-clone-'
# Snapshot deleted in Cinder while volumes still depend on it.
DELETED_SNAPSHOT = 'cinder-deleted-'
HIDDEN_SNAPSHOTS = (CLONE_SOURCE_SNAPSHOT, DELETED_SNAPSHOT)
# Share infixes (after acme_share_prefix).
DELETED_SHARE = 'deleted-'
REVERT_SHARE = 'revert-'


def is_hidden_snapshot(name: str) -> bool:
    return name.startswith(HIDDEN_SNAPSHOTS)


class ShareNames:
    """Share names of one backend (``acme_share_prefix``)."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def volume(self, volume_name: str) -> str:
        return self.prefix + volume_name

    def deleted(self, volume_id: str) -> str:
        """A volume deleted in Cinder whose snapshots other volumes still need."""
        return self.prefix + DELETED_SHARE + volume_id

    def revert(self, volume_id: str) -> str:
        """The temporary clone of a revert that cannot roll back."""
        return self.prefix + REVERT_SHARE + volume_id

    def is_hidden(self, name: str) -> bool:
        return name.startswith(self.prefix + DELETED_SHARE)

    def is_temporary(self, name: str) -> bool:
        return name.startswith(self.prefix + REVERT_SHARE)

    def is_internal(self, name: str) -> bool:
        return self.is_hidden(name) or self.is_temporary(name)
