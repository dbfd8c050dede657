"""uvicorn with a connection abort hook, so that fault injection can drop a connection."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from acme_appliance.faults import ABORT_EXTENSION


class AbortableH11Protocol(H11Protocol):
    """h11 protocol that puts `transport.abort` into each request's ASGI extensions."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            scope.setdefault("extensions", {})[ABORT_EXTENSION] = self.transport.abort
            await inner(scope, receive, send)

        self.app = app

    def shutdown(self) -> None:
        """Close idle keep-alive connections at once: a TLS close would wait for the peer."""
        idle = self.cycle is None or self.cycle.response_complete
        super().shutdown()
        if idle:
            # A TLS transport whose connection is already gone has no protocol to abort
            # (AttributeError in asyncio's sslproto; seen when ganesha's death stopped the API).
            with contextlib.suppress(AttributeError):
                self.transport.abort()


def build_server(app: FastAPI, host: str, port: int, tls_cert: Path | None = None,
                 tls_key: Path | None = None, log_config: dict | None = None) -> uvicorn.Server:
    """A uvicorn server for the app; HTTPS when a certificate and key are given."""
    config = uvicorn.Config(
        app, host=host, port=port, http=AbortableH11Protocol, lifespan="on",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        access_log=False, log_config=log_config, timeout_graceful_shutdown=5,
        server_header=False)
    return uvicorn.Server(config)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free port; read it with getsockname()).

    The protocol must be IPPROTO_TCP, not 0: accepted sockets inherit it, and asyncio sets
    TCP_NODELAY only when `sock.proto == IPPROTO_TCP`. Without it, Nagle holds the body (a second
    write after the headers) until the client's delayed ACK, ~40 ms per keep-alive request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
