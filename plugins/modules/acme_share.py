#!/usr/bin/python
# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_share
short_description: Manage shares of an ACME NAS appliance
version_added: 0.1.0
description:
  - Create, resize, rename, export over NFS, clone from a snapshot, promote and delete a share
    of an ACME NAS appliance.
  - The module reads the share first and changes only what differs, so a second run with the
    same parameters reports no change.
author:
  - ACME NAS maintainers (@acme-storage)
extends_documentation_fragment:
  - acme.nas.acme
  - acme.nas.acme.attributes
attributes:
  check_mode:
    description:
      - Reports what would change, and fails where the change would fail, without changing
        anything.
    support: full
  diff_mode:
    description: Returns the managed attributes (name, pool, quota, NFS, origin) before and after.
    support: full
options:
  name:
    description:
      - Name of the share, unique in its O(pool).
      - 1 to 64 characters of C([A-Za-z0-9_.-]), not starting with C(.) or C(-). Another name
        fails before any request is sent, as do O(new_name) and O(from_snapshot.share).
    type: str
    required: true
  pool:
    description:
      - Pool of the share.
    type: str
    required: true
  state:
    description:
      - V(present) creates the share or updates it to match the other options.
      - V(absent) deletes the share. A share with snapshots is deleted only with O(force=true).
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Quota of the share, in bytes (V(21474836480)) or with a unit (V(20GiB), V(512MiB),
        V(1.5TiB)).
      - Binary units V(KiB), V(MiB), V(GiB), V(TiB), V(PiB) and the bare V(K), V(M), V(G), V(T),
        V(P) are powers of 1024; V(KB), V(MB), V(GB), V(TB), V(PB) are powers of 1000.
      - A small C(b) after a capital prefix (V(Gb), V(Mb), V(Gib)) is a unit of bits and fails,
        naming the units accepted.
      - The appliance rounds a quota up to a multiple of 1 MiB; the module compares sizes after
        that rounding, so V(1000MB) and V(953.67431640625MiB) are the same quota and a re-run
        reports no change.
      - V(0) removes the quota. Omitted, the quota is not managed (a new share has none, a clone
        inherits its origin's).
      - A size smaller than the space the share uses fails, before anything is changed.
    type: raw
  nfs:
    description:
      - NFS export of the share. Omitted, the export is not managed.
      - The share is exported only while O(nfs.enabled=true), and only to the clients of
        O(nfs.rules).
    type: dict
    suboptions:
      enabled:
        description: Whether the share is exported.
        type: bool
        default: true
      rules:
        description:
          - Clients allowed to mount the share. Order does not matter; each client appears once.
          - Omitted, the current rules are kept. V([]) exports to no client.
        type: list
        elements: dict
        suboptions:
          clients:
            description:
              - One IPv4 or IPv6 address, a CIDR network, or V(*) for every client.
              - Written canonically, as the appliance exports it (IPv6 compressed in lower
                case, a network without host bits, for example V(10.0.0.0/24) and not
                V(10.0.0.5/24)); an IPv6 zone id such as V(fe80::1%eth0) is refused.
            type: str
            required: true
          access:
            description: Read-write or read-only access.
            type: str
            choices: [rw, ro]
            default: rw
          root_squash:
            description: Whether the client's root user is mapped to an anonymous user.
            type: bool
            default: true
  from_snapshot:
    description:
      - Create the share as a copy-on-write clone of this snapshot. It starts with the
        snapshot's files at no data cost.
      - Used only when the share is created; an existing share is left as it is.
    type: dict
    suboptions:
      share:
        description:
          - Name of the share the snapshot belongs to.
          - Omitted, O(from_snapshot.snapshot) must be the snapshot's id.
        type: str
      pool:
        description: Pool of O(from_snapshot.share). Defaults to O(pool).
        type: str
      snapshot:
        description: Name of the snapshot in O(from_snapshot.share), or its id.
        type: str
        required: true
  promote:
    description:
      - Make a clone independent of its origin (ZFS-style promote), so that the origin share can
        be deleted. The clone takes over its origin snapshot and the older snapshots of the origin.
      - A clone of a clone is promoted until it depends on no other share.
      - V(false) leaves the share as it is; a share is never "un-promoted".
    type: bool
    default: false
  new_name:
    description:
      - Rename the share O(name) to this name (in the same pool).
      - When no share O(name) exists but a share O(new_name) does, the rename is already done
        and nothing changes. When neither exists the module fails.
      - Ignored with O(state=absent).
    type: str
  force:
    description:
      - With O(state=absent), delete the share's snapshots together with it.
      - A snapshot that other shares were cloned from is never deleted; the module fails and
        names the clones.
    type: bool
    default: false
notes:
  - Without O(force=true), deleting a share that has snapshots fails and names them.
seealso:
  - module: acme.nas.acme_share_info
  - module: acme.nas.acme_snapshot
"""

EXAMPLES = r"""
- name: A 20 GiB share exported read-write to one network
  acme.nas.acme_share:
    appliance_url: https://nas1.example.com:8443
    username: admin
    password: "{{ acme_password }}"
    name: db01
    pool: pool1
    size: 20GiB
    nfs:
      rules:
        - clients: 10.0.0.0/24
          access: rw
          root_squash: false

- name: Connection options set once for every acme.nas module
  module_defaults:
    group/acme.nas.acme:
      appliance_url: https://nas1.example.com:8443
      username: admin
      password: "{{ acme_password }}"
      ca_path: /etc/pki/acme-ca.pem
  block:
    - name: Grow the share
      acme.nas.acme_share:
        name: db01
        pool: pool1
        size: 40GiB

    - name: Clone a snapshot into a new share and make it independent
      acme.nas.acme_share:
        name: db01-test
        pool: pool1
        from_snapshot:
          share: db01
          snapshot: nightly
        promote: true

    - name: Rename a share
      acme.nas.acme_share:
        name: db01-test
        new_name: db02
        pool: pool1

    - name: Stop exporting a share, keeping its rules
      acme.nas.acme_share:
        name: db02
        pool: pool1
        nfs:
          enabled: false

    - name: Delete a share and its snapshots
      acme.nas.acme_share:
        name: db02
        pool: pool1
        state: absent
        force: true
"""

RETURN = r"""
share:
  description:
    - The share after the task. V({}) after O(state=absent).
    - In check mode, the share as it would be; a share that would be created has no
      RV(share.id) yet.
  returned: always
  type: dict
  sample:
    id: 6f1c2a4e-9d0b-4c53-a1f2-3b7d9e0c8a51
    name: db01
    pool: pool1
    path: /pool1/db01
    exports: ["192.0.2.10:/pool1/db01"]
    quota_bytes: 21474836480
    used_bytes: 1048576
    origin_snapshot_id: null
    nfs:
      enabled: true
      rules: [{clients: 10.0.0.0/24, access: rw, root_squash: false}]
    created_at: "2026-01-05T10:00:00Z"
  contains:
    id:
      description: Id of the share (a UUID chosen by the appliance).
      type: str
    name:
      description: Name of the share.
      type: str
    pool:
      description: Pool of the share.
      type: str
    path:
      description: NFS path of the share, C(/<pool>/<name>).
      type: str
    exports:
      description: C(ADDR:/PATH) strings ready for C(mount -t nfs).
      type: list
      elements: str
    quota_bytes:
      description: Quota in bytes after the appliance's rounding to 1 MiB; V(0) means no quota.
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
actions:
  description: What the task did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [resize, nfs]
diff:
  description: The managed attributes before and after; V({}) for a share that does not exist.
  returned: always
  type: dict
  sample:
    before: {name: db01, pool: pool1, quota_bytes: 10737418240,
             nfs: {enabled: false, rules: []}, origin_snapshot_id: null}
    after: {name: db01, pool: pool1, quota_bytes: 21474836480,
            nfs: {enabled: false, rules: []}, origin_snapshot_id: null}
error:
  description: The appliance's error when the task failed on one.
  returned: failure
  type: dict
  sample:
    {code: INVALID, message: "quota below used space", status: 422, request_id: 9b2f0c1e,
     details: {}}
"""

import re  # noqa: E402

from ansible_collections.acme.nas.plugins.module_utils.acme_client import (  # noqa: E402
    NotFound,
    normalize_rule,
    round_quota,
    same_nfs,
)
from ansible_collections.acme.nas.plugins.module_utils.acme_module import (  # noqa: E402
    AcmeModule,
    check_clients,
    check_name,
    diff_result,
)
from ansible_collections.acme.nas.plugins.module_utils.acme_units import (  # noqa: E402
    SizeError,
    human_size,
    parse_size,
)

UUID_RE = re.compile(r'^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$', re.IGNORECASE)
MAX_PROMOTIONS = 64
NFS_RULE_SPEC = dict(
    clients=dict(type='str', required=True),
    access=dict(type='str', default='rw', choices=['rw', 'ro']),
    root_squash=dict(type='bool', default=True),
)


def sorted_rules(rules):
    """Rules in a stable order (the appliance treats them as a set keyed by ``clients``)."""
    return sorted((normalize_rule(rule) for rule in rules or []), key=lambda rule: rule['clients'])


def nfs_state(nfs):
    nfs = nfs or {}
    return dict(enabled=bool(nfs.get('enabled')), rules=sorted_rules(nfs.get('rules')))


def share_state(share):
    """The attributes this module manages, as shown in the diff."""
    if not share:
        return {}
    return dict(name=share['name'], pool=share['pool'],
                quota_bytes=share.get('quota_bytes') or 0, nfs=nfs_state(share.get('nfs')),
                origin_snapshot_id=share.get('origin_snapshot_id'))


def predicted_share(current, modify):
    """The share as it will be after ``modify`` (check mode shows this)."""
    share = dict(current)
    for key in ('name', 'quota_bytes', 'nfs'):
        if key in modify:
            share[key] = modify[key]
    if 'name' in modify:
        share['path'] = f"/{share['pool']}/{modify['name']}"
    if 'promote' in modify:
        share['origin_snapshot_id'] = None
    return share


ACTION_OF_KEY = (('name', 'rename'), ('quota_bytes', 'resize'), ('nfs', 'nfs'),
                 ('promote', 'promote'))


class ShareModule(AcmeModule):
    argument_spec = dict(
        name=dict(type='str', required=True),
        pool=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        size=dict(type='raw'),
        nfs=dict(type='dict', options=dict(
            enabled=dict(type='bool', default=True),
            rules=dict(type='list', elements='dict', options=NFS_RULE_SPEC),
        )),
        from_snapshot=dict(type='dict', options=dict(
            share=dict(type='str'),
            pool=dict(type='str'),
            snapshot=dict(type='str', required=True),
        )),
        promote=dict(type='bool', default=False),
        new_name=dict(type='str'),
        force=dict(type='bool', default=False),
    )
    module_kwargs = dict(supports_check_mode=True)

    # get ----------------------------------------------------------------------------------
    def run(self):
        self.check_names()
        wanted = self.wanted()
        current = self.find_current()
        if self.params['state'] == 'absent':
            return self.delete(current)
        if current is None:
            return self.create(wanted)
        return self.update(current, wanted)

    def check_names(self):
        """Share names the appliance would refuse fail here, before any request.

        An empty optional name is left out (the Ansible idiom ``x: "{{ y | default('') }}"``).
        """
        check_name(self.params['name'], 'name')
        if self.params['state'] == 'absent':  # new_name and from_snapshot are not used
            return
        if self.params['new_name']:
            check_name(self.params['new_name'], 'new_name')
        origin = self.params['from_snapshot'] or {}
        if origin.get('share'):
            check_name(origin['share'], 'from_snapshot.share')

    def wanted(self):
        """The size and NFS asked for, validated before the appliance is called."""
        quota = None
        if self.params['size'] is not None:
            try:
                quota = round_quota(parse_size(self.params['size']))
            except SizeError as error:
                self.fail(f'size: {error}')
        nfs = self.params['nfs']
        if nfs is not None:
            check_clients(nfs['rules'] or [])
            nfs = dict(enabled=nfs['enabled'], rules=None if nfs['rules'] is None
                       else sorted_rules(nfs['rules']))
        return dict(quota_bytes=quota, nfs=nfs)

    def find_current(self):
        name, pool, new_name = self.params['name'], self.params['pool'], self.params['new_name']
        with self.step(f'look up share {name} in pool {pool}'):
            current = self.client.shares.find(name, pool)
        if not new_name or new_name == name or self.params['state'] == 'absent':
            return current
        with self.step(f'look up share {new_name} in pool {pool}'):
            renamed = self.client.shares.find(new_name, pool)
        if current and renamed:
            self.fail(f'cannot rename share {name} to {new_name}: pool {pool} already has a '
                      f'share named {new_name}')
        if not current and not renamed:
            self.fail(f'cannot rename share {name} to {new_name}: pool {pool} has no share '
                      f'named {name} (nor {new_name})')
        return current or renamed

    # decide -------------------------------------------------------------------------------
    def modifications(self, current, wanted):
        """Only the attributes that differ (``get_modified_attributes``)."""
        modify = {}
        new_name = self.params['new_name']
        if new_name and current['name'] != new_name:
            modify['name'] = new_name
        quota = wanted['quota_bytes']
        if quota is not None and quota != (current.get('quota_bytes') or 0):
            self.check_resize(current, quota)
            modify['quota_bytes'] = quota
        nfs = wanted['nfs']
        if nfs is not None:
            if nfs['rules'] is None:
                nfs = dict(nfs, rules=nfs_state(current.get('nfs'))['rules'])
            if not same_nfs(current.get('nfs'), nfs):
                modify['nfs'] = nfs
        if self.params['promote'] and current.get('origin_snapshot_id'):
            modify['promote'] = True
        return modify

    def check_resize(self, share, quota):
        used = share.get('used_bytes') or 0
        if quota and quota < used:
            self.fail(f"cannot resize share {share['name']} to {human_size(quota)} "
                      f"({quota} bytes): its files use {human_size(used)} ({used} bytes); "
                      f"the size must be at least {human_size(round_quota(used))}")
        self.check_pool_size(share['pool'], quota)

    def check_pool_size(self, pool_name, quota):
        """A missing pool, or a quota larger than the pool, fails here (also in check mode)."""
        with self.step(f'look up pool {pool_name}'):
            try:
                pool = self.client.pools.get(pool_name)
            except NotFound:
                self.fail(f'pool {pool_name} does not exist on the appliance')
        if quota and quota > pool['total_bytes']:
            self.fail(f"size {human_size(quota)} ({quota} bytes) is larger than pool {pool_name} "
                      f"({human_size(pool['total_bytes'])})")

    def check_delete(self, share, snapshots):
        names = ', '.join(snapshot['name'] for snapshot in snapshots)
        if snapshots and not self.params['force']:
            self.fail(f"share {share['name']} has {len(snapshots)} snapshot(s) ({names}); "
                      f"set force=true to delete them with the share")
        cloned = [snapshot for snapshot in snapshots if snapshot.get('clones')]
        if cloned:
            clones = self.share_names(sid for snapshot in cloned for sid in snapshot['clones'])
            self.fail(f"cannot delete share {share['name']}: shares were cloned from its "
                      f"snapshot(s) {', '.join(s['name'] for s in cloned)}: {clones}; delete "
                      f"them or promote them first")

    def origin(self):
        """The snapshot of ``from_snapshot`` and its share, or (None, None)."""
        spec = self.params['from_snapshot']
        if not spec:
            return None, None
        if not spec['share']:
            return self.origin_by_id(spec['snapshot'])
        pool = spec['pool'] or self.params['pool']
        with self.step(f"look up share {spec['share']} in pool {pool}"):
            share = self.client.shares.find(spec['share'], pool)
        if share is None:
            self.fail(f"from_snapshot: pool {pool} has no share named {spec['share']}")
        with self.step(f"look up snapshot {spec['snapshot']} of share {spec['share']}"):
            snapshot = self.client.snapshots.find(share['id'], spec['snapshot'])
        if snapshot is None and UUID_RE.match(spec['snapshot']):
            snapshot, owner = self.origin_by_id(spec['snapshot'])
            if owner['id'] != share['id']:
                snapshot = None
        if snapshot is None:
            self.fail(f"from_snapshot: share {spec['share']} in pool {pool} has no snapshot "
                      f"{spec['snapshot']}")
        return snapshot, share

    def origin_by_id(self, snapshot_id):
        with self.step(f'look up snapshot {snapshot_id}'):
            try:
                snapshot = self.client.snapshots.get(snapshot_id)
            except NotFound:
                self.fail(f'from_snapshot: no snapshot has the id {snapshot_id} (give '
                          f'from_snapshot.share to look a snapshot up by name)')
            return snapshot, self.client.shares.get(snapshot['share_id'])

    # apply --------------------------------------------------------------------------------
    def create(self, wanted):
        snapshot, origin_share = self.origin()
        self.check_pool_size(self.params['pool'], wanted['quota_bytes'])
        nfs = wanted['nfs']
        if nfs is not None and nfs['rules'] is None:
            nfs = dict(nfs, rules=[])
        planned = self.planned_share(wanted, nfs, snapshot, origin_share)
        actions = ['create'] + (['promote'] if snapshot and self.params['promote'] else [])
        if self.check_mode:
            if 'promote' in actions:
                planned['origin_snapshot_id'] = None
            return self.result(actions, planned, {}, share_state(planned))
        with self.step(f"create share {planned['name']} in pool {planned['pool']}"):
            share = self.client.shares.create(
                planned['name'], planned['pool'], quota_bytes=wanted['quota_bytes'] or None,
                origin_snapshot_id=planned['origin_snapshot_id'], nfs=nfs)
        if 'promote' in actions:
            share = self.promote(share)
        return self.result(actions, share, {}, share_state(share))

    def planned_share(self, wanted, nfs, snapshot, origin_share):
        quota = wanted['quota_bytes']
        if quota is None:
            quota = (origin_share or {}).get('quota_bytes') or 0
        name, pool = self.params['name'], self.params['pool']
        return dict(name=name, pool=pool, path=f'/{pool}/{name}', quota_bytes=quota,
                    nfs=nfs or nfs_state(None),
                    origin_snapshot_id=snapshot['id'] if snapshot else None)

    def update(self, current, wanted):
        modify = self.modifications(current, wanted)
        actions = [action for key, action in ACTION_OF_KEY if key in modify]
        if not modify or self.check_mode:
            share = predicted_share(current, modify)
        else:
            share = self.apply_update(current, modify)
        return self.result(actions, share, share_state(current), share_state(share))

    def apply_update(self, current, modify):
        share_id, name = current['id'], current['name']
        patch = {key: modify[key] for key in ('name', 'quota_bytes') if key in modify}
        if patch:
            with self.step(f'update share {name}'):
                self.client.shares.update(share_id, **patch)
        if 'nfs' in modify:
            with self.step(f'set the NFS export of share {name}'):
                self.client.shares.set_nfs(share_id, modify['nfs']['enabled'],
                                           modify['nfs']['rules'])
        with self.step(f'read share {name}'):
            share = self.client.shares.get(share_id)
        return self.promote(share) if 'promote' in modify else share

    def promote(self, share):
        """Promote until the share depends on no other share's snapshot."""
        promotions = 0
        while share.get('origin_snapshot_id') and promotions < MAX_PROMOTIONS:
            with self.step(f"promote share {share['name']}"):
                share = self.client.shares.promote(share['id'])
            promotions += 1
        return share

    def delete(self, current):
        if current is None:
            return self.result([], {}, {}, {})
        with self.step(f"list the snapshots of share {current['name']}"):
            snapshots = self.client.snapshots.list(current['id'])
        self.check_delete(current, snapshots)
        if not self.check_mode:
            with self.step(f"delete share {current['name']}"):
                self.client.shares.delete(current['id'], recursive=bool(snapshots))
        return self.result(['delete'], {}, share_state(current), {})

    @staticmethod
    def result(actions, share, before, after):
        return dict(changed=bool(actions), actions=actions, share=share,
                    diff=diff_result(before, after))


# The class its action plugin runs in the controller's worker (plugin_utils/acme_action.py).
ACME_MODULE = ShareModule


def main():
    module = ShareModule()
    module()


if __name__ == '__main__':
    main()
