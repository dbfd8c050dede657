"""The lab's etcd (the volume hosts' lock service): its lock keys, a watch on them, its PID."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from .control import program_pid

LOCK_KEYS = '/tooz/locks'
HANDOVER_S = 1.2  # tooz's waiter retries at most 1 s apart


def _etcdctl(endpoint: str, *args: str) -> list[str]:
    return ['etcdctl', '--endpoints', endpoint, *args]


def lock_keys(endpoint: str) -> list[str]:
    out = subprocess.run(_etcdctl(endpoint, 'get', '--prefix', LOCK_KEYS, '--keys-only'),
                         capture_output=True, text=True, timeout=30, check=True,
                         env={**os.environ, 'ETCDCTL_API': '3'}).stdout
    return out.split()


def etcd_pid(supervisor_conf: Path) -> int:
    """etcd's PID, as the controller's supervisord reports it (checked to be etcd)."""
    return program_pid(supervisor_conf, 'etcd', 'etcd')


def lock_summary(events: list[tuple[float, str, str, str]]) -> dict[str, int]:
    """Acquisitions per key, overlapping holders (must be 0), hand-overs to a waiter (a PUT
    of a key within HANDOVER_S of its DELETE)."""
    holders: dict[str, str] = {}
    last_delete: dict[str, float] = {}
    acquired: Counter[str] = Counter()
    overlaps = handovers = 0
    for at, kind, key, value in events:
        if kind == 'PUT':
            acquired[key] += 1
            overlaps += key in holders
            handovers += at - last_delete.get(key, float('-inf')) < HANDOVER_S
            holders[key] = value
        else:
            holders.pop(key, None)
            last_delete[key] = at
    return {'keys': len(acquired), 'acquisitions': sum(acquired.values()),
            'max_per_key': max(acquired.values(), default=0), 'overlaps': overlaps,
            'handovers': handovers}


def parse_watch_line(line: str, at: float) -> list[tuple[float, str, str, str]]:
    """The events of one line of ``etcdctl watch -w json``: (time, PUT|DELETE, key, value)."""
    try:
        response = json.loads(line)
    except ValueError:
        return []
    events = []
    for event in response.get('Events') or []:
        kind = 'DELETE' if event.get('type') in (1, 'DELETE') else 'PUT'
        kv = event.get('kv', {})
        key = base64.b64decode(kv.get('key', '')).decode(errors='replace')
        events.append((at, kind, key, kv.get('value', '')))
    return events


class EtcdWatch:
    """etcdctl watch on the lock keys while it runs (a context manager)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.events: list[tuple[float, str, str, str]] = []

    def __enter__(self) -> EtcdWatch:
        self.proc = subprocess.Popen(
            _etcdctl(self.endpoint, 'watch', '--prefix', LOCK_KEYS, '-w', 'json'),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, 'ETCDCTL_API': '3'})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events += parse_watch_line(line, time.time())

    def __exit__(self, *_exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def between(self, start: float, end: float, key_part: str = '') -> list:
        return [e for e in self.events if start <= e[0] <= end and key_part in e[2]]
