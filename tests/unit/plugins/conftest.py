"""Unit-test harness of the acme.nas modules: the real AnsibleModule against the real simulator.

``run_module`` runs a module class in-process, connected to the ``appliance`` fixture (the
simulator served in-process, fresh per test), and returns what the module exited with.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.testing import patch_module_args


class AnsibleExit(Exception):
    """exit_json or fail_json was called; ``result`` holds what the module returned."""

    def __init__(self, result):
        super().__init__(result.get('msg', ''))
        self.result = result


def _exit_json(self, **result):
    raise AnsibleExit(remove_values(result, self.no_log_values))


def _fail_json(self, msg, **result):
    raise AnsibleExit(remove_values(dict(result, msg=msg, failed=True), self.no_log_values))


@pytest.fixture
def connection(appliance):
    return dict(appliance_url=appliance.url, username='admin', password=appliance.password,
                ca_path=appliance.ca_path)


@pytest.fixture
def refused(appliance):
    """``refused(result)`` -> its message, once the module failed and the appliance saw no write."""
    def check(result):
        assert result.get('failed') and appliance.writes == [], (result, appliance.writes)
        return result['msg']
    return check


@pytest.fixture
def run_module(monkeypatch, connection):
    """``run_module(ShareModule, name=..., _check=True)`` -> the result dict (``failed`` set).

    ``_connection=False`` leaves the connection options out (to test their fallbacks).
    """
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)

    def run(module_class, _check=False, _diff=True, _connection=True, **args):
        params = dict(connection if _connection else {}, _ansible_check_mode=_check,
                      _ansible_diff=_diff, **args)
        with patch_module_args(params):
            with pytest.raises(AnsibleExit) as exit_info:
                module_class()()
        result = exit_info.value.result
        json.dumps(result)  # every result must survive the JSON trip back to the controller
        return result

    return run
