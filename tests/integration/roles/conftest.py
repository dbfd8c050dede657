"""The cinder-volume host of the role tests that talk to a real cinder-api (removal, volume
types): a root with etc/cinder and bin, and the cloud settings of the module's ``cinder``."""

from __future__ import annotations

import pytest

from tests.integration.roles.test_roles_removal import Host
from tests.support import cinder_api


@pytest.fixture
def volume_host(tmp_path, cinder) -> Host:
    host = Host(tmp_path)
    for directory in ('etc/cinder', 'bin'):
        (host.root / directory).mkdir(parents=True)
    host.conf = host.root / 'etc' / 'cinder' / 'cinder.conf'
    host.cloud = {'acme_cinder_cloud': cinder_api.CLOUD,
                  'acme_cinder_clouds_yaml': str(cinder.clouds_yaml())}
    return host
