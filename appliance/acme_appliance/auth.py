"""Login and bearer tokens; tokens are kept as SHA-256 digests so they survive a restart."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from acme_appliance.errors import ApiError
from acme_appliance.store import Store

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="Token from POST /auth/login")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Checks passwords of the configured users and issues tokens valid for `ttl` seconds."""

    def __init__(self, store: Store, users: dict[str, str], ttl: int) -> None:
        self._store = store
        self._users = dict(users)
        self.ttl = ttl

    def _password_ok(self, username: str, password: str) -> bool:
        expected = self._users.get(username, "")
        ok = hmac.compare_digest(expected.encode(), password.encode())
        return ok and username in self._users

    def login(self, username: str, password: str) -> str:
        """A new token, or UNAUTHORIZED (the password is never logged)."""
        if not self._password_ok(username, password):
            log.warning("failed login for user %r", username)
            raise ApiError("UNAUTHORIZED", "invalid username or password")
        token = secrets.token_urlsafe(32)
        now = time.time()
        self._store.add_token(_digest(token), username, now + self.ttl, now)
        log.info("user %r logged in", username)
        return token

    def user_of(self, token: str | None) -> str:
        """The user a valid token belongs to; UNAUTHORIZED when missing, unknown or expired."""
        if not token:
            raise ApiError("UNAUTHORIZED", "missing bearer token")
        user = self._store.token_user(_digest(token), time.time())
        if user is None:
            raise ApiError("UNAUTHORIZED", "unknown or expired token")
        return user


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Dependency of every protected route: returns the user name."""
    auth: Authenticator = request.app.state.auth
    return auth.user_of(credentials.credentials if credentials else None)
