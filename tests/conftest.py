"""Shared pytest set-up: the collection name, the one client module, the one appliance."""

import pytest

from tests.support.collection import alias_driver_client, collections_path

collections_path()  # before any test module imports ansible_collections.acme.nas
alias_driver_client()

pytest_plugins = ['tests.support.appliance']


@pytest.fixture
def simulator(appliance):
    """The old name of ``appliance``, until the driver's tests use the new one."""
    return appliance
