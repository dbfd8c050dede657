"""Moved to tests/support/appliance.py; kept until the driver's tests import from there."""

from tests.support.appliance import free_port

__all__ = ['free_port']
