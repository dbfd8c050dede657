#!/usr/bin/python
# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_snapshot_info
short_description: List the snapshots of ACME NAS shares
version_added: 0.1.0
description:
  - Returns the snapshots of the shares of an ACME NAS appliance, filtered by share, pool and
    snapshot name. Each snapshot carries the name and pool of its share, so the list can be
    filtered and grouped in playbooks (for example with P(community.general.json_query#filter)).
author:
  - ACME NAS maintainers (@acme-storage)
extends_documentation_fragment:
  - acme.nas.acme
  - acme.nas.acme.attributes
attributes:
  check_mode:
    description: The module changes nothing; it runs the same in check mode.
    support: full
  diff_mode:
    description: The module changes nothing and returns no diff.
    support: none
options:
  share:
    description: Only the snapshots of the shares of this name.
    type: str
  pool:
    description: Only the snapshots of the shares of this pool.
    type: str
  name:
    description: Only the snapshots of this exact name.
    type: str
seealso:
  - module: acme.nas.acme_snapshot
  - module: acme.nas.acme_share_info
"""

EXAMPLES = r"""
- name: The snapshots of one share
  acme.nas.acme_snapshot_info:
    appliance_url: https://nas1.example.com:8443
    username: admin
    password: "{{ acme_password }}"
    share: db01
    pool: pool1
  register: snaps

- name: Every snapshot called nightly, in every pool
  acme.nas.acme_snapshot_info:
    name: nightly
  register: nightly

- name: Shares whose nightly snapshot has clones
  ansible.builtin.debug:
    msg: "{{ nightly.snapshots | community.general.json_query(query) }}"
  vars:
    query: "[?length(clones) > `0`].share_name"
"""

RETURN = r"""
snapshots:
  description: The matching snapshots, grouped by share (oldest share first), oldest first.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 0c7e5d1a-2b4f-4e8a-9c3d-5f6a7b8c9d0e
      name: nightly
      share_id: 6f1c2a4e-9d0b-4c53-a1f2-3b7d9e0c8a51
      share_name: db01
      pool: pool1
      created_at: "2026-01-05T10:00:00Z"
      used_bytes: 0
      clones: []
  contains:
    id:
      description: Id of the snapshot.
      type: str
    name:
      description: Name of the snapshot.
      type: str
    share_id:
      description: Id of the share of the snapshot.
      type: str
    share_name:
      description: Name of the share of the snapshot.
      type: str
    pool:
      description: Pool of the share of the snapshot.
      type: str
    created_at:
      description: Creation time, RFC 3339 UTC.
      type: str
    used_bytes:
      description: Bytes held by the snapshot alone.
      type: int
    clones:
      description: Ids of the shares cloned from the snapshot.
      type: list
      elements: str
"""

from ansible_collections.acme.nas.plugins.module_utils.acme_client import NotFound  # noqa: E402
from ansible_collections.acme.nas.plugins.module_utils.acme_module import AcmeModule  # noqa: E402


class SnapshotInfoModule(AcmeModule):
    argument_spec = dict(
        share=dict(type='str'),
        pool=dict(type='str'),
        name=dict(type='str'),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        snapshots = []
        for share in self.shares():
            snapshots.extend(self.snapshots_of(share))
        return dict(changed=False, snapshots=snapshots)

    def shares(self):
        with self.step('list shares'):
            return self.client.shares.list(name=self.params['share'], pool=self.params['pool'])

    def snapshots_of(self, share):
        with self.step(f"list the snapshots of share {share['pool']}/{share['name']}"):
            try:
                snapshots = self.client.snapshots.list(share['id'], name=self.params['name'])
            except NotFound:  # deleted since it was listed
                return []
        return [dict(snapshot, share_name=share['name'], pool=share['pool'])
                for snapshot in snapshots]


# The class its action plugin runs in the controller's worker (plugin_utils/acme_action.py).
ACME_MODULE = SnapshotInfoModule


def main():
    module = SnapshotInfoModule()
    module()


if __name__ == '__main__':
    main()
