"""Process and file helpers shared by the launcher, the supervisor and the ganesha seam."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from acme_appliance import procs

from tests.support.polling import wait_until


def test_pid_alive_checks_the_command_line() -> None:
    assert procs.pid_alive(os.getpid())
    assert procs.pid_alive(os.getpid(), "python")
    assert not procs.pid_alive(os.getpid(), "no-such-program-name")
    assert not procs.pid_alive(999999999)
    assert not procs.pid_alive(None)


SLEEPER = "import time; time.sleep(60)  # acme-procs-test"


def sleeper() -> subprocess.Popen:
    """A child process whose command line carries a marker, once it is really running."""
    child = subprocess.Popen([sys.executable, "-c", SLEEPER])
    wait_until(lambda: procs.pid_alive(child.pid, "acme-procs-test"), 30, "the child's start")
    return child


def test_stop_pid_ends_and_reaps_a_child() -> None:
    child = sleeper()
    procs.stop_pid(child.pid, "acme-procs-test", timeout=10)
    assert not procs.pid_alive(child.pid, "acme-procs-test")


def test_stop_pid_leaves_a_process_with_another_name_alone() -> None:
    child = sleeper()
    try:
        procs.stop_pid(child.pid, "ganesha.nfsd", timeout=1)
        assert procs.pid_alive(child.pid, "acme-procs-test")
    finally:
        child.kill()
        child.wait()


def test_private_files_are_private_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("old")
    os.chmod(path, 0o644)
    procs.write_private(path, "admin:secret\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "admin:secret\n"
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]


def test_json_and_tail_helpers(tmp_path: Path) -> None:
    procs.write_json(tmp_path / "run.json", {"b": 1, "a": [2]})
    assert procs.read_json(tmp_path / "run.json") == {"a": [2], "b": 1}
    (tmp_path / "broken.json").write_text("{")
    assert procs.read_json(tmp_path / "broken.json") == {}
    assert procs.read_json(tmp_path / "missing.json") == {}
    (tmp_path / "log").write_text("".join(f"line {i}\n" for i in range(10)))
    assert procs.tail(tmp_path / "log", 2) == "line 8\nline 9"
    assert procs.tail(tmp_path / "log", 1, offset=procs.file_size(tmp_path / "log")) == ""
    assert "does not exist" in procs.tail(tmp_path / "nothing")
    assert procs.read_pid(tmp_path / "log") is None
