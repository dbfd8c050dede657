"""Request bodies are JSON without duplicate keys: `{"quota_bytes": 1, "quota_bytes": 2}` is 422
INVALID, where json.loads would keep the last value silently (another parser may keep the
first). FastAPI's documented way: a Request subclass served by a custom APIRoute."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

MAX_KEY_SHOWN = 64


class DuplicateKey(HTTPException):
    """An HTTPException: FastAPI passes it on from body parsing as it is (422 INVALID)."""

    def __init__(self, key: str) -> None:
        shown = key if len(key) <= MAX_KEY_SHOWN else key[:MAX_KEY_SHOWN] + "..."
        super().__init__(422, f"the request body has the key {shown!r} more than once")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), object_pairs_hook=_unique_keys)
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose endpoint reads the body with StrictJsonRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
