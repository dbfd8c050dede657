"""An ASGI app served by the simulator's own uvicorn set-up in a thread, on a free loopback
port (HTTPS with ``cert``/``key``, else HTTP)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from acme_appliance.server import ConnectionLimits, bind_socket, build_server

from tests.support.polling import wait_until


class ThreadServer:
    """``with ThreadServer(app) as server: server.url``; or ``start()`` / ``stop()``."""

    def __init__(self, app: Any, cert: Path | None = None, key: Path | None = None,
                 limits: ConnectionLimits | None = None) -> None:
        self.sock = bind_socket('127.0.0.1', 0)
        port = self.sock.getsockname()[1]
        self.server = build_server(app, '127.0.0.1', port, cert, key,
                                   limits=limits or ConnectionLimits())
        self.url = f"{'https' if cert else 'http'}://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, kwargs={'sockets': [self.sock]},
                                       daemon=True)

    def start(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), what='uvicorn start')
        assert self.server.started, 'uvicorn did not start'
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> ThreadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
