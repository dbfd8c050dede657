"""The lab's appliance: the simulator container (podman), its REST API through the collection's
client, its request log, its ganesha; and what it holds compared with what Cinder knows."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from ansible_collections.acme.nas.plugins.module_utils.acme_client import AcmeClient, AcmeError

from .inventory import Backend
from .waits import settled, wait_until

CALL_LINE = re.compile(r' (GET|POST|PUT|PATCH|DELETE) (/api/v1/\S*) (\d+|dropped) ([\d.]+)ms')


class Appliance:
    def __init__(self, settings: dict, backend: Backend, containers_conf: Path) -> None:
        self.container = settings['acme_appliance_name']
        self.volume = settings['acme_appliance_volume']
        self.backend, self.pool = backend, backend.pool
        self.containers_conf = containers_conf
        self.client = AcmeClient(backend.options['acme_url'], backend.options['nas_login'],
                                 backend.options['nas_password'],
                                 verify=settings['acme_appliance_ca_export'], timeout=(5, 60))
        self.data = Path(self.podman('volume', 'inspect', self.volume,
                                     '--format', '{{.Mountpoint}}').strip())

    def podman(self, *args: str, timeout: float = 180) -> str:
        env = dict(os.environ, CONTAINERS_CONF=str(self.containers_conf))
        done = subprocess.run(['podman', *args], capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f'podman {" ".join(args)}: {done.stderr.strip()[-500:]}')
        return done.stdout

    @property
    def log_file(self) -> Path:
        return self.data / 'appliance.log'

    def storage_type(self) -> str:
        """The file system under the appliance's data (xfs: snapshots and clones reflinked)."""
        return subprocess.run(['stat', '-f', '-c', '%T', str(self.data)], capture_output=True,
                              text=True, check=True).stdout.strip()

    def log_offset(self) -> int:
        return self.log_file.stat().st_size

    def calls_since(self, offset: int) -> list[tuple[str, str, str, float]]:
        """(method, path, status, ms) of the requests logged after ``offset``."""
        with self.log_file.open('rb') as handle:
            handle.seek(offset)
            text = handle.read().decode(errors='replace')
        return [(m[1], m[2], m[3], float(m[4])) for m in CALL_LINE.finditer(text)]

    def calls_logged(self, offset: int, pattern: str, count: int, within: float,
                     stop: threading.Event) -> bool:
        """Whether ``count`` requests matching ``pattern`` ('METHOD PATH STATUS') were logged
        after ``offset`` within ``within`` s (False also when ``stop`` is set first)."""
        wanted = re.compile(pattern)

        def matching() -> int:
            return sum(1 for method, path, status, _ms in self.calls_since(offset)
                       if wanted.search(f'{method} {path} {status}'))

        return settled(matching, lambda n: n >= count or stop.is_set(), within, 0.05) >= count

    def share_dir(self, share_id: str) -> Path:
        """The share's directory in the container's data volume."""
        return next(self.data.glob(f'**/shares/{share_id}'))

    def volume_file(self, share: dict, name: str) -> Path:
        """A volume's file (``volume-<name id>``) in its share's directory."""
        return self.share_dir(share['id']) / name

    @staticmethod
    def ganesha_pid() -> int:
        """The ganesha.nfsd in this network namespace: the appliance's (the container joined
        the lab namespace; any other ganesha on the machine is elsewhere)."""
        here = os.stat('/proc/self/ns/net').st_ino
        for proc in Path('/proc').iterdir():
            try:
                if (proc.name.isdigit() and (proc / 'comm').read_text().strip() == 'ganesha.nfsd'
                        and os.stat(proc / 'ns' / 'net').st_ino == here):
                    return int(proc.name)
            except OSError:
                continue
        raise RuntimeError('no ganesha.nfsd in this network namespace')

    def restart(self) -> float:
        """podman restart; seconds until the API answers again."""
        start = time.monotonic()
        self.podman('restart', '--time', '15', self.container)
        wait_until(self.answers, bool, 180, 'the appliance API after its restart')
        return time.monotonic() - start

    def answers(self) -> bool:
        try:
            self.client.system.get()
        except AcmeError:
            return False
        return True

    def shares(self) -> list[dict]:
        return self.client.shares.list(pool=self.pool)

    def share_of(self, volume_id: str) -> dict | None:
        return self.client.shares.find(self.backend.share_name(volume_id), self.pool)

    def snapshots(self, share_id: str) -> list[dict]:
        return self.client.snapshots.list(share_id)

    def rules(self, volume_id: str) -> list[str]:
        """The clients of the export rules of the volume's share."""
        share = self.share_of(volume_id)
        return [r['clients'] for r in self.client.shares.get_nfs(share['id']).get('rules') or []]

    def holdings(self) -> dict[str, list[dict]]:
        """{share name: its snapshots} of the backend's shares."""
        prefix = self.backend.share_prefix
        return {s['name']: self.snapshots(s['id']) for s in self.shares()
                if s['name'].startswith(prefix)}


def file_sha256(path: Path, limit: int | None = None) -> str:
    """sha256 of a file's first ``limit`` bytes (the whole file by default), 1 MiB at a time:
    a volume file holds its image's bytes first, then the rest of the volume."""
    digest, left = hashlib.sha256(), path.stat().st_size if limit is None else limit
    with path.open('rb') as handle:
        while left > 0 and (block := handle.read(min(1 << 20, left))):
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def _snapshot_known(snapshot: dict, volumes: set[str], snapshots: set[str]) -> bool:
    name = snapshot['name']
    if name.startswith('snapshot-'):
        return name.removeprefix('snapshot-') in snapshots
    if snapshot.get('clones'):
        return True
    if name.startswith('cinder-clone-'):
        return name.removeprefix('cinder-clone-') in volumes
    return not name.startswith('cinder-deleted-')


def differences(holdings: dict[str, list[dict]], prefix: str, volumes: dict[str, str],
                snapshots: Iterable[str]) -> dict[str, list[str]]:
    """Orphans (appliance objects Cinder does not know) and lost volumes (available or in-use
    in Cinder without a share). ``holdings``: Appliance.holdings(); ``volumes``: {id: status}
    of Cinder's volumes; ``snapshots``: Cinder's snapshot ids."""
    known_snaps, orphans = set(snapshots), []
    for name, snaps in holdings.items():
        if name.startswith(prefix + 'volume-'):
            known = name.removeprefix(prefix + 'volume-') in volumes
        else:  # a hidden share of a deleted volume, kept while a clone needs it
            known = any(s.get('clones') for s in snaps)
        if not known:
            orphans.append(f'share {name}')
        orphans += [f'snapshot {s["name"]} of {name}' for s in snaps
                    if not _snapshot_known(s, set(volumes), known_snaps)]
    lost = [vid for vid, status in volumes.items() if status in ('available', 'in-use')
            and f'{prefix}volume-{vid}' not in holdings]
    return {'orphans': orphans, 'lost': lost}
