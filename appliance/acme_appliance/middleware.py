"""X-Request-Id on every response, one log line per call, and INTERNAL for unexpected errors."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from acme_appliance.errors import ApiError, error_response
from acme_appliance.faults import DroppedConnection

log = logging.getLogger("acme_appliance.access")
REQUEST_ID_HEADER = "X-Request-Id"


class RequestIdMiddleware:
    """Outermost middleware: tags the response (errors included) with a fresh uuid4."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started, status, begin = False, 0, time.monotonic()

        async def send_tagged(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_tagged)
        except DroppedConnection:
            status = 0
            raise
        except Exception:
            log.exception("unexpected error in %s %s [%s]", scope["method"], scope["path"],
                          request_id)
            if started:
                raise
            error = ApiError("INTERNAL", "internal error", {"request_id": request_id})
            await error_response(error)(scope, receive, send_tagged)
        finally:
            log.info("%s %s %s %.1fms [%s]", scope["method"], scope["path"], status or "dropped",
                     (time.monotonic() - begin) * 1000, request_id)
