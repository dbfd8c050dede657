# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: osa_cinder_backends
short_description: ACME backends as openstack-ansible's cinder_backends
version_added: 0.1.0
description:
  - Turns the backends dict of the role C(acme.nas.cinder_backend) (its C(acme_cinder_backends)
    variable) into the C(cinder_backends) variable of openstack-ansible's os_cinder role.
  - "Every value becomes the text the role would write (C(true)/C(false) for booleans, lists
    joined with commas, C(null) left out), because os_cinder's template writes each key as
    C(key=value) as it is."
  - C(volume_backend_name) defaults to the section name (os_cinder creates a volume type named
    after the section with that property). The role-only key C(volume_type) becomes
    C(extra_volume_types) when it names another type.
author:
  - ACME NAS maintainers (@acme-storage)
options:
  _input:
    description: The backends, keyed by section name, as in C(acme_cinder_backends).
    type: dict
    required: true
  ca_file:
    description:
      - The appliance CA certificate on the cinder-volume hosts, set as C(acme_ca_file) in each
        ACME backend that has none.
    type: str
    default: ""
  role_keys:
    description: Backend keys that are role data, not cinder.conf options.
    type: list
    elements: str
    default: [volume_type]
"""

EXAMPLES = r"""
# openstack-ansible user_variables.yml (the backends as acme.nas.cinder_backend takes them)
cinder_backends: >-
  {{ acme_cinder_backends | acme.nas.osa_cinder_backends(ca_file='/etc/cinder/acme-ca.pem') }}
"""

RETURN = r"""
_value:
  description: C(cinder_backends) for os_cinder, keyed by section name; flat maps of strings.
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 (after the documentation)

ACME_DRIVER = 'acme_cinder.nfs.AcmeNfsDriver'


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ','.join(_text(item) for item in value)
    return str(value)


def _backend(name: str, backend: dict, ca_file: str, role_keys: list[str]) -> dict:
    if not isinstance(backend, dict) or 'volume_driver' not in backend:
        raise AnsibleFilterError(f'backend {name}: a map with volume_driver is needed')
    out = {'volume_backend_name': name}
    if ca_file and backend['volume_driver'] == ACME_DRIVER:
        out['acme_ca_file'] = ca_file
    out.update((key, _text(value)) for key, value in backend.items()
               if key not in role_keys and value is not None)
    volume_type = backend.get('volume_type')
    if 'volume_type' in role_keys and volume_type and volume_type != name:
        out['extra_volume_types'] = [volume_type]
    return out


def osa_cinder_backends(backends: dict, ca_file: str = '',
                        role_keys: list[str] | None = None) -> dict:
    """acme_cinder_backends -> openstack-ansible's cinder_backends."""
    if not isinstance(backends, dict):
        raise AnsibleFilterError('osa_cinder_backends expects a dict of backends')
    keys = ['volume_type'] if role_keys is None else list(role_keys)
    return {name: _backend(name, backend, ca_file, keys)
            for name, backend in sorted(backends.items())}


class FilterModule:
    def filters(self) -> dict:
        return {'osa_cinder_backends': osa_cinder_backends}
