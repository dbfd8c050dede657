"""Unit-test harness of the acme.nas modules: real AnsibleModule, in-memory appliance.

The modules import ``ansible_collections.acme.nas...``; the checkout is made importable under
that name through ``build/ansible_collections/acme/nas`` (the same link ``make collection-link``
creates). ``AcmeClient.from_params`` is replaced by :class:`FakeAppliance`, which keeps shares,
snapshots and pools in dicts, behaves like the contract (rounding, 404/409/422, promote) and
records every call, so tests can assert that check mode or a failed guard wrote nothing.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / 'build'
LINK = BUILD / 'ansible_collections' / 'acme' / 'nas'
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(REPO, LINK)
if str(BUILD) not in sys.path:
    sys.path.insert(0, str(BUILD))

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402
from ansible_collections.acme.nas.plugins.module_utils import (  # noqa: E402
    acme_client as ac,
)
from ansible_collections.acme.nas.plugins.module_utils import acme_module  # noqa: E402

GIB = 1024 ** 3
MIB = 1024 ** 2
PASSWORD = 'S3cret-never-shown'
CONNECTION = dict(appliance_url='https://nas.test:8443', username='admin', password=PASSWORD)
WRITES = {'shares.create', 'shares.update', 'shares.delete', 'shares.promote', 'shares.set_nfs',
          'snapshots.create', 'snapshots.delete', 'snapshots.rollback'}


class AnsibleExit(Exception):
    """exit_json or fail_json was called; ``result`` holds what the module returned."""

    def __init__(self, result, failed):
        super().__init__(result.get('msg', ''))
        self.result = result
        self.failed = failed


def _exit_json(self, **result):
    raise AnsibleExit(self.remove_values_in(result), failed=False)


def _fail_json(self, msg, **result):
    raise AnsibleExit(self.remove_values_in(dict(result, msg=msg, failed=True)), failed=True)


def _remove_values_in(self, result):
    """What Ansible does to a result before it leaves the module: no_log values masked."""
    from ansible.module_utils.common.parameters import remove_values
    return remove_values(result, getattr(self, 'no_log_values', set()))


class Recorder:
    def __init__(self, appliance, kind):
        self.appliance = appliance
        self.kind = kind

    def record(self, verb, *args):
        self.appliance.calls.append((f'{self.kind}.{verb}', args))
        if self.appliance.fail_on.get(f'{self.kind}.{verb}'):
            raise self.appliance.fail_on[f'{self.kind}.{verb}']


class FakeShares(Recorder):
    def find(self, name, pool=None):
        self.record('find', name, pool)
        return next((copy.deepcopy(s) for s in self.appliance.share_rows.values()
                     if s['name'] == name and pool in (None, s['pool'])), None)

    def get(self, share_id):
        self.record('get', share_id)
        return copy.deepcopy(self.appliance.share(share_id))

    def list(self, name=None, pool=None, origin_snapshot_id=None):
        self.record('list', name, pool, origin_snapshot_id)
        return [copy.deepcopy(s) for s in self.appliance.share_rows.values()
                if name in (None, s['name']) and pool in (None, s['pool'])
                and origin_snapshot_id in (None, s['origin_snapshot_id'])]

    def create(self, name, pool, quota_bytes=None, origin_snapshot_id=None, nfs=None):
        self.record('create', name, pool, quota_bytes, origin_snapshot_id, nfs)
        app = self.appliance
        if pool not in app.pool_sizes:
            raise ac.NotFound(f'pool {pool} not found', status=404, request_id='req-f')
        quota = ac.round_quota(quota_bytes) or 0
        if origin_snapshot_id:
            origin = app.snapshot(origin_snapshot_id)
            quota = quota or app.share(origin['share_id'])['quota_bytes']
        share = app.add_share(name, pool, quota, origin_snapshot_id)
        if nfs is not None:
            share['nfs'] = dict(enabled=nfs['enabled'], rules=list(nfs.get('rules') or []))
        return copy.deepcopy(share)

    def update(self, share_id, quota_bytes=None, name=None):
        self.record('update', share_id, quota_bytes, name)
        share = self.appliance.share(share_id)
        if quota_bytes is not None:
            if quota_bytes and quota_bytes < share['used_bytes']:
                raise ac.Invalid('quota below used', status=422, request_id='req-u')
            share['quota_bytes'] = ac.round_quota(quota_bytes) or 0
        if name is not None:
            share['name'] = name
            share['path'] = f"/{share['pool']}/{name}"
        return copy.deepcopy(share)

    def delete(self, share_id, recursive=False):
        self.record('delete', share_id, recursive)
        app = self.appliance
        snapshots = [s for s in app.snapshot_rows.values() if s['share_id'] == share_id]
        if snapshots and not recursive:
            raise ac.InUse('share has snapshots', status=409, request_id='req-d')
        for snapshot in snapshots:
            del app.snapshot_rows[snapshot['id']]
        return app.share_rows.pop(share_id, None) is not None

    def promote(self, share_id):
        self.record('promote', share_id)
        app = self.appliance
        clone = app.share(share_id)
        origin = app.snapshot(clone['origin_snapshot_id'])
        origin_share = app.share(origin['share_id'])
        older = itertools.takewhile(lambda s: s['id'] != origin['id'],
                                    app.snapshots_of(origin_share['id']))
        for snapshot in [*older, origin]:
            snapshot['share_id'] = share_id
        clone['origin_snapshot_id'] = origin_share['origin_snapshot_id']
        origin_share['origin_snapshot_id'] = origin['id']
        return copy.deepcopy(clone)

    def set_nfs(self, share_id, enabled, rules=None):
        self.record('set_nfs', share_id, enabled, rules)
        share = self.appliance.share(share_id)
        share['nfs'] = dict(enabled=enabled, rules=list(rules or []))
        return copy.deepcopy(share['nfs'])


class FakeSnapshots(Recorder):
    def create(self, share_id, name):
        self.record('create', share_id, name)
        return copy.deepcopy(self.appliance.add_snapshot(share_id, name))

    def get(self, snapshot_id):
        self.record('get', snapshot_id)
        return copy.deepcopy(self.appliance.snapshot(snapshot_id))

    def find(self, share_id, name):
        self.record('find', share_id, name)
        return next((copy.deepcopy(s) for s in self.appliance.snapshots_of(share_id)
                     if s['name'] == name), None)

    def list(self, share_id, name=None):
        self.record('list', share_id, name)
        self.appliance.share(share_id)
        return [copy.deepcopy(s) for s in self.appliance.snapshots_of(share_id)
                if name in (None, s['name'])]

    def delete(self, share_id, snapshot_id):
        self.record('delete', share_id, snapshot_id)
        if self.appliance.clones(snapshot_id):
            raise ac.InUse('snapshot has clones', status=409, request_id='req-c')
        return self.appliance.snapshot_rows.pop(snapshot_id, None) is not None

    def rollback(self, share_id, snapshot_id, destroy_newer=False):
        self.record('rollback', share_id, snapshot_id, destroy_newer)
        snapshots = self.appliance.snapshots_of(share_id)
        ids = [s['id'] for s in snapshots]
        newer = snapshots[ids.index(snapshot_id) + 1:]
        if newer and not destroy_newer:
            raise ac.InUse('newer snapshots exist', status=409, request_id='req-r')
        for snapshot in newer:
            del self.appliance.snapshot_rows[snapshot['id']]


class FakePools(Recorder):
    def get(self, name):
        self.record('get', name)
        if name not in self.appliance.pool_sizes:
            raise ac.NotFound(f'pool {name} not found', status=404, request_id='req-p')
        return self.appliance.pool(name)

    def list(self):
        self.record('list')
        return [self.appliance.pool(name) for name in self.appliance.pool_sizes]


class FakeAppliance:
    """Stands in for AcmeClient: same resource objects and verbs, state in dicts."""

    def __init__(self):
        self.pool_sizes = {'pool1': 100 * GIB, 'pool2': 1 * GIB}
        self.share_rows = {}
        self.snapshot_rows = {}
        self.calls = []
        self.fail_on = {}
        self.ids = itertools.count(1)
        self.shares = FakeShares(self, 'shares')
        self.snapshots = FakeSnapshots(self, 'snapshots')
        self.pools = FakePools(self, 'pools')

    # state helpers (not recorded) --------------------------------------------------------
    def add_share(self, name, pool, quota_bytes=0, origin_snapshot_id=None, used_bytes=0,
                  nfs=None):
        if any(s['name'] == name and s['pool'] == pool for s in self.share_rows.values()):
            raise ac.AlreadyExists(f'share {pool}/{name} already exists', status=409)
        share_id = f'share-{next(self.ids)}'
        self.share_rows[share_id] = dict(
            id=share_id, name=name, pool=pool, path=f'/{pool}/{name}',
            exports=[f'192.0.2.7:/{pool}/{name}'], quota_bytes=quota_bytes,
            used_bytes=used_bytes, origin_snapshot_id=origin_snapshot_id,
            nfs=nfs or dict(enabled=False, rules=[]), created_at='2026-11-25T10:00:00Z')
        return self.share_rows[share_id]

    def add_snapshot(self, share_id, name):
        self.share(share_id)
        snapshot_id = f'snap-{next(self.ids)}'
        self.snapshot_rows[snapshot_id] = dict(
            id=snapshot_id, name=name, share_id=share_id,
            created_at='2026-11-25T10:00:00Z', used_bytes=0, clones=[])
        return self.snapshot_rows[snapshot_id]

    def share(self, share_id):
        if share_id not in self.share_rows:
            raise ac.NotFound(f'share {share_id} not found', status=404, request_id='req-s')
        return self.share_rows[share_id]

    def snapshot(self, snapshot_id):
        if snapshot_id not in self.snapshot_rows:
            raise ac.NotFound(f'snapshot {snapshot_id} not found', status=404,
                              request_id='req-n')
        snapshot = self.snapshot_rows[snapshot_id]
        snapshot['clones'] = self.clones(snapshot_id)
        return snapshot

    def snapshots_of(self, share_id):
        return [self.snapshot(s['id']) for s in list(self.snapshot_rows.values())
                if s['share_id'] == share_id]

    def clones(self, snapshot_id):
        return [s['id'] for s in self.share_rows.values()
                if s['origin_snapshot_id'] == snapshot_id]

    def pool(self, name):
        shares = [s for s in self.share_rows.values() if s['pool'] == name]
        used = sum(s['used_bytes'] for s in shares)
        return dict(name=name, total_bytes=self.pool_sizes[name],
                    free_bytes=self.pool_sizes[name] - used, used_bytes=used,
                    provisioned_bytes=sum(s['quota_bytes'] for s in shares),
                    share_count=len(shares))

    def share_named(self, name, pool='pool1'):
        return next((s for s in self.share_rows.values()
                     if s['name'] == name and s['pool'] == pool), None)

    @property
    def writes(self):
        return [call for call in self.calls if call[0] in WRITES]


@pytest.fixture
def appliance(monkeypatch):
    fake = FakeAppliance()
    monkeypatch.setattr(acme_module.AcmeClient, 'from_params',
                        classmethod(lambda cls, params: fake))
    return fake


@pytest.fixture
def run_module(monkeypatch, appliance):
    """``run_module(ShareModule, name=..., _check=True)`` -> the result dict (``failed`` set).

    ``_connection=False`` leaves the connection options out (to test their fallbacks).
    """
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'remove_values_in', _remove_values_in,
                        raising=False)

    def run(module_class, _check=False, _diff=True, _connection=True, **args):
        connection = CONNECTION if _connection else {}
        params = dict(connection, _ansible_check_mode=_check, _ansible_diff=_diff, **args)
        with patch_module_args(params):
            with pytest.raises(AnsibleExit) as exit_info:
                module_class()()
        result = exit_info.value.result
        # Every result must survive the JSON trip back to the controller.
        json.dumps(result)
        return result

    return run
