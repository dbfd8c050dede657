"""Real ansible-playbook and ansible runs for the integration tests, through ansible-runner.

Each run gets its own private data directory (ansible-runner keeps the first environment it
writes there). A run gives the exit status, the text an operator sees, and each task's result
by task name from ansible-runner's events.
"""

from __future__ import annotations

import itertools
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner

from tests.support.collection import collections_path

BIN = Path(sys.executable).parent
HOST = 'localhost'


@dataclass
class Run:
    rc: int
    output: str
    results: dict[str, dict] = field(default_factory=dict)
    changed_tasks: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, task_name: str) -> dict:
        return self.results[task_name]

    def ok(self) -> Run:
        assert self.rc == 0, self.output[-5000:]
        return self


def _result(runner: ansible_runner.Runner) -> Run:
    run = Run(runner.rc, runner.stdout.read())
    for event in runner.events:
        data = event.get('event_data', {})
        if 'res' not in data or data.get('host') != HOST:
            continue
        name = data['task'].split(' : ', 1)[-1]  # role tasks are "role : task"
        run.results[name] = dict(data['res'], failed=event['event'] == 'runner_on_failed')
        if data['res'].get('changed'):
            run.changed_tasks.append(name)
    run.stats = {kind: hosts.get(HOST, 0) for kind, hosts in (runner.stats or {}).items()}
    return run


def other_python(directory: Path) -> Path:
    """This Python under another path: ansible sees another interpreter (the acme.nas action
    then runs its modules as module processes, as for any host), with the same packages."""
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / 'python3'
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def strategy_env(strategy: str) -> dict[str, str]:
    """Ansible's settings for a strategy: ``linear`` (ansible's own) or ``mitogen_linear``
    (Mitogen, pinned in requirements-dev.txt: modules run in kept interpreters)."""
    if strategy == 'linear':
        return {}
    import ansible_mitogen
    plugins = Path(ansible_mitogen.__file__).parent / 'plugins' / 'strategy'
    return dict(ANSIBLE_STRATEGY=strategy, ANSIBLE_STRATEGY_PLUGINS=str(plugins))


class Ansible:
    """Runs playbooks and ad hoc commands on localhost from ``workdir``."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None,
                 inventory: dict | str | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            'PATH': f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            'ANSIBLE_COLLECTIONS_PATH': str(collections_path()),
            'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
            'ANSIBLE_HOME': str(workdir / 'ansible-home'),
            'ANSIBLE_LOCAL_TEMP': str(workdir / 'ansible-tmp'),
            'ANSIBLE_NOCOLOR': '1',
            **(env or {}),
        }
        local = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        self.inventory = inventory or {'all': {'hosts': {HOST: local}}}
        self._count = itertools.count(1)

    def _run(self, args: tuple[str, ...], env: dict[str, str] | None, **kwargs) -> Run:
        private = self.workdir / f'run-{next(self._count)}'
        private.mkdir(parents=True)
        runner = ansible_runner.run(
            private_data_dir=str(private), quiet=True, inventory=self.inventory,
            envvars={**self.env, **(env or {})}, cmdline=shlex.join(args), timeout=900,
            **kwargs)
        return _result(runner)

    def playbook(self, playbook: Path | str, *args: str, env: dict[str, str] | None = None
                 ) -> Run:
        return self._run(args, env, playbook=str(playbook))

    def adhoc(self, module: str, module_args: str, *args: str,
              env: dict[str, str] | None = None) -> Run:
        return self._run(args, env, module=module, module_args=module_args, host_pattern=HOST)
