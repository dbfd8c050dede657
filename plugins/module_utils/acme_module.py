# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""The base of every acme.nas module: connection options, client, one error handler, one exit.

A module subclasses :class:`AcmeModule`, declares ``argument_spec`` and
``module_kwargs`` as class attributes and writes ``run()``, which returns one
result dict. ``main()`` is ``module = ShareModule(); module()``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import traceback
from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.acme.nas.plugins.module_utils.acme_client import (
    DEFAULT_RETRIES,
    DEFAULT_RETRY_AFTER_MAX,
    HAS_URLLIB3,
    REQUIREMENTS_ERROR,
    URLLIB3_IMPORT_ERROR,
    AcmeClient,
    AcmeError,
    ConnectionFailed,
    NotFound,
)


def acme_argument_spec(**options):
    """The connection options (documented by the ``acme.nas.acme`` doc fragment) plus ``options``.

    A fresh dict on every call, like ``na_ontap_host_argument_spec()``.
    """
    spec = dict(
        appliance_url=dict(type='str', required=True, fallback=(env_fallback, ['ACME_URL'])),
        username=dict(type='str', required=True, fallback=(env_fallback, ['ACME_USERNAME'])),
        password=dict(type='str', required=True, no_log=True,
                      fallback=(env_fallback, ['ACME_PASSWORD'])),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path', fallback=(env_fallback, ['ACME_CA_PATH'])),
        timeout=dict(type='int', default=60),
        retry_after_max=dict(type='float', default=DEFAULT_RETRY_AFTER_MAX,
                             fallback=(env_fallback, ['ACME_RETRY_AFTER_MAX'])),
        retries=dict(type='int', default=DEFAULT_RETRIES,
                     fallback=(env_fallback, ['ACME_RETRIES'])),
    )
    spec.update(options)
    return spec


class ModuleFailure(Exception):
    """A failure the module finds itself (bad parameter, a guard) before it changes anything."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


# The appliance contract's names: 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'.
NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$')


def check_name(value, option):
    """Refuse a name the appliance would refuse, before anything is looked up or changed."""
    if not NAME_RE.match(value or ''):
        raise ModuleFailure(f'{option}: {value!r} is not a valid name (1 to 64 of A-Z a-z 0-9 '
                            f'_ . -, not starting with . or -)')


def check_clients(rules):
    """NFS rule clients: '*' or one address or network written canonically, each at most once.

    The appliance exports a client exactly as given, so it takes only the canonical form
    (IPv6 compressed in lower case, a network without host bits) and no IPv6 zone id.
    """
    seen = set()
    for rule in rules:
        clients = rule['clients']
        if clients in seen:
            raise ModuleFailure(f'nfs.rules: clients {clients!r} appears more than once')
        seen.add(clients)
        canonical = canonical_clients(clients)
        if canonical is None:
            raise ModuleFailure(f'nfs.rules: clients {clients!r} is not an address, a network '
                                f'(CIDR) or * (an IPv6 zone id is not allowed)')
        if canonical != clients:
            raise ModuleFailure(f'nfs.rules: clients {clients!r} is not written canonically: '
                                f'write {canonical!r}')


def canonical_clients(clients):
    """'*', the canonical text of an address or network, or None when ``clients`` is neither."""
    if clients == '*':
        return clients
    if '%' in clients:
        return None
    try:
        if '/' in clients:
            return str(ipaddress.ip_network(clients, strict=False))
        return str(ipaddress.ip_address(clients))
    except ValueError:
        return None


CA_HINT = ('set ca_path (or the environment variable ACME_CA_PATH) to the PEM file of the '
           "certificate authority that signed the appliance's certificate")


def check_connection(params):
    """Connection options the client cannot use fail here, before any request."""
    ca_path = params.get('ca_path')
    if params.get('validate_certs', True) and ca_path and not os.path.exists(ca_path):
        raise ModuleFailure(f'ca_path: {ca_path} does not exist; {CA_HINT}')
    timeout = params.get('timeout')
    if timeout is not None and timeout <= 0:
        default = acme_argument_spec()['timeout']['default']
        raise ModuleFailure(f'timeout: {timeout} is not a number of seconds above 0 (leave '
                            f'timeout out for the default of {default} seconds)')
    retries = params.get('retries')
    if retries is not None and retries < 0:
        raise ModuleFailure(f'retries: {retries} is not a number of retries (0 or more; 0 sends '
                            f'each call once)')


def connection_hint(error):
    """What to set when the appliance's certificate was refused ('' for other errors)."""
    text = str(error)
    if not isinstance(error, ConnectionFailed) or 'CERTIFICATE_VERIFY_FAILED' not in text:
        return ''
    if 'mismatch' in text:  # "Hostname mismatch" / "IP address mismatch"
        return ('; the certificate does not name the host of appliance_url (or the environment '
                'variable ACME_URL): use a host name the certificate names')
    return f'; {CA_HINT}, or validate_certs=false to skip the check (trusted lab networks only)'


def error_result(error):
    """``fail_json`` arguments for an appliance error: its code, message and request id."""
    step = getattr(error, 'step', None)
    prefix = f'cannot {step}: ' if step else ''
    return dict(msg=f'{prefix}{error}{connection_hint(error)}', error=error.to_dict())


def diff_result(before, after):
    """Ansible's ``diff``: the managed attributes before and after (``{}`` for absent)."""
    return dict(before=before or {}, after=after or {})


REQUIRED_PREFIX = 'missing required arguments: '


def missing_arguments_message(msg, spec):
    """ansible-core's missing-argument message, plus the variables that can supply them."""
    if not msg.startswith(REQUIRED_PREFIX):
        return msg
    missing = msg[len(REQUIRED_PREFIX):].split(', ')
    variables = [spec[name]['fallback'][1][0] for name in missing
                 if name in spec and spec[name].get('fallback', (None,))[0] is env_fallback]
    if not variables:
        return msg
    noun = 'variable' if len(variables) == 1 else 'variables'
    return (f"{msg} (the connection options can also be set in the environment {noun} "
            f"{', '.join(variables)}, or for every acme.nas module with module_defaults: "
            f"group/acme.nas.acme)")


class _AnsibleModule(AnsibleModule):
    """AnsibleModule whose missing-argument failure names the ``ACME_*`` variables."""

    def fail_json(self, msg, **kwargs):
        super().fail_json(missing_arguments_message(msg, self.argument_spec), **kwargs)


def preflight_failure(params):
    """``fail_json`` arguments when the client cannot run with ``params``, else None."""
    if not HAS_URLLIB3:
        return dict(msg=missing_required_lib('urllib3'), exception=URLLIB3_IMPORT_ERROR)
    if REQUIREMENTS_ERROR:  # installed, but older than the client supports
        return dict(msg=REQUIREMENTS_ERROR)
    try:
        check_connection(params)
    except ModuleFailure as failure:
        return dict(msg=failure.msg, **failure.details)
    return None


class AcmeModule:
    """Spec merge, client construction, one ``AcmeError`` -> failure, one exit.

    ``ShareModule()()`` runs as a module process (AnsibleModule reads the arguments);
    ``ShareModule(params, check_mode, client).outcome()`` runs with arguments already
    validated, as the modules' action plugin does in the controller.
    """

    argument_spec = {}
    module_kwargs = {}

    def __init__(self, params=None, check_mode=False, client=None):
        self.ansible = None
        if params is None:
            self.ansible = _AnsibleModule(argument_spec=self.spec(), **self.module_kwargs)
            params, check_mode = self.ansible.params, self.ansible.check_mode
            failure = preflight_failure(params)
            if failure:
                self.ansible.fail_json(**failure)
        self.params = params
        self.check_mode = check_mode
        self.client = client or AcmeClient.from_params(params)

    @classmethod
    def spec(cls):
        return acme_argument_spec(**cls.argument_spec)

    def outcome(self):
        """The result of ``run()``; a failure is a result with ``failed`` and ``msg``."""
        try:
            return self.run()
        except AcmeError as error:
            return dict(failed=True, **error_result(error))
        except ModuleFailure as failure:
            return dict(failed=True, msg=failure.msg, **failure.details)
        except Exception as error:  # pylint: disable=broad-except
            # Not a traceback on screen: a message, the trace only under -vvv.
            return dict(failed=True, msg=f'unexpected error: {to_native(error)}',
                        exception=traceback.format_exc())

    def __call__(self):
        result = self.outcome()
        if result.pop('failed', False):
            self.ansible.fail_json(**result)
        self.ansible.exit_json(**result)

    def run(self):
        """Get -> decide -> apply; return one result dict."""
        raise NotImplementedError

    @contextmanager
    def step(self, what):
        """Name what the module is doing, for the message of an appliance error."""
        try:
            yield
        except AcmeError as error:
            if getattr(error, 'step', None) is None:
                error.step = what
            raise

    def fail(self, msg, **details):
        raise ModuleFailure(msg, **details)

    def share_names(self, share_ids):
        """``pool/name`` of each share id, for messages (the id if the share is gone)."""
        names = []
        for share_id in share_ids:
            with self.step(f'look up share {share_id}'):
                try:
                    share = self.client.shares.get(share_id)
                except NotFound:
                    names.append(share_id)
                    continue
            names.append(f"{share['pool']}/{share['name']}")
        return ', '.join(names)
