"""The contract's error codes; handlers turn every failure into `{code, message, details}`."""

from __future__ import annotations

import errno
import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from acme_appliance.trees import TreeTooDeep

log = logging.getLogger(__name__)
STATUS_OF_CODE = {
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "IN_USE": 409,
    "INVALID": 422,
    "NO_SPACE": 507,
    "BUSY": 503,
    "INTERNAL": 500,
}
_CODE_OF_STATUS = {
    401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "IN_USE",
    422: "INVALID", 500: "INTERNAL", 503: "BUSY", 507: "NO_SPACE",
}


def code_for_status(status: int) -> str:
    """The contract code a bare HTTP status maps to (4xx -> INVALID, 5xx -> INTERNAL otherwise)."""
    return _CODE_OF_STATUS.get(status, "INVALID" if status < 500 else "INTERNAL")


class ApiError(Exception):
    """An error the API reports with a contract code; the status follows from the code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None,
                 *, retry_after: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or STATUS_OF_CODE[code]
        self.retry_after = retry_after if retry_after is not None else (
            1 if code == "BUSY" else None)


def not_found(kind: str, key: str) -> ApiError:
    return ApiError("NOT_FOUND", f"{kind} {key} not found", {kind: key})


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


def error_response(error: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    if error.code == "UNAUTHORIZED":
        headers["WWW-Authenticate"] = "Bearer"
    body = error_body(error.code, error.message, error.details)
    return JSONResponse(body, status_code=error.status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


def _clean_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Keep only JSON-safe fields: pydantic's `ctx` may hold exception objects."""
    return [{"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")),
             "type": str(err.get("type", ""))} for err in exc.errors()]


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_validation_errors(exc)
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    message = f"{where}: {first['msg']}" if where else first["msg"]
    return error_response(ApiError("INVALID", message, {"errors": errors}))


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """The methods some route fully matches at this path (routers nest, so ask them all)."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own errors: 404, 405 (with Allow), 400 for a body that is
    not JSON at all (422 INVALID like any other invalid body)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        return error_response(ApiError("INVALID", "the request body is not valid UTF-8 JSON"))
    code = code_for_status(exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) else code.lower()
    response = error_response(ApiError(code, message, status=exc.status_code))
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    """A full file system is NO_SPACE, running out of descriptors BUSY; any other is INTERNAL."""
    assert isinstance(exc, OSError)
    if no_space(exc):
        return error_response(ApiError("NO_SPACE", "no space left on the data file system"))
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(ApiError("BUSY", "the appliance is out of file descriptors"))
    log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return error_response(ApiError("INTERNAL", "internal error"))


def no_space(error: BaseException) -> bool:
    """True for a full file system (or quota): OSError ENOSPC/EDQUOT, sqlite's SQLITE_FULL."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and (
        code & 0xFF == sqlite3.SQLITE_FULL)


async def _sqlite_error(_request: Request, exc: Exception) -> JSONResponse:
    """The state database on a full file system is NO_SPACE; any other error stays INTERNAL."""
    if no_space(exc):
        log.warning("the state database has no space left: %s", exc)
        return error_response(ApiError("NO_SPACE", "no space left on the data file system"))
    raise exc


async def _tree_too_deep(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TreeTooDeep)
    return error_response(ApiError("INVALID", f"the share holds a {exc}",
                                   {"max_depth": exc.limit}))


def install_error_handlers(app: FastAPI) -> None:
    """Route ApiError, request validation errors and Starlette's 404/405 to contract bodies."""
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(sqlite3.Error, _sqlite_error)
    app.add_exception_handler(TreeTooDeep, _tree_too_deep)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
