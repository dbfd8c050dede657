"""The appliance password during a real playbook run at -vvv (issue 14, "## Security checks"):
on no command line of any process while the module runs, in no file Ansible writes that others
can read, in none of its output or artifacts. Roles never turn TLS verification off.

The -vvv output with a right and a wrong password: test_modules_connection.py; cinder.conf 0640:
tests/integration/roles/test_roles.py (test_cinder_backend_role_renders_validates_idempotently).
"""

from __future__ import annotations

import re
import stat
import threading
from pathlib import Path

import pytest

from tests.integration.conftest import command_lines_with
from tests.support.ansible import other_python

pytestmark = pytest.mark.integration
ROLES = Path(__file__).resolve().parents[3] / 'roles'
TLS_OFF = re.compile(r'(acme_tls_verify|validate_certs)\W+(false|no|0)\b', re.IGNORECASE)


class Watch(threading.Thread):
    """Polls command lines and Ansible's remote temp files while a playbook runs."""

    def __init__(self, secret: str, remote_tmp: Path) -> None:
        super().__init__(daemon=True)
        self.secret, self.remote_tmp = secret, remote_tmp
        self.stop = threading.Event()
        self.command_lines: list[str] = []
        self.module_seen = False
        # The module's files (AnsiballZ holds the arguments, password included, zipped):
        # path -> modes of it and of its directories up to the temp directory.
        self.files: dict[str, str] = {}

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.command_lines += command_lines_with(self.secret)
            self.module_seen |= bool(command_lines_with('AnsiballZ_acme_share'))
            for path in self.remote_tmp.rglob('*'):
                self._check(path)

    def _check(self, path: Path) -> None:
        try:
            if not path.is_file():
                return
            chain = [path, *[p for p in path.parents if p == self.remote_tmp
                             or self.remote_tmp in p.parents]]
            modes = (oct(stat.S_IMODE(p.stat().st_mode)) for p in chain)
            self.files[str(path)] = ' '.join(modes)
        except OSError:  # removed by Ansible meanwhile
            pass


def _harness_input(path: Path) -> bool:
    """What the test gave ansible-runner (the environment with the password), kept by it."""
    return 'env' in path.parts or (path.name == 'command' and 'artifacts' in path.parts)


def _readable_by_others(modes: str) -> bool:
    """By the group or the world: the file readable and every directory on the way searchable."""
    file, *directories = (int(mode, 8) for mode in modes.split())
    return any(file & read and all(d & search for d in directories)
               for read, search in ((0o040, 0o010), (0o004, 0o001)))


@pytest.mark.parametrize('module_process', [True, False], ids=['module process', 'in controller'])
def test_password_on_no_command_line_and_in_no_readable_file_during_a_run(
        ansible, appliance, tmp_path, module_process):
    """As a module process (another interpreter) and in the controller's worker (the default
    on localhost: then no module file is written at all)."""
    remote_tmp = ansible.workdir / 'remote-tmp'
    ansible.env['ANSIBLE_REMOTE_TEMP'] = str(remote_tmp)
    play = {'vars': {'ansible_python_interpreter': str(other_python(tmp_path / 'bin'))}}
    appliance.add_fault(method='GET', path='/shares', action='delay', delay=2)  # module lingers
    watch = Watch(appliance.password, remote_tmp)
    watch.start()
    try:
        run = ansible.playbook([{'name': 'create', 'acme.nas.acme_share': {
            'name': 'db01', 'pool': 'pool1', 'size': '1GiB'}}], '-vvv',
            play=play if module_process else None).ok()
    finally:
        watch.stop.set()
        watch.join()
    assert run['create']['changed'] and watch.module_seen is module_process
    assert watch.command_lines == []
    module_files = [p for p in watch.files if 'AnsiballZ_acme_share' in p]
    assert bool(module_files) is module_process, watch.files
    assert {p: m for p, m in watch.files.items() if _readable_by_others(m)} == {}
    assert appliance.password not in run.output
    written = [p for p in ansible.workdir.rglob('*') if p.is_file() and not _harness_input(p)]
    assert written and [p for p in written if appliance.password.encode() in p.read_bytes()] == []


def test_roles_never_turn_tls_verification_off():
    """The driver's and the modules' defaults verify; no shipped role overrides them (roles/ holds
    only those: the lab's roles are under lab/roles)."""
    files = [p for p in ROLES.rglob('*') if p.is_file()]
    off = [f'{p}: {line.strip()}' for p in files
           for line in p.read_text(errors='replace').splitlines() if TLS_OFF.search(line)]
    assert files and off == []
