"""A cinder-volume host (cluster_host.py) as a process of its own, driven by a test:
requests out as JSON lines, replies in. By default each host has a mount namespace of
its own (like a separate machine); ``launch`` can instead enter a shared one (several
backends, each a process, on one host)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HOST_SCRIPT = REPO / 'tests' / 'integration' / 'driver' / 'cluster_host.py'
OWN_MOUNT_NAMESPACE = ('unshare', '--mount', '--propagation', 'private')


class ClusterHost:
    """A cluster_host.py process: requests out, JSON replies in."""

    def __init__(self, name: str, spec: dict, workdir: Path,
                 launch: tuple[str, ...] = OWN_MOUNT_NAMESPACE) -> None:
        self.name, self.my_ip, self.launch = name, spec['my_ip'], launch
        self.log, self.stderr = workdir / f'{name}.log', workdir / f'{name}.stderr'
        self.spec = {'host': name, 'base': str(workdir / f'mnt-{name}'), **spec,
                     'log': str(self.log)}
        self.start()

    def start(self) -> None:
        with open(self.stderr, 'ab') as stderr:
            self.process = subprocess.Popen(
                [*self.launch, sys.executable, str(HOST_SCRIPT), json.dumps(self.spec)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=REPO)
        assert self.reply(timeout=120)['result'] == 'ready'

    def send(self, op: str, **args: Any) -> None:
        self.process.stdin.write(json.dumps({'op': op, **args}).encode() + b'\n')
        self.process.stdin.flush()

    def poll(self, timeout: float) -> dict | None:
        """The reply, or None when there is none within ``timeout`` seconds."""
        ready = select.select([self.process.stdout], [], [], timeout)[0]
        line = self.process.stdout.readline() if ready else b''
        return json.loads(line) if line else None

    def reply(self, timeout: float = 60) -> dict:
        reply = self.poll(timeout)
        assert reply, f'{self.name} gave no reply: {self.stderr.read_text()[-3000:]}'
        return reply

    def call(self, op: str, **args: Any) -> Any:
        self.send(op, **args)
        reply = self.reply()
        assert reply['ok'], f"{self.name} {op}: {reply['message']}\n{reply['trace']}"
        return reply['result']

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdout.close()

    def restart(self) -> None:
        """cinder-volume restarted on this host: a new process, a new tooz member."""
        self.stop()
        self.start()
