"""Real ansible-playbook against the real simulator: fixtures of the module tests that look at
what an operator sees (output, secrets, README examples, connection errors); the modules'
results are tested by the ansible-test targets in tests/integration/targets.

Each test gets a fresh simulator (the ``appliance`` fixture). Playbooks run through
ansible-runner (tests/support/ansible.py): a test reads each task's result by task name, and
``run.output`` is what an operator sees (diff output, error lines).
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.support.ansible import Ansible, Run


class ModuleAnsible(Ansible):
    """Runs with the connection in ACME_* environment variables (or not)."""

    def __init__(self, appliance, workdir):
        super().__init__(workdir)
        self.appliance = appliance

    def connection(self, password: str | None = None,
                   connection: bool = True) -> dict[str, str]:
        """``connection=False``: no ACME_* variables."""
        if not connection:
            return {}
        return dict(ACME_URL=self.appliance.url, ACME_USERNAME='admin',
                    ACME_PASSWORD=password or self.appliance.password,
                    ACME_CA_PATH=self.appliance.ca_path)

    def playbook(self, tasks: list[dict] | str, *args: str, play: dict | None = None,
                 **connection) -> Run:
        """Run ``tasks`` (a task list, or a whole playbook as YAML text) on localhost."""
        path = self.workdir / f'playbook-{next(self._count)}.yml'
        if isinstance(tasks, str):
            path.write_text(tasks)
        else:
            header = dict(hosts='localhost', gather_facts=False, **(play or {}))
            path.write_text(yaml.safe_dump([dict(header, tasks=tasks)], sort_keys=False))
        return super().playbook(path, *args, env=self.connection(**connection))

    def adhoc(self, module: str, module_args: str, *args: str, **connection) -> Run:
        return super().adhoc(module, module_args, *args, env=self.connection(**connection))

    def shell(self, command: str) -> Run:
        """A command line as an operator types it (README examples)."""
        proc = subprocess.run(['bash', '-c', command], env={**self.env, **self.connection()},
                              cwd=self.workdir, capture_output=True, text=True, timeout=600,
                              check=False)
        return Run(proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture
def ansible(appliance, tmp_path):
    return ModuleAnsible(appliance, tmp_path / 'ansible')


@pytest.fixture
def client(appliance):
    """The one client, for arranging and checking appliance state around the playbooks."""
    return appliance.client()
