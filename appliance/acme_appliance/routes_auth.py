"""POST /auth/login."""

from __future__ import annotations

from fastapi import APIRouter, Request

from acme_appliance.docs import error_responses
from acme_appliance.models import LoginRequest, Token

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=Token,
             responses=error_responses("UNAUTHORIZED", "INVALID"))
def login(body: LoginRequest, request: Request) -> Token:
    """Exchange a user name and password for a bearer token; repeated failures from one
    source for one user name make it wait (401 with Retry-After)."""
    auth = request.app.state.auth
    source = request.client.host if request.client else "unknown"
    return Token(token=auth.login(body.username, body.password, source), expires_in=auth.ttl)
