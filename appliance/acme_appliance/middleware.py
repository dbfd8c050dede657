"""X-Request-Id on every response, one log line per call, INTERNAL for unexpected errors, and
request body size and time limits that apply before anything else (login included)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
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


MAX_BODY = 1 << 20  # the largest valid request (NFS settings with many rules) is a few KiB
BODY_TIMEOUT = 30.0  # seconds from the request head to the end of its body


def _message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class BodyTooLarge(HTTPException):
    """The client sent more than the limit; an HTTPException so that FastAPI's body reading
    passes it on as it is (it turns other exceptions into 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit))
        self.limit = limit


def _too_large(limit: int) -> ApiError:
    return ApiError("INVALID", _message(limit), {"max_body_bytes": limit}, status=413)


class BodyTimedOut(HTTPException):
    """The body did not arrive in time (an HTTPException for the same reason as BodyTooLarge)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(408, f"the request body did not arrive within {timeout:g} s")
        self.timeout = timeout


def _timed_out(timeout: float) -> ApiError:
    return ApiError("INVALID", f"the request body did not arrive within {timeout:g} s",
                    {"body_timeout_seconds": timeout}, status=408)


async def body_timed_out(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: 408, and the connection is closed (the rest of the body is unread)."""
    assert isinstance(exc, BodyTimedOut)
    response = error_response(_timed_out(exc.timeout))
    response.headers["Connection"] = "close"
    return response


async def body_too_large(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: the same 413 body whether the limit was declared or streamed."""
    assert isinstance(exc, BodyTooLarge)
    return error_response(_too_large(exc.limit))


class BodyLimitMiddleware:
    """413 for a body over `limit` bytes: at once from Content-Length, else while it streams
    in, so that no oversized body is ever held in memory; 408 for a body not complete within
    `timeout` seconds of the request head, so that a half-sent body holds nothing for long."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY, timeout: float = BODY_TIMEOUT) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await error_response(_too_large(self.limit))(scope, receive, send)
        received, started, complete = 0, False, False
        deadline = asyncio.get_running_loop().time() + self.timeout

        async def counted_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body, receive() waits for the disconnect: no limit
                return await receive()
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), max(left, 0))
            except TimeoutError:
                raise BodyTimedOut(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
                complete = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await error_response(_too_large(self.limit))(scope, receive, send)
        except BodyTimedOut as exc:
            if started:
                raise
            await (await body_timed_out(Request(scope), exc))(scope, receive, send)
