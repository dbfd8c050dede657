"""The modules' action plugin (plugins/plugin_utils/acme_action.py): which Python it takes for
the controller's own, and the task's environment around an in-process run."""

import os
import sys

from ansible_collections.acme.nas.plugins.plugin_utils.acme_action import (
    environment,
    is_this_python,
)


def test_this_python_by_path_and_by_its_other_names_in_its_directory():
    assert is_this_python(sys.executable)
    directory, binary = os.path.dirname(sys.executable), os.path.realpath(sys.executable)
    names = [name for name in os.listdir(directory) if name.startswith('python')
             and os.path.realpath(os.path.join(directory, name)) == binary]
    assert names and all(is_this_python(os.path.join(directory, name)) for name in names)


def test_another_directory_or_no_such_interpreter_is_not_this_python(tmp_path):
    link = tmp_path / 'python3'
    link.symlink_to(sys.executable)  # the same binary without this venv's packages
    assert not is_this_python(str(link))
    assert not is_this_python(str(tmp_path / 'missing'))
    assert not is_this_python('/usr/bin/env python3')


def test_the_environment_is_the_tasks_for_the_block_then_as_it_was(monkeypatch):
    monkeypatch.setenv('ACME_URL', 'https://before')
    monkeypatch.delenv('ACME_USERNAME', raising=False)
    with environment({'ACME_URL': 'https://task', 'ACME_USERNAME': 'ops', 'ACME_RETRIES': 2}):
        assert (os.environ['ACME_URL'], os.environ['ACME_USERNAME']) == ('https://task', 'ops')
        assert os.environ['ACME_RETRIES'] == '2'
    assert os.environ['ACME_URL'] == 'https://before'
    assert 'ACME_USERNAME' not in os.environ and 'ACME_RETRIES' not in os.environ
