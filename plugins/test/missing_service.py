# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""``result is acme.nas.missing_service``: a service task failed only because the service is not
installed (the handlers and the removal of the roles treat that as nothing to do)."""

from __future__ import annotations

# What ansible.builtin.service and ansible.builtin.systemd_service say of an unknown unit.
NOT_INSTALLED = 'Could not find the requested service'


def missing_service(result) -> bool:
    """The registered result of a service task failed because the service does not exist."""
    return isinstance(result, dict) and NOT_INSTALLED in str(result.get('msg') or '')


class TestModule:
    def tests(self):
        return {'missing_service': missing_service}
