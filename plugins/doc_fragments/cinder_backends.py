# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""Documentation of the options both cinder.conf backend filters share."""

from __future__ import annotations


class ModuleDocFragment:
    """Used as ``extends_documentation_fragment: [acme.nas.cinder_backends]``."""

    DOCUMENTATION = r"""
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
