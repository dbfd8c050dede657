#!/usr/bin/python
# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_info
short_description: Gather facts about an ACME NAS appliance
version_added: 0.1.0
description:
  - Returns what the appliance is (vendor, model, version, API version) and the capacity of its
    pools and, when asked, its shares and their snapshots.
  - Each subset costs its own requests. V(system) and V(pools) are one request each and do not
    list the shares; V(shares) lists every share; V(snapshots) lists every share and then the
    snapshots of each, so ask for it only when needed.
  - For filters by name or pool, use M(acme.nas.acme_share_info) and
    M(acme.nas.acme_snapshot_info).
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
  gather_subset:
    description:
      - What to gather. V(all) is every subset.
      - Only the subsets asked for are returned.
    type: list
    elements: str
    choices: [all, system, pools, shares, snapshots]
    default: [system, pools]
seealso:
  - module: acme.nas.acme_share_info
  - module: acme.nas.acme_snapshot_info
"""

EXAMPLES = r"""
- name: The appliance's version and its pools (the default subsets)
  acme.nas.acme_info:
    appliance_url: https://nas1.example.com:8443
    username: admin
    password: "{{ acme_password }}"
  register: nas

- name: Show them
  ansible.builtin.debug:
    msg: >-
      {{ nas.system.model }} {{ nas.system.version }}:
      {{ nas.pools | map(attribute='free_bytes') | sum | human_readable }} free
      in {{ nas.pools | length }} pools

- name: Everything, shares and snapshots included
  acme.nas.acme_info:
    gather_subset: all
  register: everything

- name: Only the snapshots
  acme.nas.acme_info:
    gather_subset: [snapshots]
  register: snaps

- name: Names of the shares that have snapshots
  ansible.builtin.debug:
    msg: "{{ snaps.snapshots | map(attribute='share_name') | unique | list }}"
"""

RETURN = r"""
gathered_subset:
  description: The subsets gathered, O(gather_subset) with V(all) expanded.
  returned: always
  type: list
  elements: str
  sample: [system, pools]
system:
  description: What the appliance is.
  returned: when O(gather_subset) has V(system) or V(all)
  type: dict
  sample: {vendor: "ACME STORAGE, Inc", model: ACME NAS Simulator, version: 1.0.0, api_version: "1"}
  contains:
    vendor:
      description: Vendor of the appliance.
      type: str
    model:
      description: Model of the appliance.
      type: str
    version:
      description: Software version of the appliance.
      type: str
    api_version:
      description: Version of its REST API.
      type: str
pools:
  description: Capacity of every pool (the shares are not listed for it).
  returned: when O(gather_subset) has V(pools) or V(all)
  type: list
  elements: dict
  sample:
    - {name: pool1, total_bytes: 107374182400, free_bytes: 106300440576, used_bytes: 1073741824,
       provisioned_bytes: 21474836480, share_count: 1}
  contains:
    name:
      description: Name of the pool.
      type: str
    total_bytes:
      description: Size of the pool.
      type: int
    free_bytes:
      description: Size of the pool minus its used bytes.
      type: int
    used_bytes:
      description: Bytes allocated by the pool's shares and snapshots.
      type: int
    provisioned_bytes:
      description: Sum of the quotas of the pool's shares (may exceed the size; thin provisioning).
      type: int
    share_count:
      description: Number of shares in the pool.
      type: int
shares:
  description:
    - Every share, oldest first, as M(acme.nas.acme_share_info) returns them.
  returned: when O(gather_subset) has V(shares) or V(all)
  type: list
  elements: dict
  sample:
    - id: 6f1c2a4e-9d0b-4c53-a1f2-3b7d9e0c8a51
      name: db01
      pool: pool1
      path: /pool1/db01
      exports: ["192.0.2.10:/pool1/db01"]
      quota_bytes: 21474836480
      used_bytes: 1048576
      origin_snapshot_id: null
      nfs: {enabled: true, rules: [{clients: 10.0.0.0/24, access: rw, root_squash: true}]}
      created_at: "2026-01-05T10:00:00Z"
  contains:
    id:
      description: Id of the share.
      type: str
    name:
      description: Name of the share.
      type: str
    pool:
      description: Pool of the share.
      type: str
    path:
      description: NFS path, C(/<pool>/<name>).
      type: str
    exports:
      description: C(ADDR:/PATH) strings ready for C(mount -t nfs).
      type: list
      elements: str
    quota_bytes:
      description: Quota in bytes; V(0) means no quota.
      type: int
    used_bytes:
      description: Bytes allocated by the share's files.
      type: int
    origin_snapshot_id:
      description: Id of the snapshot the share is a clone of, or V(null).
      type: str
    nfs:
      description:
        - The NFS export, with keys C(enabled) and C(rules) (C(clients), C(access),
          C(root_squash)).
      type: dict
    created_at:
      description: Creation time, RFC 3339 UTC.
      type: str
snapshots:
  description:
    - Every snapshot, grouped by share (oldest share first), oldest first, each with the name and
      pool of its share, as M(acme.nas.acme_snapshot_info) returns them.
  returned: when O(gather_subset) has V(snapshots) or V(all)
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

SUBSETS = ('system', 'pools', 'shares', 'snapshots')


class InfoModule(AcmeModule):
    argument_spec = dict(
        gather_subset=dict(type='list', elements='str', default=['system', 'pools'],
                           choices=['all', *SUBSETS]),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        asked = set(self.params['gather_subset'])
        subsets = [subset for subset in SUBSETS if subset in asked or 'all' in asked]
        result = dict(changed=False, gathered_subset=subsets)
        if 'system' in subsets:
            with self.step('read the system information'):
                result['system'] = self.client.system.get()
        if 'pools' in subsets:
            with self.step('list pools'):
                result['pools'] = self.client.pools.list()
        if 'shares' in subsets or 'snapshots' in subsets:
            with self.step('list shares'):
                shares = self.client.shares.list()
            if 'shares' in subsets:
                result['shares'] = shares
            if 'snapshots' in subsets:
                result['snapshots'] = [snapshot for share in shares
                                       for snapshot in self.snapshots_of(share)]
        return result

    def snapshots_of(self, share):
        with self.step(f"list the snapshots of share {share['pool']}/{share['name']}"):
            try:
                snapshots = self.client.snapshots.list(share['id'])
            except NotFound:  # deleted since it was listed
                return []
        return [dict(snapshot, share_name=share['name'], pool=share['pool'])
                for snapshot in snapshots]


# The class its action plugin runs in the controller's worker (plugin_utils/acme_action.py).
ACME_MODULE = InfoModule


def main():
    module = InfoModule()
    module()


if __name__ == '__main__':
    main()
