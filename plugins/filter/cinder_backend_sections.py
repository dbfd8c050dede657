# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: cinder_backend_sections
short_description: cinder.conf backend sections from the backends dict
version_added: 0.1.0
description:
  - Turns the backends dict of the role C(acme.nas.cinder_backend) (its C(acme_cinder_backends)
    variable) into cinder.conf sections, as the role writes them.
  - C(volume_backend_name) defaults to the section name; every value becomes the text
    oslo.config reads (C(true)/C(false) for booleans, lists joined with commas, C(null) left
    out); role-only keys are left out.
author:
  - ACME NAS maintainers (@acme-storage)
extends_documentation_fragment:
  - acme.nas.cinder_backends
"""

EXAMPLES = r"""
- name: The sections acme.nas.cinder_backend would write
  ansible.builtin.debug:
    msg: >-
      {{ acme_cinder_backends
         | acme.nas.cinder_backend_sections(ca_file='/etc/cinder/acme-ca.pem') }}
"""

RETURN = r"""
_value:
  description: cinder.conf sections keyed by section name; flat maps of strings.
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 (after the documentation)
from ansible_collections.acme.nas.plugins.module_utils.cinder_conf import (  # noqa: E402
    ROLE_KEYS,
    BackendError,
    backend_sections,
)


def cinder_backend_sections(backends: dict, ca_file: str = '',
                            role_keys: list[str] | None = None) -> dict:
    """acme_cinder_backends -> cinder.conf backend sections."""
    try:
        return backend_sections(backends, ca_file, ROLE_KEYS if role_keys is None else role_keys)
    except BackendError as error:
        raise AnsibleFilterError(f'cinder_backend_sections: {error}') from None


class FilterModule:
    def filters(self) -> dict:
        return {'cinder_backend_sections': cinder_backend_sections}
