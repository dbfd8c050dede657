"""Security checks of the driver (issue 14, "## Security checks").

The password: in no log line at DEBUG (Cinder's own option dump included) and on no command line
the driver runs. Exports: a share's rules hold this host and the connectors attached now,
nothing else, through a volume's life.

Elsewhere: TLS verification (on by default; an untrusted certificate and a certificate for
another name refused, a configured CA accepted) in the client's room,
tests/unit/client/test_acme_client.py (test_client_verifies_tls_by_default), the driver's default
in test_driver_volumes.py (test_ca_file_timeouts_and_retries_reach_the_client) and its one clear
line for a refused certificate (test_setup_errors_give_one_clear_line); the modules' messages in
tests/unit/plugins/modules/test_plugin_acme_tls.py; the password at ansible -vvv in
tests/integration/modules/test_modules_connection.py (test_wrong_password_* and
test_module_defaults_group_sets_the_connection_once); the simulator's command lines in
tests/integration/test_ganesha_exports.py (test_password_is_on_no_command_line); the cinder.conf
drop-in 0640 in tests/integration/roles/test_deployment_tools.py
(test_dropin_adds_the_backends_to_a_cinder_conf_another_tool_owns); a third address refused by
real NFS in tests/integration/test_ganesha_exports.py
(test_rule_for_another_address_denies_loopback).
"""

from __future__ import annotations

import logging

import pytest
from driver_helpers import MY_IP
from oslo_config import cfg

from cinder import context, exception

COMPUTE_A = {'ip': '10.0.0.21', 'host': 'compute-a'}
COMPUTE_B = {'ip': '10.0.0.22', 'host': 'compute-b'}


# -- the password -------------------------------------------------------------------------------
def _life_of_a_volume(drv, new_volume, new_snapshot) -> None:
    """Every kind of call and a re-login after a refused token."""
    vol = new_volume()
    vol.update(drv.create_volume(vol))
    snap = new_snapshot(vol)
    snap.update(drv.create_snapshot(snap))
    drv.client.http.token = 'expired'  # refused with 401: the driver logs in again
    clone = new_volume()
    clone.update(drv.create_volume_from_snapshot(clone, snap))
    drv.initialize_connection(vol, COMPUTE_A)
    drv.terminate_connection(vol, COMPUTE_A)
    drv.extend_volume(vol, 2)
    for gone in (clone, snap, vol):
        (drv.delete_snapshot if gone is snap else drv.delete_volume)(gone)


def test_password_is_in_no_debug_log_line_and_on_no_command_line(
        make_driver, appliance, new_volume, new_snapshot, caplog):
    with caplog.at_level(logging.DEBUG):  # every logger: cinder, acme_cinder, urllib3, oslo
        drv = make_driver()
        _life_of_a_volume(drv, new_volume, new_snapshot)
        cfg.CONF.log_opt_values(logging.getLogger('cinder.service'), logging.DEBUG)
        wrong = make_driver(setup=False, nas_password=appliance.password + 'x')
        wrong.do_setup(context.get_admin_context())
        with pytest.raises(exception.VolumeBackendAPIException, match='refused'):
            wrong.check_for_setup_error()
    logins = [r for r in caplog.records if 'POST /auth/login' in r.getMessage()]
    assert len(logins) >= 3, 'DEBUG lines of the client were not captured'
    assert 'nas_password' in caplog.text  # the option dump ran (and masked the value)
    assert appliance.password not in caplog.text
    commands = drv._execute.commands + wrong._execute.commands
    assert commands and not [c for c in commands if appliance.password in ' '.join(c)]


# -- exports ------------------------------------------------------------------------------------
def _clients(appliance, vol) -> set[str]:
    share = next(s for s in appliance.shares() if s.id == vol.provider_id)
    return {rule.clients for rule in share.nfs_rules}


def test_rules_hold_this_host_and_the_attached_connectors_only(driver, appliance, volume,
                                                               snapshot, new_volume):
    vol = volume()
    assert _clients(appliance, vol) == {MY_IP}
    driver.initialize_connection(vol, COMPUTE_A)
    driver.initialize_connection(vol, COMPUTE_B)
    assert _clients(appliance, vol) == {MY_IP, COMPUTE_A['ip'], COMPUTE_B['ip']}
    snap = snapshot(vol)
    clone, from_snap = new_volume(), new_volume()
    clone.update(driver.create_cloned_volume(clone, vol))
    from_snap.update(driver.create_volume_from_snapshot(from_snap, snap))
    assert _clients(appliance, clone) == _clients(appliance, from_snap) == {MY_IP}
    driver.extend_volume(vol, 2)
    driver.terminate_connection(vol, COMPUTE_A)
    assert _clients(appliance, vol) == {MY_IP, COMPUTE_B['ip']}
    driver.terminate_connection(vol, None, force=True)
    assert _clients(appliance, vol) == {MY_IP}
