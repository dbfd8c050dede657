"""Real ansible-playbook against the real simulator: fixtures of the module integration tests.

One simulator per test file (HTTPS on a free loopback port, stopped afterwards). Playbooks are
written to a temporary directory and run with the ``ansible.posix.json`` stdout callback, so a
test reads each task's result by task name; ``text=True`` runs keep the default callback for
what an operator sees (diff output, error lines).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / 'build'
LINK = BUILD / 'ansible_collections' / 'acme' / 'nas'
BIN = Path(sys.executable).parent


def ensure_collection_link() -> None:
    """What ``make collection-link`` does, for a bare ``pytest tests/integration``."""
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO, LINK)


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    """The simulator; used bytes are re-measured every 0.5 s (files are written behind its back)."""
    from tests.support.simulator import start_simulator
    simulator = start_simulator(tmp_path_factory.mktemp('appliance'), '--usage-refresh', '0.5')
    yield simulator
    simulator.stop()


@pytest.fixture(scope='module')
def client(sim):
    """The one client, for arranging and checking appliance state around the playbooks."""
    return sim.client()


@dataclass
class Run:
    """One ansible run: exit status, raw output, and (JSON callback) results by task name."""

    rc: int
    stdout: str
    stderr: str
    seconds: float
    data: dict | None = None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def tasks(self) -> dict[str, dict]:
        results = {}
        for play in self.data['plays']:
            for task in play['tasks']:
                results[task['task']['name']] = task['hosts']['localhost']
        return results

    def __getitem__(self, task_name: str) -> dict:
        return self.tasks()[task_name]

    @property
    def stats(self) -> dict:
        return self.data['stats']['localhost']


class Ansible:
    """Runs ansible-playbook / ansible with the connection in ACME_* environment variables."""

    def __init__(self, sim, workdir: Path):
        ensure_collection_link()
        self.sim = sim
        self.workdir = workdir
        self.count = 0

    def env(self, password: str | None = None, connection: bool = True, ca: bool = True,
            extra: dict[str, str] | None = None,
            callback: str = 'ansible.posix.json') -> dict[str, str]:
        """``connection=False``: no ACME_* variables; ``ca=False``: no ACME_CA_PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'ACME_'))}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            ANSIBLE_COLLECTIONS_PATH=str(BUILD),
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ANSIBLE_STDOUT_CALLBACK=callback,
            ANSIBLE_LOCALHOST_WARNING='false',
            ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
            ANSIBLE_HOME=str(self.workdir / 'ansible-home'),
            ANSIBLE_LOCAL_TEMP=str(self.workdir / 'ansible-tmp'),
            ANSIBLE_RETRY_FILES_ENABLED='false',
            ANSIBLE_NOCOLOR='1',
            ANSIBLE_FORCE_COLOR='0',
        )
        if connection:
            env.update(ACME_URL=self.sim.url, ACME_USERNAME='admin',
                       ACME_PASSWORD=password or self.sim.password)
            if ca:
                env.update(ACME_CA_PATH=self.sim.ca_path)
        env.update(extra or {})
        return env

    def playbook(self, tasks: list[dict] | str, *args: str, text: bool = False,
                 play: dict | None = None, **env_options) -> Run:
        """Run ``tasks`` (a task list, or a whole playbook as YAML text) on localhost."""
        self.count += 1
        path = self.workdir / f'playbook-{self.count}.yml'
        if isinstance(tasks, str):
            path.write_text(tasks)
        else:
            header = dict(hosts='localhost', gather_facts=False, **(play or {}))
            path.write_text(yaml.safe_dump([dict(header, tasks=tasks)], sort_keys=False))
        callback = 'ansible.builtin.default' if text else 'ansible.posix.json'
        return self._run([str(BIN / 'ansible-playbook'), str(path), *args],
                         self.env(callback=callback, **env_options), parse=not text)

    def adhoc(self, module: str, module_args: str, *args: str, **env_options) -> Run:
        command = [str(BIN / 'ansible'), 'localhost', '-m', module, '-a', module_args, *args]
        return self._run(command, self.env(callback='ansible.builtin.default', **env_options),
                         parse=False)

    def shell(self, command: str, **env_options) -> Run:
        """A command line as an operator types it (README examples)."""
        return self._run(['bash', '-c', command],
                         self.env(callback='ansible.builtin.default', **env_options), parse=False)

    def _run(self, command: list[str], env: dict[str, str], parse: bool) -> Run:
        start = time.monotonic()
        proc = subprocess.run(command, env=env, cwd=self.workdir, capture_output=True, text=True,
                              timeout=600, check=False)
        run = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
        if parse:
            run.data = json_document(proc.stdout)
            if run.data is None:
                pytest.fail(f'no JSON from ansible-playbook (rc {proc.returncode}):\n'
                            f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
        return run


def json_document(stdout: str) -> dict | None:
    """The callback's JSON document; with -vvv, verbose lines come before it."""
    starts = [0] if stdout.startswith('{') else []
    starts += [match.start() + 1 for match in re.finditer(r'\n\{\n', stdout)]
    for start in reversed(starts):
        try:
            return json.loads(stdout[start:])
        except ValueError:
            continue
    return None


@pytest.fixture(scope='module')
def ansible(sim, tmp_path_factory):
    return Ansible(sim, tmp_path_factory.mktemp('ansible'))


def poll(predicate, timeout: float = 10.0, interval: float = 0.2):
    """Poll until ``predicate()`` is truthy; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def wait_for():
    """``wait_for(predicate)``: the simulator re-measures used bytes in the background."""
    return poll


@pytest.fixture
def appliance_state(client):
    """Every share and snapshot, to compare before and after a run that must change nothing."""
    def snapshot():
        shares = client.shares.list()
        return {
            'shares': sorted((s['pool'], s['name'], s['quota_bytes'],
                              json.dumps(s['nfs'], sort_keys=True), s['origin_snapshot_id'])
                             for s in shares),
            'snapshots': sorted((s['id'], snap['name']) for s in shares
                                for snap in client.snapshots.list(s['id'])),
        }
    return snapshot
