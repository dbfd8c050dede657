# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""``result is acme.nas.missing_service``: a service task failed only because the service is not
installed (the handlers and the removal of the roles treat that as nothing to do)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: missing_service
short_description: A service task failed only because the service is not installed
version_added: 0.1.0
description:
  - True when the registered result of an C(ansible.builtin.service) or
    C(ansible.builtin.systemd_service) task failed with the message those modules give for a unit
    that does not exist (C(Could not find the requested service)); false for any other result.
  - The handlers and the removal of the roles use it so that a host without that service (for
    example no C(cinder-backup)) is nothing to do, while every other failure stays a failure.
author:
  - ACME NAS maintainers (@acme-storage)
options:
  _input:
    description: The registered result of a service task.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Restart cinder-backup where it is installed
  ansible.builtin.service:
    name: cinder-backup
    state: restarted
  register: restarted
  failed_when: restarted is failed and restarted is not acme.nas.missing_service
"""

RETURN = r"""
_value:
  description: Whether the task failed because the service does not exist.
  type: bool
"""

# What ansible.builtin.service and ansible.builtin.systemd_service say of an unknown unit.
NOT_INSTALLED = 'Could not find the requested service'


def missing_service(result) -> bool:
    """The registered result of a service task failed because the service does not exist."""
    return isinstance(result, dict) and NOT_INSTALLED in str(result.get('msg') or '')


class TestModule:
    def tests(self):
        return {'missing_service': missing_service}
