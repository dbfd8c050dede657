"""The lab library runs playbooks through ansible-runner: the recap when they pass, the failed
task and where the output is when they fail (real ansible-playbook, localhost)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'lab'))
from acmelab.playbooks import PlaybookFailed, run_playbook  # noqa: E402

pytestmark = pytest.mark.integration
PLAY = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Say what the caller passed
      ansible.builtin.debug:
        msg: "{{ greeting }}"
    - name: Fail when asked to
      ansible.builtin.fail:
        msg: asked to fail
      when: fail | bool
"""


@pytest.fixture
def play(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / 'play.yml').write_text(PLAY)
    (tmp_path / 'inventory.yml').write_text(
        f'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
        f'      ansible_python_interpreter: {sys.executable}\n')
    return tmp_path / 'play.yml', tmp_path / 'inventory.yml'


def test_a_passing_playbook_gives_its_recap(play: tuple[Path, Path], tmp_path: Path) -> None:
    recap = run_playbook(*play, dict(greeting='hello', fail=False), tmp_path / 'runner')
    assert recap['ok'] == 1 and recap['failures'] == 0 and recap['skipped'] == 1
    assert 'hello' in next((tmp_path / 'runner' / 'artifacts').glob('*/stdout')).read_text()


def test_a_failing_playbook_names_its_task(play: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(PlaybookFailed, match=r"play.yml failed \(rc 2, failed\) at "
                                             r"\['Fail when asked to'\]; output: .*/stdout"):
        run_playbook(*play, dict(greeting='hello', fail=True), tmp_path / 'runner')
