"""The in-process simulator served a second time, under a certificate of a fresh CA for chosen
names: a name other than the address the client connects to is a hostname mismatch.

``served_as(appliance, tmp_path, '127.0.0.1')`` yields (url, ca_file) of the same simulator (its
state, its calls) on another loopback port; ``'appliance.example'`` gives a certificate that is
valid but not for 127.0.0.1. ``endpoint`` gives each case of a TLS check (TLS_CASES).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme

from tests.support.serving import ThreadServer


def issue(directory: Path, *names: str) -> tuple[Path, Path, Path]:
    """A certificate for ``names`` from a fresh CA: (cert, key, CA file) in ``directory``."""
    ca = trustme.CA()
    issued = ca.issue_cert(*names)
    cert, key, ca_file = directory / 'cert.pem', directory / 'key.pem', directory / 'ca.pem'
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    return cert, key, ca_file


@contextmanager
def served_as(appliance, tmp_path: Path, *names: str) -> Iterator[tuple[str, str]]:
    cert, key, ca_file = issue(tmp_path, *names)
    with ThreadServer(appliance._switch, cert, key) as server:
        yield server.url, str(ca_file)


# What the client connects to -> the error it must stop with (None: accepted).
TLS_CASES = {
    'untrusted certificate (system trust store)': None,
    'configured CA': ('127.0.0.1', None),
    'hostname mismatch': ('appliance.example', 'mismatch'),
}


def endpoint(case_name: str, appliance, tmp_path: Path
             ) -> Iterator[tuple[str, str | None, str | None]]:
    """(url, CA file or None, the refusal expected or None); yielded by a fixture
    parametrized over TLS_CASES."""
    case = TLS_CASES[case_name]
    if case is None:  # the simulator's own test CA is in no trust store
        yield appliance.url, None, 'certificate verify failed'
        return
    name, refusal = case
    with served_as(appliance, tmp_path, name) as (url, ca_file):
        yield url, ca_file, refusal
