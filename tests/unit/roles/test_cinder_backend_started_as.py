"""How acme.nas.cinder_backend learns cinder-volume's command line for its drop-in check: the
role's own expression (roles/cinder_backend/vars/main.yml), rendered by Ansible's templating
with what ``systemctl show --property ExecStart --value cinder-volume`` prints."""

from __future__ import annotations

import pytest
import yaml

from tests.support.collection import REPO

ROLE = REPO / 'roles' / 'cinder_backend'
EXEC_START = ('{ path=/usr/bin/cinder-volume ; argv[]=/usr/bin/cinder-volume '
              '--config-file=/etc/cinder/cinder.conf --log-file=/var/log/cinder/cinder-volume.log'
              ' ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ;'
              ' status=0/0 }')


def started_as(**variables) -> list[str]:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template
    expression = yaml.safe_load((ROLE / 'vars' / 'main.yml').read_text())['_acme_cinder_started_as']
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template(expression))


@pytest.mark.parametrize('unit, expected', [
    ({'stdout': EXEC_START}, ['--config-file=/etc/cinder/cinder.conf',
                              '--log-file=/var/log/cinder/cinder-volume.log']),
    ({'stdout': ''}, []),  # no such unit
    (None, []),  # the lookup was skipped (another service manager)
], ids=['systemd-unit', 'no-unit', 'not-asked'])
def test_the_command_line_comes_from_the_systemd_unit(unit, expected):
    variables = {'acme_cinder_service_args': None}
    if unit is not None:
        variables['_acme_cinder_unit'] = unit
    assert started_as(**variables) == expected


def test_given_arguments_win():
    assert started_as(acme_cinder_service_args=['--config-dir', '/x'],
                      _acme_cinder_unit={'stdout': EXEC_START}) == ['--config-dir', '/x']
