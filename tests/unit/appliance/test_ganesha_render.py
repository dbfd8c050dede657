"""Rendering of nfs-ganesha configuration, parsing of its reload log and the wait for a
reload (against a stand-in process that logs as ganesha does; no services)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from acme_appliance import ganesha
from acme_appliance.records import ExportSpec, Rule

RW_LOCAL = Rule(clients='127.0.0.1', access='rw', root_squash=False)


def spec(export_id=1, pseudo='/pool1/vol-1', rules=(RW_LOCAL,), directory='/srv/acme/s1'):
    return ExportSpec(export_id=export_id, directory=Path(directory), pseudo=pseudo,
                      rules=tuple(rules))


def test_export_denies_at_export_level_and_grants_per_client():
    text = ganesha.render_export(spec())
    assert 'Export_Id = 1;' in text
    assert 'Path = "/srv/acme/s1";' in text
    assert 'Pseudo = "/pool1/vol-1";' in text
    assert 'Access_Type = None;' in text.split('CLIENT')[0]
    assert 'CLIENT { Clients = 127.0.0.1; Access_Type = RW; Squash = no_root_squash; }' in text
    for line in ('Protocols = 3, 4;', 'Transports = TCP;', 'SecType = sys;',
                 'FSAL { Name = VFS; }'):
        assert line in text


def test_rules_keep_their_order_and_map_access_and_squash():
    rules = (Rule('10.0.0.0/24', 'ro', True), Rule('*', 'rw', False))
    text = ganesha.render_export(spec(rules=rules))
    first = 'CLIENT { Clients = 10.0.0.0/24; Access_Type = RO; Squash = root_squash; }'
    second = 'CLIENT { Clients = *; Access_Type = RW; Squash = no_root_squash; }'
    assert text.index(first) < text.index(second)


def test_clients_are_unquoted_and_normalised():
    # ganesha rejects quoted clients ("Expected a client, got a double quoted string").
    text = ganesha.render_client(Rule('10.1.2.3/16', 'rw', True))
    assert 'Clients = 10.1.0.0/16;' in text
    assert '"' not in text


@pytest.mark.parametrize('rule', [
    Rule('host.example', 'rw', True), Rule('10.0.0.1; Access_Type = RW', 'rw', True),
    Rule('', 'rw', True), Rule('1.2.3', 'rw', True), Rule('*', 'rwx', True),
    Rule('fe80::1%eth0', 'rw', True), Rule('fe80::%eth0/64', 'rw', True)])
def test_bad_clients_or_access_are_refused(rule):
    with pytest.raises(ValueError):
        ganesha.render_client(rule)


@pytest.mark.parametrize('bad', [
    *({'pseudo': p} for p in ('pool1/x', '/pool1/x"; }', '/pool 1', '/a\nb')),
    {'export_id': 0}, {'export_id': 65536}])
def test_unsafe_paths_and_export_ids_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        ganesha.render_export(spec(**bad))


def test_exports_file_sorted_without_ruleless_exports():
    text = ganesha.render_exports([spec(2, '/pool1/b'), spec(1, '/pool1/a'),
                                   spec(3, '/pool1/c', rules=())])
    assert text.count('EXPORT {') == 2
    assert text.index('Export_Id = 1;') < text.index('Export_Id = 2;')
    assert '/pool1/c' not in text


@pytest.mark.parametrize('second', [spec(1, '/pool1/b'), spec(2, '/pool1/a')])
def test_duplicate_ids_or_pseudo_paths_are_refused(second):
    with pytest.raises(ValueError):
        ganesha.render_exports([spec(1, '/pool1/a'), second])


def test_empty_exports_file_is_valid():
    assert 'EXPORT' not in ganesha.render_exports([])


def test_main_conf(tmp_path):
    text = ganesha.render_main_conf(tmp_path, '127.0.0.1', 12049, 12048, 12803)
    for line in ('Bind_addr = 127.0.0.1;', 'NFS_Port = 12049;', 'MNT_Port = 12048;',
                 'NLM_Port = 12803;', 'Mount_Path_Pseudo = true;', 'Grace_Period = 10;',
                 'Lease_Lifetime = 10;', 'Components { EXPORT = INFO; }',
                 f'%include "{tmp_path}/exports.conf"'):
        assert line in text


def test_write_config_writes_the_exports_it_is_given_over_the_last_file(tmp_path):
    """Issue 24: ganesha started on the file the last run left, which may not parse."""
    ganesha.write_config(tmp_path, '127.0.0.1', 2049, 20048, 32803)
    exports = tmp_path / 'exports.conf'
    assert (tmp_path / 'ganesha.conf').exists()
    assert exports.read_text() == ganesha.render_exports([])
    exports.write_text('EXPORT { CLIENT { Clients = fe80::1%eth0; } }')
    ganesha.write_config(tmp_path, '0.0.0.0', 2049, 20048, 32803, [spec()])
    assert exports.read_text() == ganesha.render_exports([spec()])


def test_sync_without_pidfile_only_writes(tmp_path):
    share = tmp_path / 'share'
    share.mkdir()
    exports = ganesha.GaneshaExports(tmp_path, None)
    exports.sync([spec(directory=share)])
    text = (tmp_path / 'exports.conf').read_text()
    assert f'Path = "{share}";' in text
    assert stat.S_IMODE(os.stat(tmp_path / 'exports.conf').st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []


def test_sync_refuses_missing_directories(tmp_path):
    with pytest.raises(ganesha.GaneshaError):
        ganesha.GaneshaExports(tmp_path, None).sync([spec(directory=tmp_path / 'missing')])


def test_sync_with_dead_ganesha_fails(tmp_path):
    (tmp_path / 'share').mkdir()
    pidfile = tmp_path / 'ganesha.pid'
    pidfile.write_text('999999999\n')
    with pytest.raises(ganesha.GaneshaError, match='not running'):
        ganesha.GaneshaExports(tmp_path, pidfile).sync([spec(directory=tmp_path / 'share')])


PREFIX = '25/11/2026 09:43:09 : epoch 6b06ad9b : vm : nfs-ganesha-4248[sigmgr] '
RELOAD_OK = '\n'.join(PREFIX + line for line in (
    'sigmgr_thread :MAIN :EVENT :SIGHUP_HANDLER: Received SIGHUP.... '
    'initiating export list reload',
    'reread_exports :CONFIG :EVENT :Reread exports complete',
    'reread_exports :EXPORT :INFO :Exports after update',
    'reread_exports :EXPORT :INFO :Export     1 pseudo (/pool1/x) with path (/d/1) and tag',
    'reread_exports :EXPORT :INFO :   NETWORK_CLIENT: 127.0.0.1/32 (options=033031e0)',
    'reread_exports :EXPORT :INFO :Export     0 pseudo (/) with path (/) and tag ((null))',
)) + '\n'


def test_parse_reload_complete():
    state = ganesha.parse_reload(RELOAD_OK)
    assert state.done and state.listed and not state.errors
    assert state.exported == {0, 1}


def test_parse_reload_not_started_or_pending():
    assert not ganesha.parse_reload('').done
    pending = RELOAD_OK.splitlines()[0]
    state = ganesha.parse_reload(pending)
    assert not state.done and not state.errors


def test_parse_reload_reports_config_errors():
    bad = RELOAD_OK.replace(
        'reread_exports :CONFIG :EVENT :Reread',
        'config_errs_to_log :CONFIG :CRIT :Config File (x:4): Expected a client\n'
        + PREFIX + 'reread_exports :CONFIG :EVENT :Reread')
    assert ganesha.parse_reload(bad).errors == ('Config File (x:4): Expected a client',)


FAKE_GANESHA = '''
import signal, sys, time
log, pause, chunks = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
def reload(*_):
    for number, chunk in enumerate(chunks):
        time.sleep(pause if number else 0)
        with open(log, 'a') as out:
            out.write(chunk)
signal.signal(signal.SIGHUP, reload)
print('ready', flush=True)
while True:
    time.sleep(1)
'''


@pytest.fixture
def fake_ganesha(tmp_path):
    """A process that answers SIGHUP by writing log chunks as ganesha does, with pauses."""
    procs = []

    def start(*chunks: str, pause: float = 0.3) -> ganesha.GaneshaExports:
        log = tmp_path / 'ganesha.log'
        proc = subprocess.Popen([sys.executable, '-c', FAKE_GANESHA, str(log), str(pause),
                                 *chunks], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline() == 'ready\n'
        (tmp_path / 'ganesha.pid').write_text(f'{proc.pid}\n')
        return ganesha.GaneshaExports(tmp_path, tmp_path / 'ganesha.pid', log, timeout=5)

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _exports_to_sync(tmp_path):
    (tmp_path / 'share').mkdir()
    return [spec(directory=tmp_path / 'share')]


def _lines(log_text: str) -> list[str]:
    return [line + '\n' for line in log_text.splitlines()]


def test_sync_waits_for_an_export_listed_after_the_header(tmp_path, fake_ganesha):
    start, done, header, export_1, client, export_0 = _lines(RELOAD_OK)
    exports = fake_ganesha(start + done + header + export_0, export_1 + client)
    exports.sync(_exports_to_sync(tmp_path))
    assert ganesha.parse_reload((tmp_path / 'ganesha.log').read_text()).exported == {0, 1}


def test_sync_fails_when_the_export_is_never_listed(tmp_path, fake_ganesha):
    start, done, header, _export_1, _client, export_0 = _lines(RELOAD_OK)
    exports = fake_ganesha(start + done + header + export_0)
    with pytest.raises(ganesha.GaneshaError, match=r'exports not loaded: \[1\]'):
        exports.sync(_exports_to_sync(tmp_path))


def test_sync_fails_with_the_config_error_ganesha_logged(tmp_path, fake_ganesha):
    start, done = _lines(RELOAD_OK)[:2]
    error = PREFIX + 'config_errs_to_log :CONFIG :CRIT :Config File (x:4): Expected a client\n'
    exports = fake_ganesha(start + error + done)
    with pytest.raises(ganesha.GaneshaError, match='Expected a client'):
        exports.sync(_exports_to_sync(tmp_path))


def test_sync_after_a_failed_reload_reloads_the_same_exports(tmp_path, fake_ganesha):
    """Issue 24: sync compared the new text with the file it wrote, so a retry after a failed
    reload answered at once without ganesha ever applying it."""
    exports = fake_ganesha(RELOAD_OK)
    answering, dead = exports.pidfile, tmp_path / 'dead.pid'
    dead.write_text('999999999\n')
    wanted = _exports_to_sync(tmp_path)
    exports.pidfile = dead
    with pytest.raises(ganesha.GaneshaError, match='not running'):
        exports.sync(wanted)
    exports.pidfile = answering
    exports.sync(wanted)
    assert ganesha.parse_reload((tmp_path / 'ganesha.log').read_text()).exported == {0, 1}


@pytest.mark.parametrize('started_with, reloads', [('/pool1/vol-1', 1), ('/pool1/old', 2)])
def test_the_first_sync_removes_first_only_what_goes_away(tmp_path, fake_ganesha,
                                                          started_with, reloads):
    """Exports ganesha was started with stay through the first sync (their clients would see
    them go and come back); one that goes away is removed by a reload of its own first."""
    wanted = _exports_to_sync(tmp_path)
    started = spec(pseudo=started_with, directory=tmp_path / 'share')
    (tmp_path / 'exports.conf').write_text(ganesha.render_exports([started]))
    exports = fake_ganesha(RELOAD_OK)
    exports.sync(wanted)
    log = (tmp_path / 'ganesha.log').read_text()
    assert log.count('initiating export list reload') == reloads
    assert (tmp_path / 'exports.conf').read_text() == ganesha.render_exports(wanted)
