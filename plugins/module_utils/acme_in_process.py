# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""Run an acme.nas module class inside the controller's worker, as AnsibleModule would run it.

The modules' action plugin (plugin_utils/acme_action.py) calls :func:`run_module` when the
module would run on the controller anyway (a local connection, the controller's Python): the
arguments are validated with the module's own spec, the result carries the same keys and hides
the same secrets, and one client (one login, one TLS pool) serves every item of a loop in that
worker.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.acme.nas.plugins.module_utils.acme_client import AcmeClient
from ansible_collections.acme.nas.plugins.module_utils.acme_module import (
    missing_arguments_message,
    preflight_failure,
)

# The connection options a client is made of; the same options share one client.
CLIENT_OPTIONS = ('appliance_url', 'username', 'password', 'validate_certs', 'ca_path',
                  'timeout', 'retry_after_max', 'retries')

_clients: dict[tuple, AcmeClient] = {}


def shared_client(params) -> AcmeClient:
    """This worker's client for these connection options (made on first use)."""
    key = tuple(params.get(option) for option in CLIENT_OPTIONS)
    if key not in _clients:
        _clients[key] = AcmeClient.from_params(params)
    return _clients[key]


def validation_failure(validation, spec, module_name) -> str | None:
    """AnsibleModule's message for arguments its spec refuses, or None."""
    if not validation.errors.errors:
        return None
    msg = validation.errors.msg
    if isinstance(validation.errors[0], UnsupportedError):
        return f'Unsupported parameters for ({module_name}) module: {msg}'
    return missing_arguments_message(msg, spec)


def alias_warnings(validation) -> list[str]:
    return [f"Both option {w['option']} and its alias {w['alias']} are set."
            for w in validation._warnings]


def run_module(module_class, args, check_mode, module_name) -> dict:
    """The result ``module_class`` would exit with, run here with ``args``."""
    spec = module_class.spec()
    kwargs = {key: value for key, value in module_class.module_kwargs.items()
              if key != 'supports_check_mode'}
    validation = ArgumentSpecValidator(spec, **kwargs).validate(args)
    result = _outcome(module_class, validation, spec, check_mode, module_name)
    warnings = alias_warnings(validation)
    if warnings:
        result['warnings'] = warnings
    result['invocation'] = {'module_args': validation.validated_parameters}
    return remove_values(result, validation._no_log_values)


def _outcome(module_class, validation, spec, check_mode, module_name) -> dict:
    failure = validation_failure(validation, spec, module_name)
    if failure:
        return dict(failed=True, msg=failure)
    params = validation.validated_parameters
    failure = preflight_failure(params)
    if failure:
        return dict(failed=True, **failure)
    return module_class(params, check_mode, shared_client(params)).outcome()
