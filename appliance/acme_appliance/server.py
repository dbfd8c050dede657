"""uvicorn with a connection abort hook, so that fault injection can drop a connection, and
limits on connections: how many may be open and how long a request head may take to arrive.

uvicorn itself times out only idle keep-alive connections (after a response) and accepts any
number of connections; a client sending half a request head would hold its descriptor forever.
The body's time limit is enforced by the app (middleware.BodyLimitMiddleware)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import resource
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from acme_appliance.faults import ABORT_EXTENSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    """At most `max_connections` open at once, `max_per_source` of them from one client address
    (more are closed at once); a TLS handshake must end within `head_timeout` seconds, and a
    request head arrive within `head_timeout` seconds of the connection (or of the previous
    response)."""

    max_connections: int = 1000
    max_per_source: int = 100
    head_timeout: float = 10.0
    keep_alive_timeout: int = 5


class AbortableH11Protocol(H11Protocol):
    """h11 protocol that puts `transport.abort` into each request's ASGI extensions and
    applies ConnectionLimits."""

    def __init__(self, *args, limits: ConnectionLimits = ConnectionLimits(),  # type: ignore[no-untyped-def]
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._head_timer: asyncio.TimerHandle | None = None
        inner = self.app

        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            scope.setdefault("extensions", {})[ABORT_EXTENSION] = self.transport.abort
            await inner(scope, receive, send)

        self.app = app

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        source = self.client[0] if self.client else "unknown"
        from_source = sum(1 for other in self.connections
                          if (other.client[0] if other.client else "unknown") == source)
        if (len(self.connections) > self.limits.max_connections
                or from_source > self.limits.max_per_source):
            log.warning("refused a connection from %s: %d connections are open, %d from there",
                        source, len(self.connections) - 1, from_source - 1)
            transport.abort()
            return
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.warning("closed a connection from %s: no complete request head within %.0f s",
                        self.client[0] if self.client else "unknown", self.limits.head_timeout)
            self.transport.abort()

    def shutdown(self) -> None:
        """Close idle keep-alive connections at once: a TLS close would wait for the peer."""
        idle = self.cycle is None or self.cycle.response_complete
        super().shutdown()
        if idle:
            # A TLS transport whose connection is already gone has no protocol to abort
            # (AttributeError in asyncio's sslproto; seen when ganesha's death stopped the API).
            with contextlib.suppress(AttributeError):
                self.transport.abort()


class LimitedServer(uvicorn.Server):
    """uvicorn's Server with a time limit on TLS handshakes: uvicorn creates its asyncio server
    without one, so asyncio's default (60 s) would let a client that never finishes its
    handshake hold a descriptor for a minute, before any of ConnectionLimits applies."""

    def __init__(self, config: uvicorn.Config, handshake_timeout: float) -> None:
        super().__init__(config)
        self.handshake_timeout = handshake_timeout

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.config.is_ssl:
            return await super().startup(sockets)
        loop = asyncio.get_running_loop()
        # uvicorn's startup calls loop.create_server; this loop's own gets the time limit.
        loop.create_server = functools.partial(  # type: ignore[method-assign]
            loop.create_server, ssl_handshake_timeout=self.handshake_timeout)
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server


def connection_budget() -> int:
    """Connections may take half the descriptors (RLIMIT_NOFILE): the other half is for the
    database, tree walks and the calls running, so a flood of connections cannot starve them."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return ConnectionLimits.max_connections if soft == resource.RLIM_INFINITY else max(
        16, soft // 2)


def build_server(app: FastAPI, host: str, port: int, tls_cert: Path | None = None,
                 tls_key: Path | None = None, log_config: dict | None = None,
                 limits: ConnectionLimits = ConnectionLimits()) -> uvicorn.Server:
    """A uvicorn server for the app; HTTPS when a certificate and key are given."""
    total = min(limits.max_connections, connection_budget())
    limits = replace(limits, max_connections=total,
                     max_per_source=min(limits.max_per_source, max(1, total // 2)))
    protocol = functools.partial(AbortableH11Protocol, limits=limits)
    config = uvicorn.Config(
        app, host=host, port=port, http=protocol,  # type: ignore[arg-type]
        lifespan="on", timeout_keep_alive=limits.keep_alive_timeout,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        access_log=False, log_config=log_config, timeout_graceful_shutdown=5,
        server_header=False)
    return LimitedServer(config, handshake_timeout=limits.head_timeout)


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
