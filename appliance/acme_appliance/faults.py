"""Fault injection for tests: fail, delay or drop the Nth call matching a method and path."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from acme_appliance.errors import STATUS_OF_CODE, ApiError, code_for_status, error_response
from acme_appliance.fault_pattern import MAX_MATCHED_PATH
from acme_appliance.models import Fault, FaultCreate

API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/_admin"
ABORT_EXTENSION = "acme.abort"
MAX_FAULTS = 64  # each call is matched against every fault; tests need a handful


class DroppedConnection(Exception):
    """Raised where the server cannot abort the connection itself (e.g. in-process clients)."""


@dataclass
class _Entry:
    spec: FaultCreate
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seen: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        self.regex = re.compile(self.spec.path)

    def matches(self, method: str, path: str) -> bool:
        wanted = self.spec.method.upper()
        return (wanted in ("*", method.upper()) and len(path) <= MAX_MATCHED_PATH
                and self.regex.fullmatch(path) is not None)

    def view(self) -> Fault:
        return Fault(**self.spec.model_dump(), id=self.id, seen=self.seen, hits=self.hits)


def _normalised(spec: FaultCreate) -> FaultCreate:
    """Fill in the status from the code (or the code from the status) and BUSY's Retry-After."""
    status = spec.status
    if spec.code is not None and "status" not in spec.model_fields_set:
        status = STATUS_OF_CODE[spec.code]
    code = spec.code or code_for_status(status)
    retry_after = spec.retry_after
    if retry_after is None and code == "BUSY":
        retry_after = 1
    return spec.model_copy(update={"status": status, "code": code, "retry_after": retry_after})


class FaultPlan:
    """The active faults (at most MAX_FAULTS), in the order they were added; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []

    def __bool__(self) -> bool:
        return bool(self._entries)

    def add(self, spec: FaultCreate) -> Fault:
        """Add a fault; INVALID when the plan already holds MAX_FAULTS."""
        entry = _Entry(_normalised(spec))
        with self._lock:
            if len(self._entries) >= MAX_FAULTS:
                raise ApiError("INVALID", f"the fault plan holds at most {MAX_FAULTS} faults; "
                               "remove some first", {"max_faults": MAX_FAULTS})
            self._entries.append(entry)
        return entry.view()

    def list(self) -> list[Fault]:
        with self._lock:
            return [entry.view() for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._entries)
            self._entries = [e for e in self._entries if e.id != fault_id]
            return len(self._entries) != before

    def match(self, method: str, path: str) -> FaultCreate | None:
        """Count the call against every matching fault; return the first fault it triggers."""
        chosen = None
        with self._lock:
            for entry in self._entries:
                if not entry.matches(method, path):
                    continue
                entry.seen += 1
                first, last = entry.spec.nth, entry.spec.nth + entry.spec.times - 1
                if chosen is None and first <= entry.seen <= last:
                    entry.hits += 1
                    chosen = entry.spec
        return chosen


async def _drop(scope: Scope, receive: Receive) -> None:
    """Close the connection without any response."""
    abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
    if abort is None:
        raise DroppedConnection("fault injection dropped the connection")
    abort()
    while True:
        message = await asyncio.wait_for(receive(), timeout=5)
        if message["type"] == "http.disconnect":
            return


async def _fail(spec: FaultCreate, scope: Scope, receive: Receive, send: Send) -> None:
    message = spec.message or f"injected fault: {spec.code}"
    error = ApiError(str(spec.code), message, {"injected": True},
                     retry_after=spec.retry_after, status=spec.status)
    await error_response(error)(scope, receive, send)


class FaultMiddleware:
    """Applies the fault plan to calls below /api/v1 (never to the admin endpoint)."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIX + "/"):
            return await self.app(scope, receive, send)
        relative = path[len(API_PREFIX):]
        spec = None
        if self.plan and not relative.startswith(ADMIN_PREFIX):
            # Matching every fault's pattern takes a while: not on the event loop.
            spec = await run_in_threadpool(self.plan.match, scope["method"], relative)
        if spec is None:
            return await self.app(scope, receive, send)
        if spec.when == "after":
            return await self._after(spec, scope, receive, send)
        return await self._before(spec, scope, receive, send)

    async def _before(self, spec: FaultCreate, scope: Scope, receive: Receive,
                      send: Send) -> None:
        if spec.action == "drop":
            return await _drop(scope, receive)
        if spec.action == "fail":
            return await _fail(spec, scope, receive, send)
        await asyncio.sleep(spec.delay)
        await self.app(scope, receive, send)

    async def _after(self, spec: FaultCreate, scope: Scope, receive: Receive, send: Send) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if spec.action == "drop":
            return await _drop(scope, receive)
        if spec.action == "fail":
            return await _fail(spec, scope, receive, send)
        await asyncio.sleep(spec.delay)
        for message in held:
            await send(message)
