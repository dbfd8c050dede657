"""Test doubles for the driver's unit tests: an in-memory appliance behind `responses`
(the real client talks HTTP to it), a mount table, and a recording executor.

The fake appliance follows the contract (docs/acme-appliance-api.md) and the project's
decisions (ZFS-style promote, recursive delete refusing cloned snapshots). Shares and
snapshots are real directories, so the driver's file operations run for real; a "mount"
is a symlink from os-brick's mount point to the share's directory.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import responses
from os_brick.remotefs import remotefs as remotefs_brick
from oslo_concurrency import processutils

URL = 'https://acme.test:8443'
MY_IP = '10.0.0.5'  # my_ip of the cinder-volume host in the unit tests
API = URL + '/api/v1'
QUOTA_UNIT = 1024 * 1024


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str = '', details: dict | None = None):
        super().__init__(message or code)
        self.status, self.code, self.details = status, code, details or {}


@dataclass
class Fault:
    method: str
    path: str
    nth: int = 1
    times: int = 1
    status: int = 500
    code: str = 'INTERNAL'
    seen: int = 0

    def hits(self, method: str, path: str) -> bool:
        if method != self.method or not re.fullmatch(self.path, path):
            return False
        self.seen += 1
        return self.nth <= self.seen < self.nth + self.times


@dataclass
class FakeAppliance:
    root: Path
    password: str = 'not-the-real-one'
    pool_total: int = 100 * 1024**3
    shares: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    data_address: str = '192.0.2.10'
    _seq: itertools.count = field(default_factory=itertools.count)

    # -- test helpers ------------------------------------------------------
    def share_dir(self, share_id: str) -> Path:
        return self.root / 'shares' / share_id

    def snapshot_dir(self, snapshot_id: str) -> Path:
        return self.root / 'snapshots' / snapshot_id

    def fail(self, method: str, path: str, nth: int = 1, times: int = 1, status: int = 500,
             code: str = 'INTERNAL') -> None:
        self.faults.append(Fault(method, path, nth, times, status, code))

    def reset_calls(self) -> None:
        self.calls.clear()

    def api_calls(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[1] != '/auth/login']

    def register(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.GET, re.compile(re.escape(API) + '.*'), self._handle)
        for method in (responses.POST, responses.PUT, responses.PATCH, responses.DELETE):
            rsps.add_callback(method, re.compile(re.escape(API) + '.*'), self._handle)

    # -- dispatch ----------------------------------------------------------
    def _handle(self, request):
        parts = urlsplit(request.url)
        path = parts.path[len('/api/v1'):]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = json.loads(request.body) if request.body else None
        self.calls.append((request.method, path))
        try:
            for fault in self.faults:
                if fault.hits(request.method, path):
                    raise ApiError(fault.status, fault.code, 'injected fault')
            if path != '/auth/login' and request.headers.get('Authorization') != 'Bearer tok':
                raise ApiError(401, 'UNAUTHORIZED', 'no token')
            status, result = self._route(request.method, path, query, body)
        except ApiError as error:
            payload = {'code': error.code, 'message': str(error), 'details': error.details}
            return error.status, {'X-Request-Id': 'req'}, json.dumps(payload)
        text = '' if result is None else json.dumps(result)
        return status, {'X-Request-Id': 'req', 'Content-Type': 'application/json'}, text

    def _route(self, method, path, query, body):
        routes = [
            ('POST', r'/auth/login', self._login),
            ('GET', r'/system', lambda: (200, {'vendor': 'ACME STORAGE, Inc', 'model': 'fake',
                                               'version': '1', 'api_version': '1'})),
            ('GET', r'/pools/(?P<name>[^/]+)', self._pool),
            ('POST', r'/shares', self._create_share),
            ('GET', r'/shares', self._list_shares),
            ('GET', r'/shares/(?P<sid>[^/]+)', lambda sid: (200, self._view(self._share(sid)))),
            ('PATCH', r'/shares/(?P<sid>[^/]+)', self._update_share),
            ('DELETE', r'/shares/(?P<sid>[^/]+)', self._delete_share),
            ('POST', r'/shares/(?P<sid>[^/]+)/promote', self._promote),
            ('GET', r'/shares/(?P<sid>[^/]+)/nfs', lambda sid: (200, self._share(sid)['nfs'])),
            ('PUT', r'/shares/(?P<sid>[^/]+)/nfs', self._set_nfs),
            ('POST', r'/shares/(?P<sid>[^/]+)/snapshots', self._create_snapshot),
            ('GET', r'/shares/(?P<sid>[^/]+)/snapshots', self._list_snapshots),
            ('GET', r'/snapshots/(?P<snap>[^/]+)', lambda snap: (200, self._snap_view(snap))),
            ('DELETE', r'/shares/(?P<sid>[^/]+)/snapshots/(?P<snap>[^/]+)', self._delete_snapshot),
            ('POST', r'/shares/(?P<sid>[^/]+)/snapshots/(?P<snap>[^/]+)/rollback',
             self._rollback),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                kwargs = dict(match.groupdict())
                names = handler.__code__.co_varnames[:handler.__code__.co_argcount]
                if 'query' in names:
                    kwargs['query'] = query
                if 'body' in names:
                    kwargs['body'] = body
                return handler(**kwargs)
        raise ApiError(404, 'NOT_FOUND', f'no route {method} {path}')

    # -- handlers ----------------------------------------------------------
    def _login(self, body):
        if body != {'username': 'admin', 'password': self.password}:
            raise ApiError(401, 'UNAUTHORIZED', 'bad credentials')
        return 200, {'token': 'tok', 'expires_in': 3600}

    def _pool(self, name):
        if name not in ('pool1', 'pool2'):
            raise ApiError(404, 'NOT_FOUND', f'pool {name}')
        mine = [s for s in self.shares.values() if s['pool'] == name]
        used = sum(_allocated(self.share_dir(s['id'])) for s in mine)
        return 200, {'name': name, 'total_bytes': self.pool_total,
                     'free_bytes': self.pool_total - used, 'used_bytes': used,
                     'provisioned_bytes': sum(s['quota_bytes'] or 0 for s in mine),
                     'share_count': len(mine)}

    def _share(self, sid):
        if sid not in self.shares:
            raise ApiError(404, 'NOT_FOUND', f'share {sid}')
        return self.shares[sid]

    def _snap(self, snap, sid=None):
        found = self.snapshots.get(snap)
        if found is None or (sid is not None and found['share_id'] != sid):
            raise ApiError(404, 'NOT_FOUND', f'snapshot {snap}')
        return found

    def _view(self, share):
        path = f"/{share['pool']}/{share['name']}"
        exports = [f'{self.data_address}:{path}'] if share['nfs']['enabled'] else []
        return dict(share, path=path, exports=exports,
                    used_bytes=_allocated(self.share_dir(share['id'])))

    def _clones(self, snap_id):
        return [s['id'] for s in self.shares.values() if s['origin_snapshot_id'] == snap_id]

    def _snap_view(self, snap_id):
        return dict(self._snap(snap_id), clones=self._clones(snap_id), used_bytes=0)

    def _create_share(self, body):
        if any(s['name'] == body['name'] and s['pool'] == body['pool']
               for s in self.shares.values()):
            existing = next(s for s in self.shares.values() if s['name'] == body['name'])
            raise ApiError(409, 'ALREADY_EXISTS', 'exists', {'id': existing['id']})
        quota = -(-(body.get('quota_bytes') or 0) // QUOTA_UNIT) * QUOTA_UNIT
        if quota > self.pool_total:
            raise ApiError(507, 'NO_SPACE', 'quota exceeds pool')
        origin = body.get('origin_snapshot_id')
        sid = str(uuid.uuid4())
        if origin:
            _copy_tree(self.snapshot_dir(self._snap(origin)['id']), self.share_dir(sid))
        else:
            self.share_dir(sid).mkdir(parents=True)
        nfs = body.get('nfs') or {'enabled': False, 'rules': []}
        self.shares[sid] = {'id': sid, 'name': body['name'], 'pool': body['pool'],
                            'quota_bytes': quota, 'origin_snapshot_id': origin,
                            'nfs': {'enabled': nfs['enabled'], 'rules': list(nfs['rules'])},
                            'created_at': _now(self._seq)}
        return 201, self._view(self.shares[sid])

    def _list_shares(self, query):
        items = [self._view(s) for s in self.shares.values()
                 if query.get('name') in (None, s['name'])
                 and query.get('pool') in (None, s['pool'])]
        return 200, {'items': items[:int(query.get('limit', 100))], 'next': None}

    def _update_share(self, sid, body):
        share = self._share(sid)
        if body.get('name'):
            share['name'] = body['name']
        if body.get('quota_bytes') is not None:
            share['quota_bytes'] = -(-body['quota_bytes'] // QUOTA_UNIT) * QUOTA_UNIT
        return 200, self._view(share)

    def _delete_share(self, sid, query):
        self._share(sid)
        mine = [s for s in self.snapshots.values() if s['share_id'] == sid]
        if mine and query.get('recursive') != 'true':
            raise ApiError(409, 'IN_USE', 'has snapshots')
        if any(self._clones(s['id']) for s in mine):
            raise ApiError(409, 'IN_USE', 'snapshots have dependent clones')
        for snap in mine:
            del self.snapshots[snap['id']]
            shutil.rmtree(self.snapshot_dir(snap['id']))
        del self.shares[sid]
        shutil.rmtree(self.share_dir(sid))
        return 204, None

    def _promote(self, sid):
        clone = self._share(sid)
        origin = self._snap(clone['origin_snapshot_id'] or 'none')
        parent = self._share(origin['share_id'])
        for snap in list(self.snapshots.values()):
            if snap['share_id'] == parent['id'] and snap['created_at'] <= origin['created_at']:
                snap['share_id'] = sid
        clone['origin_snapshot_id'] = parent['origin_snapshot_id']
        parent['origin_snapshot_id'] = origin['id']
        return 200, self._view(clone)

    def _set_nfs(self, sid, body):
        share = self._share(sid)
        share['nfs'] = {'enabled': body['enabled'], 'rules': list(body['rules'])}
        return 200, share['nfs']

    def _create_snapshot(self, sid, body):
        self._share(sid)
        for snap in self.snapshots.values():
            if snap['share_id'] == sid and snap['name'] == body['name']:
                raise ApiError(409, 'ALREADY_EXISTS', 'exists', {'id': snap['id']})
        snap_id = str(uuid.uuid4())
        _copy_tree(self.share_dir(sid), self.snapshot_dir(snap_id))
        self.snapshots[snap_id] = {'id': snap_id, 'name': body['name'], 'share_id': sid,
                                   'created_at': _now(self._seq)}
        return 201, self._snap_view(snap_id)

    def _list_snapshots(self, sid, query):
        self._share(sid)
        items = [self._snap_view(s['id']) for s in self.snapshots.values()
                 if s['share_id'] == sid and query.get('name') in (None, s['name'])]
        return 200, {'items': items, 'next': None}

    def _delete_snapshot(self, sid, snap):
        self._share(sid)
        self._snap(snap, sid)
        if self._clones(snap):
            raise ApiError(409, 'IN_USE', 'has clones', {'clones': self._clones(snap)})
        del self.snapshots[snap]
        shutil.rmtree(self.snapshot_dir(snap))
        return 204, None

    def _rollback(self, sid, snap, body):
        target = self._snap(snap, sid)
        newer = [s for s in self.snapshots.values()
                 if s['share_id'] == sid and s['created_at'] > target['created_at']]
        if newer and not (body or {}).get('destroy_newer'):
            raise ApiError(409, 'IN_USE', 'newer snapshots exist')
        shutil.rmtree(self.share_dir(sid))
        _copy_tree(self.snapshot_dir(snap), self.share_dir(sid))
        return 200, self._view(self._share(sid))


def _now(seq) -> str:
    return f'2026-01-01T00:00:{next(seq):06d}Z'


def _allocated(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(f.stat().st_blocks * 512 for f in path.iterdir() if f.is_file())


def _copy_tree(source: Path, target: Path) -> None:
    subprocess.run(['cp', '-a', '--sparse=always', str(source), str(target)], check=True)


class FakeRemoteFs(remotefs_brick.RemoteFsClient):
    """os-brick's client with its real mount points; a mount is a symlink to the share."""

    def __init__(self, appliance: FakeAppliance, base: str, **kwargs):
        super().__init__('nfs', None, nfs_mount_point_base=base, **kwargs)
        self.appliance = appliance
        self.table: dict[str, str] = {}
        self.mount_calls: list[str] = []
        self.fail_mounts = 0

    def _read_mounts(self):
        return dict(self.table)

    def mount(self, share, flags=None):
        self.mount_calls.append(share)
        path = self.get_mount_point(share)
        if path in self.table:
            return
        if self.fail_mounts:
            self.fail_mounts -= 1
            raise processutils.ProcessExecutionError(stderr='mount.nfs: access denied')
        name = share.split(':', 1)[1].rsplit('/', 1)[1]
        found = next(s for s in self.appliance.shares.values() if s['name'] == name)
        nfs = found['nfs']
        if not nfs['enabled'] or MY_IP not in {r['clients'] for r in nfs['rules']}:
            raise processutils.ProcessExecutionError(
                stderr='mount.nfs: access denied by server while mounting')
        target = found['id']
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        os.symlink(self.appliance.share_dir(target), path)
        self.table[path] = share

    def umount(self, path: str) -> None:
        if path not in self.table:
            raise processutils.ProcessExecutionError(stderr='not mounted')
        os.unlink(path)
        del self.table[path]


class Executor:
    """Runs the driver's commands for real (without root helper); can fail on demand."""

    def __init__(self):
        self.commands: list[tuple[str, ...]] = []
        self.failures: dict[str, int] = {}

    def fail(self, command: str, times: int = 1) -> None:
        self.failures[command] = times

    def __call__(self, *cmd, **kwargs):
        self.commands.append(cmd)
        if self.failures.get(cmd[0]):
            self.failures[cmd[0]] -= 1
            raise processutils.ProcessExecutionError(cmd=' '.join(cmd), stderr='injected')
        kwargs = {k: v for k, v in kwargs.items() if k in ('check_exit_code',)}
        return processutils.execute(*cmd, **kwargs)
