"""Login, bearer tokens and the login throttle.

Tokens are kept as SHA-256 digests so they survive a restart, each bound to its user's
credentials at login: a token whose user is gone or whose password changed is dropped when the
appliance starts. POST /auth/logout revokes a token at once."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from acme_appliance.errors import ApiError
from acme_appliance.store import Store

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="Token from POST /auth/login")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def credential_binding(username: str, password: str, digest: str) -> str:
    """What ties a token (its digest) to the credentials it was issued for."""
    message = f"{username}\0{digest}".encode()
    return hmac.new(password.encode(), message, hashlib.sha256).hexdigest()


PAIR_FREE = 5  # failed logins in a row for one user name from one source before back-off
WIDE_FREE = 20  # ... for one user name from all sources, or from one source for all names
WIDE_MEMORY = 3600.0  # a user name's or source's count starts again after an hour without
MAX_BACKOFF = 300.0
MAX_TRACKED = 10_000
RECENT_WRONG = 8  # wrong passwords remembered per key: a repeat is not a new guess


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    wrong: deque[bytes] = field(default_factory=lambda: deque(maxlen=RECENT_WRONG))


class FailureTable:
    """Failed logins per key, at most MAX_TRACKED keys: when full, a key that is not in
    back-off is dropped first (oldest first), so that failures on other keys cannot wipe out a
    back-off. Only distinct wrong passwords count: a client retrying the same stale password
    guesses nothing new."""

    def __init__(self, free: int, clock: Callable[[], float], memory: float | None = None,
                 capacity: int = MAX_TRACKED) -> None:
        self.free, self.clock, self.memory, self.capacity = free, clock, memory, capacity
        self._entries: OrderedDict[object, _Failures] = OrderedDict()

    def _current(self, key: object) -> _Failures | None:
        entry = self._entries.get(key)
        if entry and self.memory is not None and self.clock() - entry.last > self.memory:
            del self._entries[key]
            return None
        return entry

    def wait(self, key: object) -> tuple[float, int]:
        """Seconds until `key` may try again (0: now) and its count of failures."""
        entry = self._current(key)
        if entry is None or entry.count < self.free:
            return 0.0, entry.count if entry else 0
        delay = min(2.0 ** (entry.count - self.free), MAX_BACKOFF)
        return max(0.0, entry.last + delay - self.clock()), entry.count

    def known_wrong(self, key: object, wrong: bytes) -> bool:
        entry = self._current(key)
        return entry is not None and wrong in entry.wrong

    def failed(self, key: object, wrong: bytes) -> None:
        entry = self._current(key) or _Failures()
        self._entries.pop(key, None)
        if wrong not in entry.wrong:
            entry.count += 1
            entry.wrong.append(wrong)
        entry.last = self.clock()
        self._entries[key] = entry
        while len(self._entries) > self.capacity:
            del self._entries[self._victim()]

    def reset(self, key: object) -> None:
        self._entries.pop(key, None)

    def _victim(self) -> object:
        for key in self._entries:
            if self.wait(key)[0] == 0:
                return key
        return next(iter(self._entries))


class LoginThrottle:
    """Back-off after failed logins: per (user name, source), and per user name over all
    sources and per source over all user names (a source that has logged in as the user before
    is exempt from these two, so that guesses from elsewhere do not lock it out). After the
    free failures the next attempt must wait 1 s, then 2, 4, ... up to MAX_BACKOFF, counted
    from the last failure; a success resets the (user name, source) count."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)  # wrong passwords are remembered only as HMACs
        self.pairs = FailureTable(PAIR_FREE, self._now)
        self.users = FailureTable(WIDE_FREE, self._now, WIDE_MEMORY)
        self.sources = FailureTable(WIDE_FREE, self._now, WIDE_MEMORY)
        self._trusted: OrderedDict[tuple[str, str], None] = OrderedDict()

    def _now(self) -> float:
        return self.clock()

    def _tables(self, user: str, source: str) -> list[tuple[str, FailureTable, object]]:
        tables: list[tuple[str, FailureTable, object]] = [
            ("for this user name from this source", self.pairs, (user, source))]
        if (user, source) not in self._trusted:
            tables += [("for this user name", self.users, user),
                       ("from this source", self.sources, source)]
        return tables

    def mark(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    def wait(self, user: str, source: str) -> tuple[float, int, str]:
        """The longest wait that applies, with its count of failures and what it counts."""
        with self._lock:
            waits = [(*table.wait(key), what) for what, table, key in self._tables(user, source)]
        return max(waits, key=lambda item: (item[0], item[1]))

    def known_wrong(self, user: str, source: str, mark: bytes) -> bool:
        """True when this source already failed with this password for this user name."""
        with self._lock:
            return self.pairs.known_wrong((user, source), mark)

    def failed(self, user: str, source: str, mark: bytes) -> None:
        with self._lock:
            for _what, table, key in self._tables(user, source):
                table.failed(key, mark)

    def succeeded(self, user: str, source: str) -> None:
        with self._lock:
            self.pairs.reset((user, source))
            self._trusted.pop((user, source), None)
            self._trusted[(user, source)] = None
            while len(self._trusted) > MAX_TRACKED:
                self._trusted.popitem(last=False)


class Authenticator:
    """Checks passwords of the configured users and issues tokens valid for `ttl` seconds;
    drops the stored tokens that are not bound to the current users' credentials."""

    def __init__(self, store: Store, users: dict[str, str], ttl: int) -> None:
        self._store = store
        self._users = dict(users)
        self.ttl = ttl
        self.throttle = LoginThrottle()
        dropped = store.drop_tokens(self._stale_tokens(), time.time())
        if dropped:
            log.info("dropped %d tokens of removed users or changed passwords", dropped)

    def _stale_tokens(self) -> list[str]:
        return [digest for digest, username, binding in self._store.tokens()
                if not self._bound(username, digest, binding)]

    def _bound(self, username: str, digest: str, binding: str) -> bool:
        if username not in self._users:
            return False
        expected = credential_binding(username, self._users[username], digest)
        return hmac.compare_digest(expected, binding)

    def _password_ok(self, username: str, password: str) -> bool:
        expected = self._users.get(username, "")
        ok = hmac.compare_digest(expected.encode(), password.encode())
        return ok and username in self._users

    def _who(self, username: str) -> str:
        """A name for the log: a user name that is not configured may be a mistyped password."""
        return repr(username) if username in self._users else "<unknown user>"

    def login(self, username: str, password: str, source: str) -> str:
        """A new token, or UNAUTHORIZED (passwords and unknown user names are never logged)."""
        mark = self.throttle.mark(password)
        wait, count, what = self.throttle.wait(username, source)
        if wait > 0 and not self.throttle.known_wrong(username, source, mark):
            log.warning("login for %s from %s refused: %d failed logins %s, back-off %.0f s",
                        self._who(username), source, count, what, wait)
            retry = math.ceil(wait)
            raise ApiError("UNAUTHORIZED", "too many failed logins; retry later",
                           {"retry_after": retry}, retry_after=retry)
        if not self._password_ok(username, password):
            self.throttle.failed(username, source, mark)
            log.warning("failed login for %s from %s", self._who(username), source)
            raise ApiError("UNAUTHORIZED", "invalid username or password")
        self.throttle.succeeded(username, source)
        token = secrets.token_urlsafe(32)
        now, digest = time.time(), _digest(token)
        self._store.add_token(digest, username, now + self.ttl, now,
                              credential_binding(username, password, digest))
        log.info("user %r logged in from %s", username, source)
        return token

    def user_of(self, token: str | None) -> str:
        """The user a valid token belongs to; UNAUTHORIZED when missing, unknown or expired."""
        if not token:
            raise ApiError("UNAUTHORIZED", "missing bearer token")
        user = self._store.token_user(_digest(token), time.time())
        if user is None or user not in self._users:
            raise ApiError("UNAUTHORIZED", "unknown or expired token")
        return user

    def logout(self, token: str | None) -> str:
        """Revoke a valid token; return its user (UNAUTHORIZED as for user_of)."""
        user = self.user_of(token)
        self._store.drop_tokens([_digest(token or "")], time.time())
        log.info("user %r logged out", user)
        return user


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    return credentials.credentials if credentials else None


def require_token(request: Request, token: Annotated[str | None, Depends(bearer_token)]) -> str:
    """Dependency of every protected route: returns the user name."""
    auth: Authenticator = request.app.state.auth
    return auth.user_of(token)
