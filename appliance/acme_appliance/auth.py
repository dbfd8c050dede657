"""Login and bearer tokens; tokens are kept as SHA-256 digests so they survive a restart."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from acme_appliance.errors import ApiError
from acme_appliance.store import Store

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="Token from POST /auth/login")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


FREE_FAILURES = 5
MAX_BACKOFF = 300.0
MAX_TRACKED = 10_000


class LoginThrottle:
    """Back-off per (user name, source address): after FREE_FAILURES failed logins in a row the
    next attempt must wait 1 s, then 2, 4, ... up to MAX_BACKOFF, counted from the last
    failure; a success resets. At most MAX_TRACKED pairs are kept (oldest dropped first)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def wait(self, key: tuple[str, str]) -> float:
        """Seconds until `key` may try again (0: now)."""
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
        if count < FREE_FAILURES:
            return 0.0
        delay = min(2.0 ** (count - FREE_FAILURES), MAX_BACKOFF)
        return max(0.0, last + delay - self.clock())

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            count = self._failures.pop(key, (0, 0.0))[0]
            self._failures[key] = (count + 1, self.clock())
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


class Authenticator:
    """Checks passwords of the configured users and issues tokens valid for `ttl` seconds."""

    def __init__(self, store: Store, users: dict[str, str], ttl: int) -> None:
        self._store = store
        self._users = dict(users)
        self.ttl = ttl
        self.throttle = LoginThrottle()

    def _password_ok(self, username: str, password: str) -> bool:
        expected = self._users.get(username, "")
        ok = hmac.compare_digest(expected.encode(), password.encode())
        return ok and username in self._users

    def _who(self, username: str) -> str:
        """A name for the log: a user name that is not configured may be a mistyped password."""
        return repr(username) if username in self._users else "<unknown user>"

    def login(self, username: str, password: str, source: str) -> str:
        """A new token, or UNAUTHORIZED (passwords and unknown user names are never logged)."""
        key = (username, source)
        wait = self.throttle.wait(key)
        if wait > 0:
            log.warning("login for %s from %s refused: %d failures in a row, back-off %.0f s",
                        self._who(username), source, FREE_FAILURES, wait)
            retry = math.ceil(wait)
            raise ApiError("UNAUTHORIZED", "too many failed logins; retry later",
                           {"retry_after": retry}, retry_after=retry)
        if not self._password_ok(username, password):
            self.throttle.failed(key)
            log.warning("failed login for %s from %s", self._who(username), source)
            raise ApiError("UNAUTHORIZED", "invalid username or password")
        self.throttle.succeeded(key)
        token = secrets.token_urlsafe(32)
        now = time.time()
        self._store.add_token(_digest(token), username, now + self.ttl, now)
        log.info("user %r logged in from %s", username, source)
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
