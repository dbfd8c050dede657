"""nfs-ganesha for the simulator: configuration rendering, export reloads and processes.

Exports are written to one file (``exports.conf``) that the main configuration
``%include``s. ``GaneshaExports.sync`` rewrites that file atomically, sends SIGHUP to
ganesha and waits until ganesha's log says the reload is complete, so a share's NFS
access has changed when the call returns.

Every export denies at export level (``Access_Type = None``) and grants access only in
``CLIENT`` blocks: with an export-level grant, clients matching no CLIENT block would
still get in.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from acme_appliance.procs import (
    atomic_write,
    file_size,
    pid_alive,
    read_from,
    read_pid,
    stop_pid,
    tail,
)
from acme_appliance.records import ExportSpec, Rule, canonical_clients

MAIN_FILE = 'ganesha.conf'
EXPORTS_FILE = 'exports.conf'
LOG_FILE = 'ganesha.log'
PID_FILE = 'ganesha.pid'
RPCBIND_SOCKET = Path('/run/rpcbind.sock')
NSM_PROGRAM = '100024'  # rpc.statd's RPC program number
NOBODY = 65534

_SAFE_PATH = re.compile(r'^/[A-Za-z0-9_.\-/]*$')
_RELOAD_START = 'initiating export list reload'
_RELOAD_DONE = 'Reread exports complete'
_EXPORT_LINE = re.compile(r'Export\s+(\d+) pseudo \(')
_HEADER = '# Written by acme_appliance.ganesha; rewritten on every change.\n'
_EXPORT_IDENTITY = re.compile(
    r'Export_Id = (\d+);\n\s*Path = "([^"]*)";\n\s*Pseudo = "([^"]*)";')
_SETTLE_SECONDS = 1.0  # after 'Reread exports complete', for the listing and error details


class GaneshaError(RuntimeError):
    """ganesha refused a configuration, is not running or did not answer in time."""


# --- rendering -------------------------------------------------------------------------

def render_client(rule: Rule) -> str:
    """One CLIENT block granting ``rule.access`` to ``rule.clients``."""
    access = {'rw': 'RW', 'ro': 'RO'}.get(rule.access)
    if access is None:
        raise ValueError(f'access must be rw or ro, not {rule.access!r}')
    squash = 'root_squash' if rule.root_squash else 'no_root_squash'
    return (f'    CLIENT {{ Clients = {_client_token(rule.clients)}; '
            f'Access_Type = {access}; Squash = {squash}; }}\n')


def _client_token(clients: str) -> str:
    """ganesha wants clients unquoted; only '*', an address or a network (no zone id)."""
    try:
        return canonical_clients(clients)
    except ValueError:
        raise ValueError(f'clients must be "*", an IP address or a network: {clients!r}') from None


def _quoted_path(path: str) -> str:
    if not _SAFE_PATH.match(path):
        raise ValueError(f'unsafe path for ganesha configuration: {path!r}')
    return f'"{path}"'


def render_export(spec: ExportSpec) -> str:
    """One EXPORT block: denied at export level, granted per CLIENT block."""
    if not 1 <= spec.export_id <= 65535:
        raise ValueError(f'export_id must be 1..65535, not {spec.export_id}')
    clients = ''.join(render_client(rule) for rule in spec.rules)
    return (
        'EXPORT {\n'
        f'    Export_Id = {spec.export_id};\n'
        f'    Path = {_quoted_path(str(spec.directory))};\n'
        f'    Pseudo = {_quoted_path(spec.pseudo)};\n'
        '    Access_Type = None;\n'
        '    Protocols = 3, 4;\n'
        '    Transports = TCP;\n'
        '    SecType = sys;\n'
        f'    Anonymous_Uid = {NOBODY};\n'
        f'    Anonymous_Gid = {NOBODY};\n'
        f'{clients}'
        '    FSAL { Name = VFS; }\n'
        '}\n'
    )


def render_exports(exports: Iterable[ExportSpec]) -> str:
    """The exports file. Exports without rules are left out: nobody could reach them."""
    specs = sorted((s for s in exports if s.rules), key=lambda s: s.export_id)
    _check_unique(specs)
    return _HEADER + ''.join(render_export(spec) for spec in specs)


def _check_unique(specs: Sequence[ExportSpec]) -> None:
    for attr in ('export_id', 'pseudo'):
        values = [getattr(s, attr) for s in specs]
        duplicates = {v for v in values if values.count(v) > 1}
        if duplicates:
            raise ValueError(f'duplicate {attr}: {sorted(duplicates)}')


def render_main_conf(conf_dir: Path, bind_addr: str, nfs_port: int, mnt_port: int,
                     nlm_port: int) -> str:
    """The main ganesha.conf: pinned ports, v3 mounts of pseudo paths, short grace."""
    conf_dir = Path(conf_dir)
    return (
        'NFS_CORE_PARAM {\n'
        f'    Bind_addr = {bind_addr};\n'
        f'    NFS_Port = {nfs_port};\n'
        f'    MNT_Port = {mnt_port};\n'
        f'    NLM_Port = {nlm_port};\n'
        '    Protocols = 3, 4;\n'
        '    Enable_UDP = false;\n'
        '    Enable_RQUOTA = false;\n'
        '    Mount_Path_Pseudo = true;\n'
        '}\n'
        'NFSV4 {\n'
        '    Grace_Period = 10;\n'
        '    Lease_Lifetime = 10;\n'
        f'    RecoveryRoot = {_quoted_path(str(conf_dir / "recovery"))};\n'
        '}\n'
        'NFS_KRB5 { Active_krb5 = false; }\n'
        'LOG {\n'
        '    Default_Log_Level = EVENT;\n'
        '    Components { EXPORT = INFO; }\n'
        '}\n'
        f'%include {_quoted_path(str(conf_dir / EXPORTS_FILE))}\n'
    )


def write_config(conf_dir: Path, bind_addr: str, nfs_port: int, mnt_port: int,
                 nlm_port: int, exports: Iterable[ExportSpec] = ()) -> Path:
    """Write ganesha.conf and the exports file with ``exports``; return the main file.

    The exports file is always rewritten: ganesha starts on what the caller gives (the
    database's exports), never on the file the last run left, which may not parse.
    """
    conf_dir = Path(conf_dir)
    (conf_dir / 'recovery').mkdir(parents=True, exist_ok=True)
    atomic_write(conf_dir / EXPORTS_FILE, render_exports(exports))
    main = conf_dir / MAIN_FILE
    atomic_write(main, render_main_conf(conf_dir, bind_addr, nfs_port, mnt_port, nlm_port))
    return main


# --- reloads ---------------------------------------------------------------------------

class GaneshaExports:
    """Publishes the simulator's exports to a running ganesha (or only writes them)."""

    def __init__(self, conf_dir: Path, pidfile: Path | None, log_file: Path | None = None,
                 timeout: float = 15.0) -> None:
        self.conf_dir = Path(conf_dir)
        self.pidfile = Path(pidfile) if pidfile else None
        self.log_file = Path(log_file) if log_file else self.conf_dir / LOG_FILE
        self.timeout = timeout
        self._lock = threading.Lock()
        self._applied: list[ExportSpec] | None = None  # what ganesha accepted last, if known
        # (id, path, pseudo path) of every export ganesha may serve; None: unknown, all are
        # removed first. At start the file ganesha was started on says it: unchanged exports
        # are then spared the removal (their clients would see them go and come back).
        self._possible = _identities_in(self.exports_file)

    @property
    def exports_file(self) -> Path:
        return self.conf_dir / EXPORTS_FILE

    def sync(self, exports: list[ExportSpec]) -> None:
        """Make ganesha export exactly ``exports``; return once ganesha applied them.

        Compared with what ganesha last accepted, not with the file: after a failed reload the
        same list is reloaded again. Exports that go away or change their id, path or pseudo
        path are removed by a reload of their own first: within one reload ganesha adds before
        it removes ("Pseudo path ... is a duplicate"), and cannot move an id to another pseudo
        path.
        """
        served = sorted((s for s in exports if s.rules), key=lambda s: s.export_id)
        render_exports(served)  # refuses invalid exports before anything is written
        _check_directories(served)
        with self._lock:
            if self._applied == served:
                return
            kept = self._kept(served)
            if kept is not None and kept != served:
                self._reload(kept)
            self._reload(served)

    def _kept(self, served: list[ExportSpec]) -> list[ExportSpec] | None:
        """The exports of ``served`` ganesha may serve already, when it may serve others too
        (to remove those first); None when nothing has to go."""
        if self._possible is None:
            return []
        if self._possible <= {_identity(s) for s in served}:
            return None
        return [s for s in served if _identity(s) in self._possible]

    def _reload(self, specs: list[ExportSpec]) -> None:
        """Write ``specs`` and have ganesha apply them; on failure what it serves is unknown."""
        offset = file_size(self.log_file)
        self._applied, self._possible = None, None
        atomic_write(self.exports_file, render_exports(specs))
        if self.pidfile is not None:
            os.kill(self._pid(), signal.SIGHUP)
            self._wait_reloaded(offset, {s.export_id for s in specs})
        self._applied, self._possible = specs, {_identity(s) for s in specs}

    def _pid(self) -> int:
        pid = read_pid(self.pidfile)
        if pid is None or not pid_alive(pid):
            raise GaneshaError(f'ganesha is not running (pidfile {self.pidfile})')
        return pid

    def _wait_reloaded(self, offset: int, wanted: set[int]) -> None:
        deadline = time.monotonic() + self.timeout
        done_at: float | None = None
        while time.monotonic() < deadline:
            state = parse_reload(read_from(self.log_file, offset))
            if state.done:
                done_at = done_at or time.monotonic()
                settled = time.monotonic() - done_at > _SETTLE_SECONDS
                # ganesha writes the export listing line by line after the reload, so a
                # listing without an export yet means "not yet" until settled. Without the
                # EXPORT=INFO listing in the log, only errors can be checked.
                loaded = wanted <= state.exported if state.listed else settled
                if loaded and not state.errors:
                    return
                if settled:
                    self._fail(state, wanted)
            time.sleep(0.05)
        raise GaneshaError(f'ganesha did not reload its exports within {self.timeout}s '
                           f'(log {self.log_file})')

    @staticmethod
    def _fail(state: ReloadState, wanted: set[int]) -> None:
        missing = sorted(wanted - state.exported) if state.listed else []
        details = list(state.errors) + ([f'exports not loaded: {missing}'] if missing else [])
        raise GaneshaError('ganesha rejected the exports: ' + ' | '.join(details))


def _identity(spec: ExportSpec) -> tuple[int, str, str]:
    return spec.export_id, str(spec.directory), spec.pseudo


def _identities_in(exports_file: Path) -> set[tuple[int, str, str]] | None:
    """(id, path, pseudo path) of the exports in a file render_exports wrote, else None."""
    try:
        text = exports_file.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith(_HEADER):
        return None
    return {(int(export_id), path, pseudo)
            for export_id, path, pseudo in _EXPORT_IDENTITY.findall(text)}


def _check_directories(exports: Iterable[ExportSpec]) -> None:
    missing = [str(s.directory) for s in exports if s.rules and not Path(s.directory).is_dir()]
    if missing:
        raise GaneshaError(f'export directories do not exist: {missing}')


@dataclass(frozen=True)
class ReloadState:
    """What ganesha's log says about the last export reload after some offset."""

    done: bool
    listed: bool
    exported: frozenset[int]
    errors: tuple[str, ...]


def parse_reload(log_text: str) -> ReloadState:
    """Parse the log written after a SIGHUP: completion, errors, exports after update."""
    started = log_text.rfind(_RELOAD_START)
    if started < 0:
        return ReloadState(False, False, frozenset(), ())
    lines = log_text[started:].splitlines()
    done_at = next((i for i, line in enumerate(lines) if _RELOAD_DONE in line), None)
    errors = tuple(line.split(':CRIT :', 1)[1].strip() for line in lines
                   if ':CONFIG :CRIT :' in line)
    if done_at is None:
        return ReloadState(False, False, frozenset(), errors)
    after = lines[done_at + 1:]
    listed = any('Exports after update' in line for line in after)
    exported = frozenset(int(m.group(1)) for line in after
                         if (m := _EXPORT_LINE.search(line)))
    return ReloadState(True, listed, exported, errors)


# --- processes -------------------------------------------------------------------------

def rpcbind_running() -> bool:
    """True if an rpcbind answers on its (machine-wide) socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(RPCBIND_SOCKET))
        except OSError:
            return False
    return True


def _start_daemon(argv: list[str], ready: Callable[[], bool], log_file: Path,
                  timeout: float) -> int | None:
    """Start ``argv`` (in the foreground, logging to ``log_file``) unless ``ready()`` holds
    already; return its PID once ``ready()`` holds, or None when none was needed."""
    if ready():
        return None
    with open(log_file, 'ab') as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise GaneshaError(f'{argv[0]} did not start (see {log_file})')
        time.sleep(0.05)
    return proc.pid


def start_rpcbind(log_file: Path, timeout: float = 10.0) -> int | None:
    """Start rpcbind unless one runs already; return the PID of the one started, or None."""
    return _start_daemon(['rpcbind', '-w', '-f'], rpcbind_running, log_file, timeout)


def statd_registered() -> bool:
    """True if an NSM status monitor (rpc.statd, RPC program 100024) is registered with the
    rpcbind of this network namespace."""
    done = subprocess.run(['rpcinfo', '-p', '127.0.0.1'], capture_output=True, text=True,
                          timeout=10, check=False)
    return any(line.split()[:1] == [NSM_PROGRAM] for line in done.stdout.splitlines())


def start_statd(state_dir: Path, log_file: Path, timeout: float = 10.0) -> int | None:
    """Start rpc.statd unless one is registered; return the PID of the one started, or None.

    ganesha's NLM asks the local statd to monitor each client that locks (SM_MON): without
    one every NFSv3 lock is refused ("No locks available"), and qemu-img, which locks the files
    it writes, fails on every NFSv3 mount. ``state_dir`` holds its sm/ and sm.bak/ records.
    """
    for records in ('sm', 'sm.bak'):  # statd exits at once without them
        (Path(state_dir) / records).mkdir(parents=True, exist_ok=True)
    return _start_daemon(['rpc.statd', '--foreground', '--no-notify', '--state-directory-path',
                          str(state_dir)], statd_registered, log_file, timeout)


def start_ganesha(conf_dir: Path, wait_grace: bool = True, timeout: float = 60.0) -> int:
    """Start ganesha.nfsd on ``conf_dir``/ganesha.conf (see write_config); return its PID.

    Waits until the server is initialized and, with ``wait_grace``, until the NFSv4 grace
    period is over (during grace, creates fail with NFS4ERR_GRACE / NFS3ERR_JUKEBOX).
    """
    conf_dir = Path(conf_dir)
    log, pidfile = conf_dir / LOG_FILE, conf_dir / PID_FILE
    offset = file_size(log)
    cmd = ['ganesha.nfsd', '-F', '-f', str(conf_dir / MAIN_FILE), '-L', str(log),
           '-p', str(pidfile), '-N', 'NIV_EVENT']
    with open(conf_dir / 'ganesha.stdout', 'ab') as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    markers = ['NFS SERVER INITIALIZED'] + (['NOT IN GRACE'] if wait_grace else [])
    try:
        _wait_log(proc, log, offset, markers, timeout)
    except GaneshaError:
        stop_pid(proc.pid)
        raise
    return proc.pid


def _wait_log(proc: subprocess.Popen, log: Path, offset: int, markers: list[str],
              timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise GaneshaError(f'ganesha exited with {proc.returncode}: {tail(log, 15, offset)}')
        text = read_from(log, offset)
        if all(marker in text for marker in markers):
            return
        time.sleep(0.1)
    raise GaneshaError(f'ganesha not ready after {timeout}s: {tail(log, 15, offset)}')
