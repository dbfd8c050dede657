"""POST /auth/login and POST /auth/logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from acme_appliance.auth import bearer_token
from acme_appliance.docs import error_responses
from acme_appliance.models import LoginRequest, Token
from acme_appliance.strict_json import StrictJsonRoute

router = APIRouter(route_class=StrictJsonRoute, tags=["auth"])


@router.post("/auth/login", response_model=Token,
             responses=error_responses("UNAUTHORIZED", "INVALID"))
def login(body: LoginRequest, request: Request) -> Token:
    """Exchange a user name and password for a bearer token. The token is bound to these
    credentials: it stops working when the appliance restarts without this user or with
    another password. Repeated failures make the caller wait (401 with Retry-After): after 5
    distinct wrong passwords for one user name from one source, or 20 for one user name from
    all sources or from one source for all user names (a source that logged in as the user
    before is exempt from these two); repeating a wrong password is not counted again."""
    auth = request.app.state.auth
    source = request.client.host if request.client else "unknown"
    return Token(token=auth.login(body.username, body.password, source), expires_in=auth.ttl)


@router.post("/auth/logout", status_code=204, response_class=Response,
             responses=error_responses("UNAUTHORIZED"))
def logout(request: Request, token: Annotated[str | None, Depends(bearer_token)]) -> Response:
    """Revoke the bearer token of this call at once (401 if it is not valid)."""
    request.app.state.auth.logout(token)
    return Response(status_code=204)
