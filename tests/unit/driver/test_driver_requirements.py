"""Too old urllib3 in Cinder's Python: one clear line, a Cinder exception, no traceback."""

from __future__ import annotations

import logging

import pytest

from acme_cinder import acme_client
from cinder import context, exception


def test_too_old_libraries_stop_the_backend_with_one_clear_line(make_driver, monkeypatch,
                                                                caplog):
    def too_old(*_args, **_kwargs):
        raise acme_client.RequirementsError('the ACME client needs urllib3>=1.26.5, found 1.25.8')
    monkeypatch.setattr(acme_client, 'AcmeClient', too_old)
    drv = make_driver(setup=False)
    with caplog.at_level(logging.ERROR), \
            pytest.raises(exception.VolumeBackendAPIException, match='urllib3>=1.26.5'):
        drv.do_setup(context.get_admin_context())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and 'cannot start' in errors[0].getMessage()
    assert errors[0].exc_info is None
