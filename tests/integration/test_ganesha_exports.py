"""NFS exports of the simulator through real rpcbind + nfs-ganesha, checked with libnfs.

The host has no kernel NFS client, so files are written and read with libnfs-utils
(nfs-cp, nfs-ls, nfs-cat) over NFSv3 and NFSv4 on loopback. ganesha needs fixed ports:
the simulator here uses 12049 (NFS), 12048 (MOUNT) and 12803 (NLM), the bare ganesha
12149/12148/12903, so that they do not collide with each other or a ganesha on the
default ports.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from acme_appliance import ganesha, procs
from acme_appliance.records import ExportSpec, Rule

from tests.integration.conftest import (NfsClient, command_lines_with, exported, require_tools,
                                        rule)

pytestmark = [pytest.mark.integration]

NFS_PORT, MNT_PORT, NLM_PORT = 12049, 12048, 12803
BARE_PORTS = (12149, 12148, 12903)
VERSIONS = (3, 4)
TOOLS = ('rpcbind', 'ganesha.nfsd', 'nfs-ls', 'nfs-cp', 'nfs-cat')


@pytest.fixture(scope='module')
def nfs() -> NfsClient:
    return NfsClient('127.0.0.1', NFS_PORT, MNT_PORT)


@pytest.fixture(scope='module')
def bare_nfs() -> NfsClient:
    return NfsClient('127.0.0.1', BARE_PORTS[0], BARE_PORTS[1])


# --- GaneshaExports against a real ganesha, without the REST service ----------------------

@pytest.fixture(scope='module')
def bare_ganesha(tmp_path_factory):
    """rpcbind (if none runs) + ganesha on the test ports; yields the conf dir."""
    require_tools(*TOOLS)
    conf = tmp_path_factory.mktemp('ganesha')
    rpcbind = ganesha.start_rpcbind(conf / 'rpcbind.log')
    ganesha.write_config(conf, '127.0.0.1', *BARE_PORTS)
    pid = ganesha.start_ganesha(conf)
    yield conf
    procs.stop_pid(pid)
    if rpcbind:
        procs.stop_pid(rpcbind)
    assert not procs.pid_alive(pid)


def test_sync_publishes_changes_and_removes_exports(bare_ganesha, bare_nfs, tmp_path):
    nfs = bare_nfs
    exports = ganesha.GaneshaExports(bare_ganesha, bare_ganesha / ganesha.PID_FILE)
    one, two = tmp_path / 'one', tmp_path / 'two'
    one.mkdir()
    two.mkdir()
    (one / 'seen.txt').write_text('one\n')
    local = ExportSpec(1, one, '/pool1/one', (Rule('127.0.0.1', 'rw', False),))
    other = ExportSpec(2, two, '/pool1/two', (Rule('10.9.9.9', 'rw', False),))

    exports.sync([local, other])
    for version in VERSIONS:
        assert nfs.names('/pool1/one', version) == ['seen.txt']
        assert nfs.ls('/pool1/two', version).returncode != 0

    exports.sync([other])
    for version in VERSIONS:
        assert nfs.ls('/pool1/one', version).returncode != 0

    exports.sync([local, other])  # re-adding restores access
    assert nfs.names('/pool1/one', 4) == ['seen.txt']


def test_sync_reports_a_rejected_configuration(bare_ganesha, tmp_path, monkeypatch):
    exports = ganesha.GaneshaExports(bare_ganesha, bare_ganesha / ganesha.PID_FILE, timeout=5)
    # A quoted client is what ganesha refuses; render it on purpose to see the error surface.
    monkeypatch.setattr(ganesha, '_client_token', lambda clients: f'"{clients}"')
    (tmp_path / 'bad').mkdir()
    with pytest.raises(ganesha.GaneshaError, match='rejected') as failure:
        exports.sync([ExportSpec(3, tmp_path / 'bad', '/pool1/bad', (Rule('*', 'rw', True),))])
    assert 'Expected a client' in str(failure.value)
    monkeypatch.undo()
    exports.sync([])


def test_one_sync_reuses_a_pseudo_path_and_moves_an_export_id(bare_ganesha, bare_nfs,
                                                              tmp_path):
    """Issue 24: in one reload ganesha adds before it removes ("Pseudo path ... is a
    duplicate"), and an id given another pseudo path killed it; removals go first."""
    exports = ganesha.GaneshaExports(bare_ganesha, bare_ganesha / ganesha.PID_FILE)
    dirs = {}
    for name in ('old', 'new', 'moved'):
        dirs[name] = tmp_path / name
        dirs[name].mkdir()
        (dirs[name] / f'{name}.txt').write_text(name)
    local = (Rule('127.0.0.1', 'rw', False),)
    exports.sync([ExportSpec(21, dirs['old'], '/pool1/reused', local)])
    assert bare_nfs.names('/pool1/reused', 3) == ['old.txt']
    exports.sync([ExportSpec(22, dirs['new'], '/pool1/reused', local),
                  ExportSpec(21, dirs['moved'], '/pool1/moved', local)])
    for version in VERSIONS:
        assert bare_nfs.names('/pool1/reused', version) == ['new.txt']
        assert bare_nfs.names('/pool1/moved', version) == ['moved.txt']
    exports.sync([])


def test_a_sync_that_failed_is_applied_when_retried(bare_ganesha, bare_nfs, tmp_path):
    """Issue 24: sync compared the new text with the file it last wrote, so the same sync
    after a failed one answered at once and ganesha never applied it."""
    answering, dead = bare_ganesha / ganesha.PID_FILE, tmp_path / 'dead.pid'
    dead.write_text('999999999\n')
    exports = ganesha.GaneshaExports(bare_ganesha, dead)
    (tmp_path / 'retried').mkdir()
    wanted = [ExportSpec(23, tmp_path / 'retried', '/pool1/retried',
                         (Rule('127.0.0.1', 'rw', False),))]
    with pytest.raises(ganesha.GaneshaError, match='not running'):
        exports.sync(wanted)
    exports.pidfile = answering
    exports.sync(wanted)
    for version in VERSIONS:
        assert bare_nfs.names('/pool1/retried', version) == []
    exports.sync([])


# --- the simulator's REST API drives the exports ------------------------------------------

@pytest.fixture(scope='module')
def appliance(appliance_factory):
    require_tools(*TOOLS)
    return appliance_factory('--no-container', '--nfs-port', str(NFS_PORT),
                             '--mnt-port', str(MNT_PORT), '--nlm-port', str(NLM_PORT))


def share_dir(appliance, share: dict):
    return appliance.state_dir / 'data' / 'shares' / share['id']


def test_password_is_on_no_command_line(appliance):
    pids = json.loads((appliance.state_dir / 'pids.json').read_text())
    for name in ('supervisor', 'api', 'ganesha'):
        cmdline = Path(f'/proc/{pids[name]}/cmdline').read_bytes()
        assert cmdline, f'{name} (pid {pids[name]}) does not run'
        assert appliance.password.encode() not in cmdline, f'{name}: {cmdline!r}'
    assert command_lines_with(appliance.password) == []
    # ... and the API has it all the same (from ACME_APPLIANCE_USERS): the login works.
    assert appliance.call('GET', '/system', expect=200)


def test_only_the_api_has_the_password_in_its_environment(appliance):
    pids = json.loads((appliance.state_dir / 'pids.json').read_text())
    started = {name: pid for name, pid in pids.items()
               if name in ('api', 'ganesha', 'rpcbind', 'statd')}
    assert {'api', 'ganesha'} <= set(started)  # rpcbind and statd only when none ran before
    for name, pid in started.items():
        environ = Path(f'/proc/{pid}/environ').read_bytes()
        assert (appliance.password.encode() in environ) == (name == 'api'), name


def test_nfs3_locking_is_served(appliance):
    """NLM (nlockmgr) and the NSM status monitor it needs (rpc.statd) are registered with
    rpcbind: without statd ganesha refuses every NFSv3 lock and qemu-img cannot write an image
    into a volume (seen in the lab: "Failed to lock byte 101: No locks available")."""
    done = subprocess.run(['rpcinfo', '-p', '127.0.0.1'], capture_output=True, text=True,
                          check=True)
    programs = {line.split()[0]: line.split()[-1] for line in done.stdout.splitlines()[1:]}
    assert programs.get('100021') == 'nlockmgr', done.stdout
    assert programs.get('100024') == 'status', done.stdout


def test_allowed_client_writes_and_reads_v3_and_v4(appliance, nfs, tmp_path):
    share = appliance.create_share('rw-share', nfs=exported(rule('127.0.0.1', 'rw')))
    assert share['path'] == '/pool1/rw-share'
    assert share['exports'] == ['127.0.0.1:/pool1/rw-share']
    for version in VERSIONS:
        local = tmp_path / f'v{version}.txt'
        local.write_text(f'written over NFSv{version}\n')
        result = nfs.put(local, f'/pool1/rw-share/v{version}.txt', version)
        assert result.returncode == 0, result.stderr
    (share_dir(appliance, share) / 'from-appliance.txt').write_text('appliance side\n')
    for version in VERSIONS:
        assert sorted(nfs.names('/pool1/rw-share', version)) == [
            'from-appliance.txt', 'v3.txt', 'v4.txt']
        read = nfs.cat('/pool1/rw-share/from-appliance.txt', version)
        assert read.stdout == 'appliance side\n', read.stderr
    assert (share_dir(appliance, share) / 'v4.txt').read_text() == 'written over NFSv4\n'


def test_root_ownership_is_what_nfs_clients_get(appliance, nfs, tmp_path):
    """v1.1 `root`: a non-root NFS user can write to a share whose root it owns (0770), not to
    one with the default root-owned 0755 top directory."""
    cinder = {'uid': 165, 'gid': 165, 'mode': '0770'}
    owned = appliance.create_share('owned', root=cinder,
                                   nfs=exported(rule('127.0.0.1', 'rw', True)))
    plain = appliance.create_share('root-owned', nfs=exported(rule('127.0.0.1', 'rw', True)))
    assert owned['root'] == cinder and plain['root'] == {'uid': 0, 'gid': 0, 'mode': '0755'}
    local = tmp_path / 'volume'
    local.write_text('written as uid 165\n')
    for version in VERSIONS:
        assert nfs.put(local, f'/pool1/owned/v{version}', version, 165).returncode == 0
        assert nfs.put(local, f'/pool1/root-owned/v{version}', version, 165).returncode != 0
        assert nfs.put(local, f'/pool1/owned/other-v{version}', version, 166).returncode != 0
    written = share_dir(appliance, owned) / 'v4'
    assert (written.stat().st_uid, written.stat().st_gid) == (165, 165)
    assert not list(share_dir(appliance, plain).iterdir())


def test_root_writes_a_cinder_owned_file_only_where_root_is_not_squashed(
        appliance, nfs, tmp_path):
    """What the driver's rules mean for root on a client: in secure NAS mode the volume file
    belongs to the cinder user (0660) and root is squashed; Cinder's host-assisted migration
    copies as root, so the driver grants its connection a rule that does not squash root
    (test_a_migration_copy_may_write_as_root_in_secure_mode_and_root_is_squashed_after)."""
    cinder = {'uid': 165, 'gid': 165, 'mode': '0770'}
    share = appliance.create_share('migrating', root=cinder,
                                   nfs=exported(rule('127.0.0.1', 'rw', True)))
    local = tmp_path / 'volume'
    local.write_text('volume data\n')
    for version in VERSIONS:
        assert nfs.put(local, f'/pool1/migrating/squashed-v{version}', version, 0).returncode != 0
    appliance.set_nfs(share['id'], True, [rule('127.0.0.1', 'rw', False)])
    for version in VERSIONS:
        result = nfs.put(local, f'/pool1/migrating/copied-v{version}', version, 0)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in share_dir(appliance, share).iterdir()) == [
        'copied-v3', 'copied-v4']


def test_read_only_rule_refuses_writes(appliance, nfs, tmp_path):
    share = appliance.create_share('ro-share', nfs=exported(rule('127.0.0.0/8', 'ro')))
    (share_dir(appliance, share) / 'data.txt').write_text('read me\n')
    local = tmp_path / 'x.txt'
    local.write_text('x')
    for version in VERSIONS:
        assert nfs.cat('/pool1/ro-share/data.txt', version).stdout == 'read me\n'
        assert nfs.put(local, f'/pool1/ro-share/new-v{version}.txt', version).returncode != 0
    assert not list(share_dir(appliance, share).glob('new-*'))


def test_disabled_share_is_refused(appliance, nfs):
    share = appliance.create_share('toggled', nfs=exported(rule()))
    assert nfs.names('/pool1/toggled', 3) == []
    appliance.set_nfs(share['id'], False, [rule()])
    for version in VERSIONS:
        result = nfs.ls('/pool1/toggled', version)
        assert result.returncode != 0, f'v{version} still exported: {result.stdout}'
    appliance.set_nfs(share['id'], True, [rule()])
    assert nfs.names('/pool1/toggled', 4) == []


def test_renamed_share_is_served_under_its_new_path_and_ganesha_survives_its_delete(
        appliance, nfs):
    """What manage does (rename), then delete: ganesha must live through both reloads."""
    share = appliance.create_share('before-manage', nfs=exported(rule()))
    appliance.call('PATCH', f'/shares/{share["id"]}', expect=200, json={'name': 'after-manage'})
    assert nfs.names('/pool1/after-manage', 3) == []
    assert nfs.ls('/pool1/before-manage', 3).returncode != 0
    appliance.call('DELETE', f'/shares/{share["id"]}', expect=204)
    pids = json.loads((appliance.state_dir / 'pids.json').read_text())
    assert procs.pid_alive(pids['ganesha']), 'ganesha died on the reload after a rename'
    assert appliance.call('GET', '/system', expect=200)


def test_rule_for_another_address_denies_loopback(appliance, nfs):
    appliance.create_share('elsewhere', nfs=exported(rule('10.9.9.9', 'rw')))
    for version in VERSIONS:
        result = nfs.ls('/pool1/elsewhere', version)
        assert result.returncode != 0, f'v{version} allowed: {result.stdout}'
    log = (appliance.state_dir / 'ganesha' / 'ganesha.log').read_text()
    assert 'does not allow access for client ::ffff:127.0.0.1' in log


def test_what_the_api_reports_is_what_ganesha_serves_when_a_change_fails(appliance, nfs):
    """Issue 24: a change was committed before ganesha applied it: revoking access was
    reported done while ganesha still exported the share, and a failed create was stored.
    Here every apply fails (an exported share's directory is missing) until it is back."""
    served = appliance.create_share('served', nfs=exported(rule()))
    blocker = appliance.create_share('blocker', nfs=exported(rule('10.9.9.8')))
    directory = share_dir(appliance, blocker)
    away = directory.with_name(directory.name + '-away')
    directory.rename(away)
    try:
        revoke = appliance.call('PUT', f'/shares/{served["id"]}/nfs', json=exported())
        assert revoke.status_code == 503 and revoke.json()['code'] == 'BUSY', revoke.text
        create = appliance.call('POST', '/shares', json={
            'name': 'late', 'pool': 'pool1', 'nfs': exported(rule())})
        assert create.status_code == 503, create.text
        got = appliance.call('GET', f'/shares/{served["id"]}', expect=200).json()
        assert got['nfs'] == exported(rule())
        assert nfs.names('/pool1/served', 3) == []  # still served, as reported
        assert appliance.call('GET', '/shares', params={'name': 'late'}).json()['items'] == []
    finally:
        away.rename(directory)
    appliance.set_nfs(served['id'], True, [])
    for version in VERSIONS:
        assert nfs.ls('/pool1/served', version).returncode != 0
    appliance.create_share('late', nfs=exported(rule()))
    assert nfs.names('/pool1/late', 4) == []


RESTART_PORTS = (12249, 12248, 12993)


def test_start_up_exports_the_database_not_the_file_the_last_run_left(appliance_factory):
    """Issue 24: an unparsable exports.conf kept the appliance from starting until it was
    removed by hand; ganesha now starts on the exports rendered from the database."""
    require_tools(*TOOLS)
    nfs_port, mnt_port, nlm_port = map(str, RESTART_PORTS)
    restarted = appliance_factory('--no-container', '--nfs-port', nfs_port,
                                  '--mnt-port', mnt_port, '--nlm-port', nlm_port)
    nfs = NfsClient('127.0.0.1', RESTART_PORTS[0], RESTART_PORTS[1])
    restarted.create_share('kept', nfs=exported(rule()))
    assert restarted.stop().returncode == 0
    exports_conf = restarted.state_dir / 'ganesha' / 'exports.conf'
    # what a zone id rule left behind before the API refused it
    exports_conf.write_text(exports_conf.read_text().replace(
        'Clients = 127.0.0.1;', 'Clients = fe80::1%eth0;'))
    restarted.start()
    for version in VERSIONS:
        assert nfs.names('/pool1/kept', version) == []
    assert '%' not in exports_conf.read_text()


def test_stop_ends_exactly_the_recorded_processes(appliance_factory, appliance):
    pids = json.loads((appliance.state_dir / 'pids.json').read_text())
    assert {'supervisor', 'ganesha', 'api'} <= set(pids)
    result = appliance.stop()
    assert result.returncode == 0, result.stderr
    for name, pid in pids.items():
        assert not procs.pid_alive(pid), f'{name} (pid {pid}) still runs'
