"""The modules verify TLS by default (issue 14): an untrusted certificate and a certificate for
another name are refused, a configured CA (ca_path) is accepted. The drivers' and the client's
checks with the same three cases: tests/unit/driver/test_driver_security.py."""

import pytest
from ansible_collections.acme.nas.plugins.modules.acme_share_info import ShareInfoModule

from tests.support import tls_server


@pytest.fixture(params=list(tls_server.TLS_CASES))
def endpoint(request, appliance, tmp_path):
    yield from tls_server.endpoint(request.param, appliance, tmp_path)


def test_modules_verify_tls_by_default(run_module, connection, endpoint):
    url, ca_file, refusal = endpoint
    args = dict(connection, appliance_url=url, ca_path=ca_file)  # None: the system store
    result = run_module(ShareInfoModule, _connection=False, pool='pool1', **args)
    if refusal is None:
        assert not result.get('failed') and result['shares'] == [], result
    else:
        assert result.get('failed') and refusal in result['msg'], result
