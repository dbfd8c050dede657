"""Shared pytest set-up: the collection name, the one client module, the one appliance."""

from tests.support.collection import alias_driver_client, collections_path

collections_path()  # before any test module imports ansible_collections.acme.nas
alias_driver_client()

pytest_plugins = ['tests.support.appliance']
