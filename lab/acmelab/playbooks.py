"""Lab playbooks through ansible-runner: the venv's ansible-playbook, the lab inventory and
lab/ansible.cfg; the run's events and output stay under the artifact directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ansible_runner

LAB = Path(__file__).resolve().parents[1]
REPO = LAB.parent


class PlaybookFailed(RuntimeError):
    pass


def run_playbook(playbook: Path, inventory: Path, extravars: dict, artifacts: Path,
                 env: dict[str, str] | None = None) -> dict:
    """Run ``playbook``; its recap ({ok, changed, failures, ...} per count) or PlaybookFailed
    naming the task that failed and where the whole output is."""
    venv_bin = Path(sys.executable).parent  # its ansible-playbook, first
    envvars = {'ANSIBLE_CONFIG': str(LAB / 'ansible.cfg'), 'ANSIBLE_NOCOLOR': '1',
               'ANSIBLE_COLLECTIONS_PATH': str(REPO / 'build'),
               'PATH': f'{venv_bin}:{os.environ.get("PATH", "")}', **(env or {})}
    artifacts.mkdir(parents=True, exist_ok=True)
    runner = ansible_runner.run(
        private_data_dir=str(artifacts), playbook=str(playbook), inventory=str(inventory),
        extravars=extravars, envvars=envvars, quiet=True, rotate_artifacts=4,
        project_dir=str(playbook.parent))
    recap = {name: sum(counts.values()) for name, counts in (runner.stats or {}).items()
             if isinstance(counts, dict)}
    if runner.rc != 0:
        failed = [e['event_data'].get('task', '?') for e in runner.events
                  if e.get('event') == 'runner_on_failed'
                  and not e['event_data'].get('ignore_errors')]
        raise PlaybookFailed(f'{playbook.name} failed (rc {runner.rc}, {runner.status}) at '
                             f'{failed[-1:] or "?"}; output: {runner.config.artifact_dir}/stdout')
    return recap
