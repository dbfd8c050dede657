# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""The action of every acme.nas module: run it in the controller's worker when it would run here.

Each module's action plugin (``plugins/action/<module>.py``) is this class.

A module of this collection only talks to the appliance's REST API. When its task would run it
on the controller anyway (a ``local`` connection, no ``become``, not ``async``, the
controller's own Python, with urllib3), this action runs the module's code in the worker
instead of starting a Python per item: one import, and one login and TLS pool for every item
of a loop. Any other task runs the module as ansible always does (``ansible.builtin.normal``),
on its host.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from contextlib import contextmanager

from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.plugins.loader import module_loader

from ansible_collections.acme.nas.plugins.module_utils.acme_client import (
    HAS_URLLIB3,
    REQUIREMENTS_ERROR,
)
from ansible_collections.acme.nas.plugins.module_utils.acme_in_process import run_module


@contextmanager
def environment(variables):
    """``os.environ`` with the task's ``environment:`` for the block (the env fallbacks read it)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update({name: str(value) for name, value in variables.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def is_this_python(interpreter: str) -> bool:
    """Is ``interpreter`` (a path or a command name) the Python running this code?

    The same binary in the same directory: ``venv/bin/python`` and ``venv/bin/python3`` are one,
    the venv's and ``/usr/bin``'s are not (both resolve to one binary, with other packages).
    """
    path = shutil.which(interpreter)
    if not path:
        return False
    here = sys.executable
    return (os.path.dirname(os.path.abspath(path)) == os.path.dirname(os.path.abspath(here))
            and os.path.realpath(path) == os.path.realpath(here))


class AcmeAction(NormalAction):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        if not self._runs_here(task_vars):
            return super().run(tmp, task_vars)
        result = super(NormalAction, self).run(tmp, task_vars)  # ActionBase's checks only
        variables = {}
        self._compute_environment_string(raw_environment_out=variables)
        module_name = self._module_name()
        with environment(variables):
            result.update(run_module(self._module_class(module_name), self._task.args,
                                     check_mode=self._task.check_mode, module_name=module_name))
        return result

    def _runs_here(self, task_vars) -> bool:
        """Would the module run on this controller, in this Python, as this user?"""
        if self._connection.transport != 'local' or self._play_context.become:
            return False
        if self._task.async_val or not HAS_URLLIB3 or REQUIREMENTS_ERROR:
            return False
        interpreter = self._templar.template(task_vars.get('ansible_python_interpreter'))
        return not interpreter or is_this_python(interpreter)

    def _module_name(self) -> str:
        """The task's module, fully qualified (the task may name it short, or by a redirect)."""
        found = module_loader.find_plugin_with_context(self._task.action,
                                                       collection_list=self._task.collections)
        return found.resolved_fqcn

    def _module_class(self, module_name):
        """The module's ``AcmeModule`` class, named by the module's ``ACME_MODULE``."""
        namespace, collection, name = module_name.split('.')
        module = importlib.import_module(
            f'ansible_collections.{namespace}.{collection}.plugins.modules.{name}')
        return module.ACME_MODULE
