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
    joined with commas, every C($) doubled as oslo.config needs it, C(null) left out), because
    os_cinder's template writes each key as C(key=value) as it is."
  - C(volume_backend_name) defaults to the section name (os_cinder creates a volume type named
    after the section with that property). The role-only key C(volume_type) becomes
    C(extra_volume_types) when it names another type.
author:
  - ACME NAS maintainers (@acme-storage)
extends_documentation_fragment:
  - acme.nas.cinder_backends
"""

EXAMPLES = r"""
# /etc/openstack_deploy/group_vars/cinder_volume/acme.yml (not a user_*.yml file: openstack-ansible
# passes those as extra vars, and a cinder_backends there replaces each host's own backends)
acme_osa_cinder_backends: >-
  {{ acme_cinder_backends | acme.nas.osa_cinder_backends(ca_file='/etc/cinder/acme-ca.pem') }}

# openstack_user_config.yml: each storage host's cinder_backends names them next to its own
# storage_hosts:
#   storage1:
#     container_vars:
#       cinder_backends:
#         lvm: {...}
#         acme-gold: "{{ acme_osa_cinder_backends['acme-gold'] }}"
"""

RETURN = r"""
_value:
  description: C(cinder_backends) for os_cinder, keyed by section name; flat maps of strings.
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 (after the documentation)
from ansible_collections.acme.nas.plugins.module_utils.cinder_conf import (  # noqa: E402
    ROLE_KEYS,
    BackendError,
    backend_sections,
    file_sections,
)


def osa_cinder_backends(backends: dict, ca_file: str = '',
                        role_keys: list[str] | None = None) -> dict:
    """acme_cinder_backends -> openstack-ansible's cinder_backends: the sections the role
    writes, and extra_volume_types where the role-only key volume_type names another type."""
    keys = ROLE_KEYS if role_keys is None else role_keys
    try:
        sections = file_sections(backend_sections(backends, ca_file, keys))
    except BackendError as error:
        raise AnsibleFilterError(f'osa_cinder_backends: {error}') from None
    for name, section in sections.items():
        volume_type = backends[name].get('volume_type')
        if 'volume_type' in keys and volume_type and volume_type != name:
            section['extra_volume_types'] = [volume_type]
    return sections


class FilterModule:
    def filters(self) -> dict:
        return {'osa_cinder_backends': osa_cinder_backends}
