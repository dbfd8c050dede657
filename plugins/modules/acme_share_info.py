#!/usr/bin/python
# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_share_info
short_description: List the shares and pools of an ACME NAS appliance
version_added: 0.1.0
description:
  - Returns the shares of an ACME NAS appliance, filtered by name and pool, and the capacity of
    its pools, for reports and for filtering in playbooks (for example with
    P(community.general.json_query#filter)).
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
  name:
    description: Only the shares of this exact name.
    type: str
  pool:
    description:
      - Only the shares of this pool, and only this pool in RV(pools).
      - A pool that does not exist gives empty lists.
    type: str
seealso:
  - module: acme.nas.acme_share
  - module: acme.nas.acme_snapshot_info
"""

EXAMPLES = r"""
- name: Every share and pool
  acme.nas.acme_share_info:
    appliance_url: https://nas1.example.com:8443
    username: admin
    password: "{{ acme_password }}"
  register: nas

- name: Names of the exported shares larger than 10 GiB
  ansible.builtin.debug:
    msg: "{{ nas.shares | community.general.json_query(query) }}"
  vars:
    query: "[?nfs.enabled && quota_bytes > `10737418240`].name"

- name: Free space of pool1
  acme.nas.acme_share_info:
    pool: pool1
  register: pool1

- name: Show it
  ansible.builtin.debug:
    msg: "{{ pool1.pools[0].free_bytes | human_readable }} free"
"""

RETURN = r"""
shares:
  description: The matching shares, oldest first.
  returned: always
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
pools:
  description: Capacity of the pools (only O(pool) when set).
  returned: always
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
"""

from ansible_collections.acme.nas.plugins.module_utils.acme_client import NotFound  # noqa: E402
from ansible_collections.acme.nas.plugins.module_utils.acme_module import AcmeModule  # noqa: E402


class ShareInfoModule(AcmeModule):
    argument_spec = dict(
        name=dict(type='str'),
        pool=dict(type='str'),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        return dict(changed=False, shares=self.shares(), pools=self.pools())

    def shares(self):
        with self.step('list shares'):
            return self.client.shares.list(name=self.params['name'], pool=self.params['pool'])

    def pools(self):
        pool = self.params['pool']
        with self.step(f'read pool {pool}' if pool else 'list pools'):
            if not pool:
                return self.client.pools.list()
            try:
                return [self.client.pools.get(pool)]
            except NotFound:
                return []


# The class its action plugin runs in the controller's worker (plugin_utils/acme_action.py).
ACME_MODULE = ShareInfoModule


def main():
    module = ShareInfoModule()
    module()


if __name__ == '__main__':
    main()
