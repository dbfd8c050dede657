"""The roles' own expressions (defaults/ and vars/main.yml), rendered by Ansible's templating:
how acme.nas.cinder_backend learns cinder-volume's command line (the drop-in check) and builds
the service layout's own cinder-volume from what ``systemctl show --property ExecStart
--property User --property Group cinder-volume`` prints, and what acme.nas.driver follows."""

from __future__ import annotations

import pytest
import yaml

from tests.support.collection import REPO

ROLES = REPO / 'roles'
SHOW = ('ExecStart={ path=/usr/bin/cinder-volume ; argv[]=/usr/bin/cinder-volume '
        '--config-file=/etc/cinder/cinder.conf --log-file=/var/log/cinder/cinder-volume.log'
        ' ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ;'
        ' status=0/0 }\nUser=cinder\nGroup=cinder\n')
OWNER_ARGS = ['--config-file=/etc/cinder/cinder.conf',
              '--log-file=/var/log/cinder/cinder-volume.log']


def render(name: str, role: str = 'cinder_backend', **variables) -> object:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template
    files = [ROLES / role / part / 'main.yml' for part in ('defaults', 'vars')]
    role = {k: v for f in files if f.exists() for k, v in yaml.safe_load(f.read_text()).items()}
    trusted = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in role.items()}
    templar = Templar(loader=DataLoader(), variables={**trusted, **variables})
    return templar.template(trust_as_template('{{ ' + name + ' }}'))


@pytest.mark.parametrize('unit, expected', [
    ({'stdout': SHOW}, OWNER_ARGS),
    ({'stdout': ''}, []),  # no such unit
    ({'skipped': True}, []),  # the lookup was skipped (another service manager)
], ids=['systemd-unit', 'no-unit', 'not-asked'])
def test_the_command_line_comes_from_the_systemd_unit(unit, expected):
    assert render('_acme_cinder_started_as', acme_cinder_conf_layout='drop_in',
                  _acme_cinder_unit=unit) == expected


def test_given_arguments_win():
    assert render('_acme_cinder_started_as', acme_cinder_conf_layout='drop_in',
                  acme_cinder_service_args=['--config-dir', '/x'],
                  _acme_cinder_unit={'stdout': SHOW}) == ['--config-dir', '/x']


def test_the_service_layout_starts_as_the_owner_then_reads_its_file():
    unit = {'stdout': SHOW}
    argv = render('_acme_cinder_service_argv', acme_cinder_conf_layout='service',
                  _acme_cinder_unit=unit)
    assert argv == ['/usr/bin/cinder-volume', *OWNER_ARGS,
                    '--config-file', '/etc/cinder/cinder-volume-acme.conf',
                    '--log-file', '/var/log/cinder/cinder-volume-acme.log']
    # the drop-in check asks the ACME cinder-volume's configuration, not the owner's
    assert render('_acme_cinder_started_as', acme_cinder_conf_layout='service',
                  _acme_cinder_unit=unit) == argv[1:]
    owner = {'stdout': SHOW.replace('=cinder\n', '=svc\n')}
    assert [render(f'_acme_cinder_service_{what}', _acme_cinder_unit=owner)
            for what in ('user', 'group')] == ['svc', 'svc']
    assert render('acme_cinder_restart_services', acme_cinder_conf_layout='service') == [
        'cinder-volume-acme']


def test_without_a_unit_the_service_layout_has_no_program():
    assert render('_acme_cinder_service_program', acme_cinder_conf_layout='service',
                  _acme_cinder_unit={'skipped': True}) == ''


def test_the_driver_role_follows_the_service_layout():
    """It restarts the ACME backends' cinder-volume, and refuses to uninstall the driver while
    that service's file still uses it."""
    assert render('acme_driver_restart_services', role='driver',
                  acme_cinder_conf_layout='service') == ['cinder-volume-acme']
    assert render('acme_driver_restart_services', role='driver') == ['cinder-volume']
    paths = render('acme_driver_cinder_conf_paths', role='driver')
    assert '/etc/cinder/cinder-volume-acme.conf' in paths


def test_smoke_counts_only_the_mounts_of_its_own_shares():
    """A cloud's other NFS mounts (Cinder's generic NFS driver keeps its share mounted; a
    volume of the cloud's attached on the compute host) are not the smoke run's leftovers."""
    mounts = [{'device': '10.0.0.1:/pool1/cinder-volume-0a1b'},
              {'device': '10.0.0.1:/pool1/cinder-clone-0a1b'},
              {'device': '10.0.0.1:/pool1/owner-nfs-1'},
              {'device': '10.0.0.1:/pool1/cinder-volume-9f9f'}]
    left = render("mounts | selectattr('device', 'search', _acme_smoke_ids_re) | list",
                  role='smoke', mounts=mounts, _acme_smoke_ids={'src': '0a1b', 'snap': '5e5e'})
    assert left == mounts[:2]
