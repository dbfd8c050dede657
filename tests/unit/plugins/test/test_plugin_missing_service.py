"""``is acme.nas.missing_service``: the roles' handlers and removal take a service that is not
installed as nothing to do, and any other failure as a failure."""

from pathlib import Path

import ansible.module_utils.service
import ansible.modules
import pytest
from ansible_collections.acme.nas.plugins.test import missing_service as plugin

MODULES = Path(ansible.modules.__file__).parent


@pytest.mark.parametrize('module', ['service.py', 'systemd_service.py'])
def test_the_words_are_what_ansibles_service_modules_say(module):
    """Both fail through module_utils.service.fail_if_missing, which says them."""
    assert 'fail_if_missing(' in (MODULES / module).read_text()
    assert plugin.NOT_INSTALLED in Path(ansible.module_utils.service.__file__).read_text()


@pytest.mark.parametrize('result, missing', [
    ({'failed': True, 'msg': 'Could not find the requested service cinder-volume-acme: host'},
     True),
    ({'failed': True, 'msg': 'Unable to restart service cinder-volume: Job failed'}, False),
    ({'failed': True}, False),
    ({'changed': True}, False),
    ('skipped', False),
])
def test_only_a_service_that_is_not_installed(result, missing):
    assert plugin.TestModule().tests()['missing_service'](result) is missing
