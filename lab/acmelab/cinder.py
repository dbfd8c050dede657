"""Cinder through Keystone (openstacksdk, the lab's clouds.yaml) and its waits.

One resource is waited for with openstacksdk's own waits; many at once (bursts of up to 200)
with one list call per poll instead of a GET per volume.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import openstack
from openstack import exceptions

from .waits import settled

MICROVERSION = 'volume 3.64'
DONE = ('available', 'error')
QUOTAS = ('volumes', 'snapshots', 'gigabytes')


class Reached(NamedTuple):
    """A resource's last status (None: gone) and the seconds until it got there."""

    status: str | None
    seconds: float


class Cinder:
    def __init__(self, cloud: str) -> None:
        self.conn = openstack.connect(cloud=cloud)
        self.conn.authorize()  # one token now, before threads share the session
        self.bs = self.conn.block_storage

    # -- the raw API: bodies and request ids (which host served a request) -------------------
    def call(self, method: str, path: str, body: dict | None = None,
             ok: tuple[int, ...] = (200, 202, 204)) -> tuple[dict, str]:
        """(body, x-openstack-request-id) of one request."""
        resp = self.bs.request(path, method, json=body, raise_exc=False,
                               headers={'OpenStack-API-Version': MICROVERSION})
        if resp.status_code not in ok:
            raise RuntimeError(f'{method} {path}: HTTP {resp.status_code} {resp.text[:300]}')
        return (resp.json() if resp.content else {}), resp.headers.get('x-openstack-request-id', '')

    def action(self, volume_id: str, name: str, args: dict) -> tuple[dict, str]:
        return self.call('POST', f'/volumes/{volume_id}/action', {name: args})

    def services(self) -> list[dict]:
        return self.call('GET', '/os-services?binary=cinder-volume')[0]['services']

    # -- volumes and snapshots -----------------------------------------------------------------
    def create(self, name: str, volume_type: str, size: int = 1, **source: Any) -> str:
        return self.bs.create_volume(name=name, size=size, volume_type=volume_type,
                                     **source).id

    def create_many(self, names: list[str], volume_type: str, size: int = 1) -> list[str]:
        """All requests sent at once (one thread each)."""
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            return list(pool.map(lambda n: self.create(n, volume_type, size), names))

    def volumes(self, prefix: str = '', all_projects: bool = False) -> dict[str, Any]:
        """{id: volume} of the project's (or every project's) volumes whose name starts with
        ``prefix``."""
        return {v.id: v for v in self.bs.volumes(details=True, all_projects=all_projects)
                if (v.name or '').startswith(prefix)}

    def image_cache_entries(self, image_id: str) -> list[str]:
        """The image-volume cache's volumes of an image (the internal tenant's image-<id>)."""
        return list(self.volumes(f'image-{image_id}', all_projects=True))

    def snapshots(self, all_projects: bool = False) -> dict[str, Any]:
        return {s.id: s for s in self.bs.snapshots(details=True, all_projects=all_projects)}

    def wait_one(self, volume_id: str, timeout: float) -> Reached:
        """The volume's status once available or error (its last one after ``timeout``)."""
        start = time.monotonic()
        volume = self.bs.get_volume(volume_id)
        try:
            volume = self.bs.wait_for_status(volume, 'available', failures=['error'],
                                             interval=0.5, wait=timeout)
        except exceptions.ResourceFailure:
            return Reached('error', time.monotonic() - start)
        except exceptions.ResourceTimeout:
            volume = self.bs.get_volume(volume_id)
        return Reached(volume.status, time.monotonic() - start)

    def wait_all(self, ids: Iterable[str], timeout: float, done: tuple[str, ...] = DONE,
                 kind: str = 'volumes', interval: float = 1.0) -> dict[str, Reached]:
        """{id: Reached}: when each volume (or snapshot) reached a ``done`` status or was gone."""
        start, pending = time.monotonic(), set(ids)
        result = {i: Reached('?', 0.0) for i in pending}
        listing = self.volumes if kind == 'volumes' else self.snapshots

        def poll() -> set[str]:
            found = listing()
            for rid in list(pending):
                status = found[rid].status if rid in found else None
                result[rid] = Reached(status, time.monotonic() - start)
                if status is None or status in done:
                    pending.discard(rid)
            return pending

        settled(poll, lambda left: not left, timeout, interval)
        return result

    def delete_all(self, ids: Iterable[str], timeout: float) -> tuple[float, list[str]]:
        """Delete at once (cascade: their snapshots too); (seconds until all are gone, ids
        still there)."""
        ids, start = list(ids), time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, min(50, len(ids)))) as pool:
            list(pool.map(lambda i: self.call('DELETE', f'/volumes/{i}?cascade=true', None,
                                              (202, 404)), ids))
        left = self.wait_all(ids, timeout, done=('error_deleting',))
        return time.monotonic() - start, sorted(i for i, r in left.items() if r.status)

    def snapshot(self, volume_id: str, name: str, timeout: float = 600) -> str:
        snap = self.bs.create_snapshot(volume_id=volume_id, name=name)
        self.bs.wait_for_status(snap, 'available', failures=['error'], interval=0.5,
                                wait=timeout)
        return snap.id

    def delete_snapshot(self, snapshot_id: str, timeout: float = 600) -> None:
        snap = self.bs.get_snapshot(snapshot_id)
        self.bs.delete_snapshot(snap, ignore_missing=True)
        self.bs.wait_for_delete(snap, interval=0.5, wait=timeout)

    # -- types, pools, quotas ------------------------------------------------------------------
    def ensure_type(self, name: str, backend: str) -> None:
        if self.bs.find_type(name, ignore_missing=True) is None:
            self.bs.create_type(name=name, extra_specs={'volume_backend_name': backend})

    def delete_type(self, name: str) -> None:
        found = self.bs.find_type(name, ignore_missing=True)
        if found is not None:
            self.bs.delete_type(found)

    def backend_up(self, backend: str) -> bool:
        return any((p.capabilities or {}).get('volume_backend_name') == backend
                   for p in self.bs.backend_pools())

    @contextmanager
    def unlimited_quotas(self) -> Iterator[dict]:
        """The project's volume quotas unlimited for a while (Cinder's default allows 10
        volumes); yields the earlier ones, put back at the end."""
        project = self.conn.current_project_id
        current = self.conn.get_volume_quotas(project)
        earlier = {name: current[name] for name in QUOTAS}
        self.conn.set_volume_quotas(project, **dict.fromkeys(QUOTAS, -1))
        try:
            yield earlier
        finally:
            self.conn.set_volume_quotas(project, **earlier)
