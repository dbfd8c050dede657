"""The simulator's one command line (`python -m acme_appliance`, `appliance/run`):

  start --state-dir DIR [--api-port 8443] [--nfs-port 2049 --mnt-port 20048 --nlm-port 32803]
        [--listen 127.0.0.1] [--user admin:PASS] [--pool pool1:100GiB] [--enable-faults]
        [--no-container] [--network ns:/run/netns/NAME] [--image IMAGE]
  stop --state-dir DIR          status [--state-dir DIR]
  serve ...                     the REST API alone (what the supervisor runs)
  gen-tls --out DIR --host H    a lab CA and a server certificate

`start` runs the container image (appliance/container/build) with podman, or with
--no-container a supervisor process running rpcbind, ganesha and `serve`; DIR holds tls/,
data/, ganesha/ and the logs (launcher.py, supervisor.py).

Every `serve` option can also come from an environment variable ACME_APPLIANCE_<OPTION> (e.g.
ACME_APPLIANCE_DATA_DIR, ACME_APPLIANCE_INSECURE_HTTP=1); list options take comma-separated
values there (ACME_APPLIANCE_POOLS=pool1:100GiB,pool2:1TiB, ACME_APPLIANCE_USERS=admin:pw).
Options on the command line win over the environment. The password is never put on a command
line: leave --user out and set ACME_APPLIANCE_USERS=USER:PASSWORD instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from acme_appliance import launcher, supervisor
from acme_appliance.config import ApplianceConfig, parse_listen

if TYPE_CHECKING:
    from acme_appliance.settings import ServeSettings

log = logging.getLogger("acme_appliance")


def _serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Options left out (None) come from ACME_APPLIANCE_<NAME> or the defaults (settings.py)."""
    serve = sub.add_parser("serve", help="serve the REST API")
    serve.add_argument("--data-dir", help="state and share data")
    serve.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:8443)")
    serve.add_argument("--tls-cert", help="server certificate (PEM)")
    serve.add_argument("--tls-key", help="server key (PEM)")
    serve.add_argument("--insecure-http", action="store_true", default=None,
                       help="serve plain HTTP instead of HTTPS")
    serve.add_argument("--nfs-address", help="data address used in the shares' exports")
    serve.add_argument("--pool", dest="pools", action="append",
                       help="NAME:SIZE, e.g. pool1:100GiB (repeatable; default pool1:100GiB)")
    serve.add_argument("--user", dest="users", action="append",
                       help="NAME:PASSWORD (repeatable, at least one)")
    serve.add_argument("--token-ttl", type=int, help="seconds a token is valid (default 3600)")
    serve.add_argument("--enable-faults", action="store_true", default=None,
                       help="serve the fault injection endpoint /api/v1/_admin/faults")
    serve.add_argument("--ganesha-conf-dir",
                       help="write NFS exports for nfs-ganesha here (default: no exports)")
    serve.add_argument("--ganesha-pidfile",
                       help="ganesha's pid file, to send SIGHUP after export changes")
    serve.add_argument("--usage-refresh", type=float,
                       help="seconds between used-bytes refreshes (default 30; 0: on demand)")
    serve.add_argument("--log-file", help="log here, not to stderr")
    serve.set_defaults(func=serve_command)


def add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=launcher.default_state_dir())
    parser.add_argument("--api-port", type=int, default=8443)
    parser.add_argument("--nfs-port", type=int, default=2049)
    parser.add_argument("--mnt-port", type=int, default=20048)
    parser.add_argument("--nlm-port", type=int, default=32803)
    parser.add_argument("--listen", default="127.0.0.1",
                        help="address the API and NFS listen on (container: publish on)")
    parser.add_argument("--user", help="USER:PASSWORD (default: $ACME_APPLIANCE_USERS, else "
                        "admin with a generated password); ps shows it: prefer the variable")
    parser.add_argument("--pool", action="append", help="NAME:SIZE, repeatable")
    parser.add_argument("--enable-faults", action="store_true")
    parser.add_argument("--nfs-address", help="data address shown in share exports")
    parser.add_argument("--tls-host", action="append",
                        help="extra name or address for the server certificate (repeatable)")


def _launcher_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    start = sub.add_parser("start", help="start the simulator and wait until healthy")
    add_service_options(start)
    start.add_argument("--no-container", action="store_true",
                       help="run rpcbind, ganesha and the API as host processes")
    start.add_argument("--network", help="podman --network value, e.g. ns:/run/netns/LAB")
    start.add_argument("--image", default=launcher.DEFAULT_IMAGE)
    start.add_argument("--timeout", type=float, default=120.0)
    start.set_defaults(func=launcher.cmd_start)
    for name, func in (("stop", launcher.cmd_stop), ("status", launcher.cmd_status)):
        command = sub.add_parser(name)
        command.add_argument("--state-dir", type=Path, default=launcher.default_state_dir())
        command.set_defaults(func=func)
    sup = sub.add_parser("supervise")
    add_service_options(sup)
    sup.set_defaults(func=supervisor.supervise)
    probe = sub.add_parser("probe")
    probe.add_argument("url")
    probe.add_argument("ca")
    probe.set_defaults(func=launcher.cmd_probe)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acme-appliance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _launcher_parsers(sub)
    _serve_parser(sub)
    gen = sub.add_parser("gen-tls", help="create a lab CA and a server certificate")
    gen.add_argument("--out", required=True, help="directory for ca.pem, server.pem, keys")
    gen.add_argument("--host", action="append", default=[],
                     help="name or address the certificate must cover (repeatable)")
    gen.set_defaults(func=gen_tls)
    return parser


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """The `serve` options merged with the environment (ValueError if invalid)."""
    from acme_appliance.settings import ServeSettings

    given = {key: value for key, value in vars(args).items() if key not in ("command", "func")}
    return ServeSettings.load(given)


def config_from_args(args: argparse.Namespace) -> ApplianceConfig:
    """Validate the serve options (raises ValueError with a readable message)."""
    return serve_settings(args).appliance_config()


# C0 and C1 control characters, DEL and the Unicode line and paragraph separators.
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROLS}


def escape_controls(text: str) -> str:
    """Control characters as \\xNN / \\uNNNN: input cannot start a forged log line."""
    return text.translate(_ESCAPES)


class EscapingFormatter(logging.Formatter):
    """One record, one line: request paths and user names in messages come from clients."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def _private_log_file(log_file: str) -> logging.Handler:
    """The log is only for the appliance's owner: file 0600, a directory it creates 0700."""
    from acme_appliance.logs import PrivateRotatingFileHandler

    path = Path(log_file)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    handler = PrivateRotatingFileHandler(path)
    os.chmod(path, 0o600)
    return handler


def setup_logging(log_file: str | None) -> None:
    from acme_appliance.logs import RateLimitFilter

    handler = _private_log_file(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RateLimitFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def serve_command(args: argparse.Namespace) -> int:
    from acme_appliance.app import create_app
    from acme_appliance.server import bind_socket, build_server

    settings = serve_settings(args)
    config = settings.appliance_config()
    host, port = parse_listen(settings.listen)
    setup_logging(str(settings.log_file) if settings.log_file else None)
    tls = (None, None) if settings.insecure_http else (settings.tls_cert, settings.tls_key)
    log.info("serving %s on %s:%d, data in %s, pools %s, users %s", "HTTP" if tls[0] is None
             else "HTTPS", host, port, config.data_dir, sorted(config.pools), sorted(config.users))
    server = build_server(create_app(config), host, port, *tls)
    server.run(sockets=[bind_socket(host, port)])
    return 0


def gen_tls(args: argparse.Namespace) -> int:
    from acme_appliance import tls

    files = tls.generate(Path(args.out), args.host)
    for label, path in (("ca", files.ca), ("cert", files.cert), ("key", files.key)):
        print(f"{label}: {path}")
    return 0


def _take_user(args: argparse.Namespace) -> None:
    """start/supervise: --user, else $ACME_APPLIANCE_USERS (',' separates users there)."""
    if args.user:
        supervisor.check_user(args.user)
    else:
        args.user = os.environ.get(supervisor.USERS_ENV) or None
    args.user_given = bool(args.user)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("start", "supervise"):
        _take_user(args)
    try:
        return int(args.func(args))
    except ValueError as exc:
        parser.error(str(exc))
    return 2
