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
from ansible_collections.acme.nas.plugins.module_utils import acme_in_process


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


@pytest.fixture(params=['module process', 'in controller'])
def run_module(request, monkeypatch, connection):
    """``run_module(ShareModule, name=..., _check=True)`` -> the result dict (``failed`` set).

    Every test runs the module both ways it runs under ansible: as a module process
    (AnsibleModule reads the arguments) and in the controller's worker (the modules' action
    plugin's ``acme_in_process.run_module``, one client per connection options).
    ``_connection=False`` leaves the connection options out (to test their fallbacks).
    """
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)
    monkeypatch.setattr(acme_in_process, '_clients', {})

    def as_process(module_class, check, diff, params):
        with patch_module_args(dict(params, _ansible_check_mode=check, _ansible_diff=diff)):
            with pytest.raises(AnsibleExit) as exit_info:
                module_class()()
        return exit_info.value.result

    def in_controller(module_class, check, _diff, params):
        name = f"acme.nas.{module_class.__module__.rsplit('.', 1)[-1]}"
        result = acme_in_process.run_module(module_class, params, check_mode=check,
                                            module_name=name)
        del result['invocation']  # AnsibleModule adds it in exit_json, patched out above
        return result

    way = as_process if request.param == 'module process' else in_controller

    def run(module_class, _check=False, _diff=True, _connection=True, **args):
        result = way(module_class, _check, _diff, dict(connection if _connection else {}, **args))
        json.dumps(result)  # every result must survive the JSON trip back to the controller
        return result

    return run
