#!/usr/bin/python
# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_snapshot
short_description: Manage snapshots of ACME NAS shares, and roll shares back to them
version_added: 0.1.0
description:
  - Create and delete a snapshot of a share of an ACME NAS appliance, or roll the share back to it.
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
    description: Returns the share's snapshot names before and after.
    support: full
options:
  share:
    description: Name of the share.
    type: str
    required: true
  pool:
    description:
      - Pool of O(share).
      - Omitted, the share is looked up by name in every pool; the module fails if several pools
        have a share of that name.
    type: str
  name:
    description:
      - Name of the snapshot, unique in its share.
      - 1 to 64 characters of C([A-Za-z0-9_.-]), not starting with C(.) or C(-).
    type: str
    required: true
  state:
    description:
      - V(present) creates the snapshot; V(absent) deletes it.
      - V(rolled_back) returns the share's content to the snapshot, which must exist. The appliance
        does not tell whether the share was written since the snapshot, so this state always
        reports a change, like a command.
      - A snapshot that shares were cloned from is not deleted; the module fails and names the
        clones.
    type: str
    choices: [present, absent, rolled_back]
    default: present
  destroy_newer:
    description:
      - With O(state=rolled_back), destroy the snapshots newer than O(name), which a rollback
        cannot keep. Without it, rolling back past newer snapshots fails and names them.
    type: bool
    default: false
seealso:
  - module: acme.nas.acme_snapshot_info
  - module: acme.nas.acme_share
"""

EXAMPLES = r"""
- name: Snapshot a share before an upgrade
  acme.nas.acme_snapshot:
    appliance_url: https://nas1.example.com:8443
    username: admin
    password: "{{ acme_password }}"
    share: db01
    pool: pool1
    name: before-upgrade

- name: Roll the share back, destroying the snapshots taken since
  acme.nas.acme_snapshot:
    share: db01
    pool: pool1
    name: before-upgrade
    state: rolled_back
    destroy_newer: true

- name: Delete the snapshot
  acme.nas.acme_snapshot:
    share: db01
    pool: pool1
    name: before-upgrade
    state: absent
"""

RETURN = r"""
snapshot:
  description:
    - The snapshot after the task. V({}) after O(state=absent).
    - In check mode, the snapshot as it would be; one that would be created has no
      RV(snapshot.id) yet.
  returned: always
  type: dict
  sample:
    id: 0c7e5d1a-2b4f-4e8a-9c3d-5f6a7b8c9d0e
    name: before-upgrade
    share_id: 6f1c2a4e-9d0b-4c53-a1f2-3b7d9e0c8a51
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
      description: Id of the share the snapshot belongs to.
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
share:
  description:
    - The share of the snapshot (see RV(acme.nas.acme_share#module:share)); V({}) when it does
      not exist.
  returned: always
  type: dict
  sample: {id: 6f1c2a4e-9d0b-4c53-a1f2-3b7d9e0c8a51, name: db01, pool: pool1}
destroyed_snapshots:
  description: Names of the newer snapshots a rollback destroyed (or would destroy in check mode).
  returned: when O(state=rolled_back)
  type: list
  elements: str
  sample: [hourly-11, hourly-12]
actions:
  description: What the task did (or would do in check mode).
  returned: always
  type: list
  elements: str
  sample: [create]
diff:
  description: The names of the share's snapshots before and after, oldest first.
  returned: always
  type: dict
  sample:
    before: {share: pool1/db01, snapshots: [nightly]}
    after: {share: pool1/db01, snapshots: [nightly, before-upgrade]}
error:
  description: The appliance's error when the task failed on one.
  returned: failure
  type: dict
  sample:
    {code: IN_USE, message: "snapshot has clones", status: 409, request_id: 9b2f0c1e, details: {}}
"""

from ansible_collections.acme.nas.plugins.module_utils.acme_module import (  # noqa: E402
    AcmeModule,
    check_name,
    diff_result,
)


def newer_than(snapshot, snapshots):
    """The snapshots taken after ``snapshot`` (lists come oldest first)."""
    ids = [item['id'] for item in snapshots]
    if snapshot['id'] not in ids:
        return []
    return snapshots[ids.index(snapshot['id']) + 1:]


def snapshot_state(share, names):
    return dict(share=f"{share['pool']}/{share['name']}", snapshots=list(names))


class SnapshotModule(AcmeModule):
    argument_spec = dict(
        share=dict(type='str', required=True),
        pool=dict(type='str'),
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent', 'rolled_back']),
        destroy_newer=dict(type='bool', default=False),
    )
    module_kwargs = dict(supports_check_mode=True)

    # get ----------------------------------------------------------------------------------
    def run(self):
        state = self.params['state']
        check_name(self.params['name'], 'name')
        share = self.find_share()
        if share is None:
            if state == 'absent':
                return self.result([], {}, {}, {}, {})
            self.fail(f'share {self.share_label()} not found')
        snapshots = self.list_snapshots(share)
        current = next((s for s in snapshots if s['name'] == self.params['name']), None)
        if state == 'absent':
            return self.delete(share, snapshots, current)
        if state == 'present':
            return self.create(share, snapshots, current)
        return self.rollback(share, snapshots, current)

    def share_label(self):
        pool = self.params['pool']
        return f"{pool}/{self.params['share']}" if pool else self.params['share']

    def find_share(self):
        name, pool = self.params['share'], self.params['pool']
        with self.step(f'look up share {self.share_label()}'):
            if pool:
                return self.client.shares.find(name, pool)
            shares = self.client.shares.list(name=name)
        if len(shares) > 1:
            pools = ', '.join(sorted(share['pool'] for share in shares))
            self.fail(f'share {name} exists in several pools ({pools}); set pool')
        return shares[0] if shares else None

    def list_snapshots(self, share):
        with self.step(f"list the snapshots of share {share['pool']}/{share['name']}"):
            return self.client.snapshots.list(share['id'])

    # decide and apply ---------------------------------------------------------------------
    def create(self, share, snapshots, current):
        names = [s['name'] for s in snapshots]
        before = snapshot_state(share, names)
        if current is not None:
            return self.result([], current, share, before, before)
        after = snapshot_state(share, names + [self.params['name']])
        if self.check_mode:
            planned = dict(name=self.params['name'], share_id=share['id'], clones=[])
            return self.result(['create'], planned, share, before, after)
        with self.step(f"create snapshot {self.params['name']} of share {share['name']}"):
            snapshot = self.client.snapshots.create(share['id'], self.params['name'])
        return self.result(['create'], snapshot, share, before, after)

    def delete(self, share, snapshots, current):
        names = [s['name'] for s in snapshots]
        before = snapshot_state(share, names)
        if current is None:
            return self.result([], {}, share, before, before)
        self.check_no_clones([current], 'delete')
        after = snapshot_state(share, [n for n in names if n != current['name']])
        if not self.check_mode:
            with self.step(f"delete snapshot {current['name']} of share {share['name']}"):
                self.client.snapshots.delete(share['id'], current['id'])
        return self.result(['delete'], {}, share, before, after)

    def rollback(self, share, snapshots, current):
        if current is None:
            self.fail(f"cannot roll share {share['name']} back: it has no snapshot "
                      f"{self.params['name']}")
        newer = newer_than(current, snapshots)
        self.check_newer(current, newer)
        names = [s['name'] for s in snapshots]
        destroyed = [s['name'] for s in newer]
        after = snapshot_state(share, [n for n in names if n not in destroyed])
        if not self.check_mode:
            with self.step(f"roll share {share['name']} back to snapshot {current['name']}"):
                self.client.snapshots.rollback(share['id'], current['id'],
                                               destroy_newer=bool(newer))
        result = self.result(['rollback'], current, share, snapshot_state(share, names), after)
        result['destroyed_snapshots'] = destroyed
        return result

    def check_newer(self, current, newer):
        if newer and not self.params['destroy_newer']:
            self.fail(f"cannot roll back to snapshot {current['name']}: newer snapshots exist "
                      f"({', '.join(s['name'] for s in newer)}); set destroy_newer=true to "
                      f"destroy them")
        self.check_no_clones(newer, 'destroy')

    def check_no_clones(self, snapshots, verb):
        for snapshot in snapshots:
            if snapshot.get('clones'):
                self.fail(f"cannot {verb} snapshot {snapshot['name']}: shares were cloned from it "
                          f"({self.share_names(snapshot['clones'])}); delete or promote them first")

    @staticmethod
    def result(actions, snapshot, share, before, after):
        return dict(changed=bool(actions), actions=actions, snapshot=snapshot, share=share,
                    diff=diff_result(before, after))


# The class its action plugin runs in the controller's worker (plugin_utils/acme_action.py).
ACME_MODULE = SnapshotModule


def main():
    module = SnapshotModule()
    module()


if __name__ == '__main__':
    main()
