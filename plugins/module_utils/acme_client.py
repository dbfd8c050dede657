# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""The one client of the ACME NAS appliance REST API, version 1.

The Ansible modules and the Cinder driver (``acme_cinder.acme_client`` is a
symlink to this file) both use it; there is no second copy. It needs only
``urllib3`` and the standard library, because it runs on managed nodes
(and each module run imports it: urllib3 alone starts in half the time
requests takes).

What it does for its callers, so that they never have to:

* logs in on first use, reuses the token, logs in again once on 401;
* retries idempotent calls (GET, PUT, DELETE, PATCH and the login) on 503
  and connection errors with exponential backoff and jitter, honouring
  ``Retry-After`` up to a cap (``retry_after_max``, 60 s by default);
* makes create calls safe to repeat: on ``ALREADY_EXISTS`` for the same name
  and parameters the existing object is adopted;
* maps the appliance's error codes once, to typed exceptions that carry the
  request id;
* never puts the password in a log line, an exception or a repr.

It runs with the urllib3 of the distributions the collection supports
(1.26 and 2.x); with older ones it fails with one message
naming the required versions (``REQUIREMENTS_ERROR``).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import sys
import time
import traceback
from urllib.parse import quote, urlencode

try:
    import urllib3
    from urllib3.util.retry import Retry
    from urllib3.util.timeout import Timeout
except ImportError:  # pragma: no cover - reported by the module base
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR = traceback.format_exc()
    Retry = object  # CappedRetry below must still be definable
else:
    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR = None

LOG = logging.getLogger(__name__)

API_PREFIX = '/api/v1'
DEFAULT_TIMEOUT = (10.0, 60.0)
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF = 0.5
# The appliance rounds share quotas up to this granularity (documented in
# its OpenAPI description); callers compare sizes after this rounding.
QUOTA_GRANULARITY = 1024 * 1024
LIST_PAGE_SIZE = 1000
DEFAULT_RETRY_AFTER_MAX = 60.0
# PATCH bodies carry absolute values (a quota, a name, an owner): repeating
# one that was applied is a no-op on the appliance, so PATCH is idempotent.
IDEMPOTENT_METHODS = frozenset(['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'])
LOGIN_PATH = '/auth/login'
LOGOUT_PATH = '/auth/logout'
# The oldest release the client is tested with: that of Ubuntu 22.04 and
# RHEL 9 (Debian 12 has urllib3 1.26.12).
MIN_VERSIONS = (('urllib3', (1, 26, 5)),)


# --------------------------------------------------------------------------
# Errors: mapped once from the contract's codes.
# --------------------------------------------------------------------------
class AcmeError(Exception):
    """An error reported by (or while talking to) the appliance."""

    code = 'INTERNAL'

    def __init__(self, message, code=None, status=None, details=None,
                 request_id=None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status
        self.details = details or {}
        self.request_id = request_id

    def __str__(self):
        where = []
        if self.status:
            where.append(f'HTTP {self.status}')
        if self.request_id:
            where.append(f'request {self.request_id}')
        suffix = f" ({', '.join(where)})" if where else ''
        return f'{self.code}: {self.message}{suffix}'

    def to_dict(self) -> dict:
        return {'code': self.code, 'message': self.message,
                'status': self.status, 'details': self.details,
                'request_id': self.request_id}


class Unauthorized(AcmeError):
    code = 'UNAUTHORIZED'


class Forbidden(AcmeError):
    code = 'FORBIDDEN'


class NotFound(AcmeError):
    code = 'NOT_FOUND'


class AlreadyExists(AcmeError):
    code = 'ALREADY_EXISTS'


class InUse(AcmeError):
    code = 'IN_USE'


class Invalid(AcmeError):
    code = 'INVALID'


class NoSpace(AcmeError):
    code = 'NO_SPACE'


class Busy(AcmeError):
    code = 'BUSY'


class ApplianceError(AcmeError):
    code = 'INTERNAL'


class ConnectionFailed(AcmeError):
    """The appliance could not be reached (network, TLS, timeout)."""

    code = 'CONNECTION_FAILED'


class RequirementsError(AcmeError):
    """This Python's urllib3 is missing or too old for the client."""

    code = 'REQUIREMENTS'


def _version(text) -> tuple:
    """``'1.26.12'`` -> ``(1, 26, 12)``; stops at the first non-numeric part."""
    parts = []
    for part in str(text).split('.')[:3]:
        digits = re.match(r'\d*', part).group()
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def requirements_error(found=None):
    """Why this Python cannot run the client, or None.

    ``found`` maps library names to installed versions (default: the
    imported ones).
    """
    wanted = ' and '.join(f"{name} >= {'.'.join(map(str, version))}"
                          for name, version in MIN_VERSIONS)
    if found is None:
        if not HAS_URLLIB3:
            reason = URLLIB3_IMPORT_ERROR.strip().splitlines()[-1]
            return f'the ACME client needs {wanted} ({sys.executable}: {reason})'
        found = {'urllib3': urllib3.__version__}
    if all(_version(found[name]) >= version for name, version in MIN_VERSIONS):
        return None
    have = ' and '.join(f'{name} {found[name]}' for name, _minimum in MIN_VERSIONS)
    return f'the ACME client needs {wanted}; {sys.executable} has {have}'


REQUIREMENTS_ERROR = requirements_error()


_BY_CODE = {cls.code: cls for cls in (
    Unauthorized, Forbidden, NotFound, AlreadyExists, InUse, Invalid,
    NoSpace, Busy, ApplianceError)}
# 409 carries two codes; the status alone decides only when the body is
# not the contract's (a proxy in between, say).
_BY_STATUS = {401: Unauthorized, 403: Forbidden, 404: NotFound,
              409: AlreadyExists, 422: Invalid, 503: Busy, 507: NoSpace}


def error_from_response(response) -> AcmeError:
    """Build the typed exception for an appliance error response."""
    request_id = response.headers.get('X-Request-Id')
    try:
        body = json.loads(response.data)
    except ValueError:
        body = None
    if not isinstance(body, dict) or 'code' not in body:
        text = response.data.decode('utf-8', 'replace')
        body = {'message': (text or response.reason or '')[:500]}
    cls = _BY_CODE.get(body.get('code')) or _BY_STATUS.get(
        response.status, ApplianceError)
    error = cls(body.get('message') or f'HTTP {response.status}',
                code=body.get('code'), status=response.status,
                details=body.get('details'), request_id=request_id)
    error.retry_after = response.headers.get('Retry-After')
    return error


def parse_retry_after(value):
    """Seconds a ``Retry-After`` header asks for (delay or HTTP date), or None."""
    if value is None:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def retry_delay(retry_after, attempt, backoff, retry_after_max) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...).

    What the server's ``Retry-After`` asks for, but never more than
    ``retry_after_max``; without one, or with one of 0 (or a date already
    past), exponential backoff with jitter: never a retry without a wait.
    """
    asked = parse_retry_after(retry_after)
    if asked:
        return min(asked, float(retry_after_max))
    return backoff * (2 ** (attempt - 1)) + random.uniform(0, backoff)


def _sleep(seconds) -> None:
    """Every wait of the client goes through here (tests record it)."""
    time.sleep(seconds)


class CappedRetry(Retry):
    """urllib3's Retry, waiting :func:`retry_delay` on urllib3 1.26 and 2.x alike.

    urllib3 1.26 has no ``backoff_jitter`` or ``backoff_max`` and sleeps for
    as long as ``Retry-After`` says, hours included; the wait is decided here
    instead, with the same rule as the client's own create retries.
    """

    def __init__(self, *args, retry_after_max=DEFAULT_RETRY_AFTER_MAX, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after_max = retry_after_max

    def new(self, **kwargs):
        kwargs.setdefault('retry_after_max', self.retry_after_max)
        return super().new(**kwargs)

    def sleep(self, response=None):
        retry_after = None
        if response is not None and self.respect_retry_after_header:
            retry_after = response.headers.get('Retry-After')
        _sleep(retry_delay(retry_after, len(self.history), self.backoff_factor,
                           self.retry_after_max))


def round_quota(quota_bytes):
    """Return the quota the appliance stores for a requested quota."""
    if not quota_bytes:
        return quota_bytes
    units = -(-int(quota_bytes) // QUOTA_GRANULARITY)
    return units * QUOTA_GRANULARITY


def api_base_url(url: str) -> str:
    """Accept ``https://host:8443`` or ``https://host:8443/api/v1``."""
    url = url.rstrip('/')
    if not url.endswith(API_PREFIX):
        url += API_PREFIX
    return url


class Secret:
    """A password that shows as ``********`` in reprs, vars() and tracebacks."""

    __slots__ = ('_value',)

    def __init__(self, value):
        self._value = value

    def reveal(self):
        return self._value

    def __repr__(self):
        return '********'

    __str__ = __repr__


# --------------------------------------------------------------------------
# Transport: session, login, re-login, retries.
# --------------------------------------------------------------------------
class Http:
    """Authenticated JSON requests against one appliance."""

    def __init__(self, url, username, password, verify=True,
                 timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES,
                 backoff=DEFAULT_BACKOFF,
                 retry_after_max=DEFAULT_RETRY_AFTER_MAX):
        if REQUIREMENTS_ERROR:
            raise RequirementsError(REQUIREMENTS_ERROR)
        self.base_url = api_base_url(url)
        self.username = username
        self.password = Secret(password)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.retry_after_max = float(retry_after_max)
        self.token = None
        self.verify = verify
        self.headers = {'Accept': 'application/json', 'User-Agent': 'acme.nas-client/1'}
        # maxsize: the connections kept per host, requests' default (urllib3's is 1: more
        # concurrent calls of the driver would each open and drop a connection, with a warning)
        self.pool = urllib3.PoolManager(maxsize=10, **tls_options(verify))
        connect, read = timeout if isinstance(timeout, (tuple, list)) else (timeout, timeout)
        self.pool_timeout = Timeout(connect=connect, read=read)
        self.retry = self._retry_policy(IDEMPOTENT_METHODS)
        # Logging in twice is harmless: the login POST (and only it) is
        # retried like an idempotent call.
        self.login_retry = self._retry_policy(IDEMPOTENT_METHODS | {'POST'})

    def __repr__(self):
        return f'<Http {self.base_url} as {self.username}>'

    def _retry_policy(self, methods):
        return CappedRetry(total=self.retries, connect=self.retries,
                           read=self.retries, status=self.retries, redirect=0,
                           other=0, backoff_factor=self.backoff,
                           status_forcelist=(503,),
                           allowed_methods=methods,
                           respect_retry_after_header=True,
                           raise_on_status=False,
                           retry_after_max=self.retry_after_max)

    def login(self) -> None:
        body = {'username': self.username, 'password': self.password.reveal()}
        response = self._send('POST', LOGIN_PATH, body, authenticate=False)
        self.token = json.loads(response.data)['token']

    def logout(self) -> None:
        """Revoke the token, if there is one (once; an error is ignored: it expires)."""
        token, self.token = self.token, None
        if token is None:
            return
        try:
            self._call('POST', LOGOUT_PATH, {'Authorization': f'Bearer {token}'}, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            LOG.debug('logout from %s failed: %s', self.base_url, _reason(exc))

    def request(self, method, path, body=None, params=None):
        """Send one call; return the decoded JSON body (None for 204)."""
        if self.token is None:
            self.login()
        try:
            response = self._send(method, path, body, params)
        except Unauthorized:
            LOG.debug('token refused by %s, logging in again', self.base_url)
            self.login()
            response = self._send(method, path, body, params)
        if response.status == 204 or not response.data:
            return None
        return json.loads(response.data)

    def _send(self, method, path, body=None, params=None, authenticate=True):
        headers = {}
        if authenticate:
            headers['Authorization'] = f'Bearer {self.token}'
        if params:
            path += '?' + urlencode(params)
        retries = self.login_retry if path == LOGIN_PATH else self.retry
        try:
            response = self._call(method, path, headers, body, retries)
        except urllib3.exceptions.HTTPError as exc:
            reason = _reason(exc)
            raise ConnectionFailed(
                f'cannot reach the appliance at {self.base_url}: {reason}') from None
        LOG.debug('%s %s -> %s (request %s)', method, path.split('?')[0],
                  response.status, response.headers.get('X-Request-Id'))
        if response.status >= 300:  # redirects are not followed: the contract has none
            raise error_from_response(response)
        return response

    def _call(self, method, path, headers, body=None, retries=None):
        headers = {**self.headers, **headers}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        return self.pool.request(method, self.base_url + path, body=data, headers=headers,
                                 timeout=self.pool_timeout, retries=retries, redirect=False)


def tls_options(verify) -> dict:
    """urllib3 pool settings for ``verify``: True (the system's trust store),
    False (no verification: labs only) or the path of a CA bundle or directory."""
    if verify is False:
        return {'cert_reqs': 'CERT_NONE'}
    options = {'cert_reqs': 'CERT_REQUIRED'}
    if isinstance(verify, str):
        key = 'ca_cert_dir' if os.path.isdir(verify) else 'ca_certs'
        options[key] = verify
    return options


def _reason(exc) -> str:
    """A short reason for a transport error, without the request body."""
    inner = getattr(exc, 'reason', None)
    return str(inner or exc or exc.__class__.__name__)


# --------------------------------------------------------------------------
# Resources: one object per collection, like ns5's NefProxy.
# --------------------------------------------------------------------------
class Collection:
    """Common verbs of a REST collection."""

    root = ''

    def __init__(self, http: Http):
        self.http = http

    def path(self, *parts) -> str:
        return '/'.join([self.root] + [quote(str(p), safe='') for p in parts])

    def list_all(self, path, filters=None) -> list:
        """Follow ``next`` cursors and return every item."""
        params = {k: v for k, v in (filters or {}).items() if v is not None}
        params['limit'] = LIST_PAGE_SIZE
        items = []
        while True:
            page = self.http.request('GET', path, params=params)
            items.extend(page['items'])
            if not page.get('next'):
                return items
            params['cursor'] = page['next']

    def find_one(self, path, filters):
        """One request, at most one match: the filters include a name.

        A missing or empty name is refused (``Invalid``, nothing is asked):
        without it the appliance would answer with the first object of the
        collection, which no caller means.
        """
        if not filters.get('name') or not isinstance(filters['name'], str):
            raise Invalid(f"a lookup by name needs a name, got {filters.get('name')!r}")
        params = dict(filters, limit=1)
        items = self.http.request('GET', path, params=params)['items']
        return items[0] if items else None

    def delete_path(self, path, params=None) -> bool:
        """Delete; an object that is already gone is success (False)."""
        try:
            self.http.request('DELETE', path, params=params)
        except NotFound:
            return False
        return True

    def create_path(self, path, body, adopt):
        """POST a create; safe to repeat thanks to ``adopt``.

        POST is not retried by the transport. A create retried after a
        dropped connection or BUSY may find its own first attempt done:
        ``adopt(error)`` returns that object or raises.
        """
        attempt = 0
        while True:
            try:
                return self.http.request('POST', path, body)
            except AlreadyExists as error:
                return adopt(error)
            except (Busy, ConnectionFailed) as error:
                attempt += 1
                if attempt > self.http.retries:
                    raise
                _sleep(retry_delay(getattr(error, 'retry_after', None), attempt,
                                   self.http.backoff, self.http.retry_after_max))


def existing_id(error):
    """The id of the object an ``ALREADY_EXISTS`` names.

    A conflict whose details do not name it (an older appliance, a proxy)
    cannot be adopted: the typed error itself is raised, with its status and
    request id.
    """
    details = error.details if isinstance(error.details, dict) else {}
    if not details.get('id'):
        raise error
    return details['id']


class System(Collection):
    root = '/system'

    def get(self) -> dict:
        return self.http.request('GET', self.root)


class Pools(Collection):
    root = '/pools'

    def list(self) -> list:
        return self.list_all(self.root)

    def get(self, name) -> dict:
        return self.http.request('GET', self.path(name))


class Shares(Collection):
    root = '/shares'

    def create(self, name, pool, quota_bytes=None, origin_snapshot_id=None,
               nfs=None, root=None) -> dict:
        """Create (or adopt) a share; ``root`` is ``{"uid", "gid", "mode"}`` (v1.1)."""
        body = {'name': name, 'pool': pool}
        optional = {'quota_bytes': quota_bytes,
                    'origin_snapshot_id': origin_snapshot_id, 'nfs': nfs,
                    'root': root}
        body.update({k: v for k, v in optional.items() if v is not None})
        return self.create_path(self.root, body,
                                lambda error: self._adopt(error, body))

    def _adopt(self, error, body):
        existing = self.get(existing_id(error))
        if not same_share(existing, body):
            raise error
        LOG.debug('adopting existing share %s (%s)', existing['id'],
                  existing['name'])
        return existing

    def get(self, share_id) -> dict:
        return self.http.request('GET', self.path(share_id))

    def find(self, name, pool=None):
        """The share with this exact name (in ``pool``), or None."""
        filters = {'name': name}
        if pool is not None:
            filters['pool'] = pool
        return self.find_one(self.root, filters)

    def list(self, name=None, pool=None, origin_snapshot_id=None) -> list:
        return self.list_all(self.root, {
            'name': name, 'pool': pool,
            'origin_snapshot_id': origin_snapshot_id})

    def update(self, share_id, quota_bytes=None, name=None, root=None) -> dict:
        body = {k: v for k, v in (('quota_bytes', quota_bytes), ('name', name),
                                  ('root', root)) if v is not None}
        return self.http.request('PATCH', self.path(share_id), body)

    def delete(self, share_id, recursive=False) -> bool:
        params = {'recursive': 'true'} if recursive else None
        return self.delete_path(self.path(share_id), params)

    def promote(self, share_id) -> dict:
        return self.http.request('POST', self.path(share_id, 'promote'))

    def get_nfs(self, share_id) -> dict:
        return self.http.request('GET', self.path(share_id, 'nfs'))

    def set_nfs(self, share_id, enabled, rules=None) -> dict:
        body = {'enabled': enabled, 'rules': list(rules or [])}
        return self.http.request('PUT', self.path(share_id, 'nfs'), body)


def same_share(existing, body) -> bool:
    """Whether an existing share is what a create ``body`` asked for."""
    if existing['pool'] != body['pool']:
        return False
    if existing.get('origin_snapshot_id') != body.get('origin_snapshot_id'):
        return False
    wanted_quota = body.get('quota_bytes')
    if wanted_quota and existing.get('quota_bytes') != round_quota(wanted_quota):
        return False
    wanted_root = body.get('root')
    if wanted_root is not None and not same_root(existing.get('root'), wanted_root):
        return False
    wanted_nfs = body.get('nfs')
    return wanted_nfs is None or same_nfs(existing.get('nfs'), wanted_nfs)


DEFAULT_ROOT = {'uid': 0, 'gid': 0, 'mode': '0755'}


def normalize_root(root) -> tuple:
    """``(uid, gid, mode)`` of a share root, the contract's defaults filled in."""
    root = dict(DEFAULT_ROOT, **(root or {}))
    mode = root['mode']
    if not isinstance(mode, int):
        mode = int(str(mode), 8)
    return int(root['uid']), int(root['gid']), mode


def same_root(current, wanted) -> bool:
    return normalize_root(current) == normalize_root(wanted)


def normalize_rule(rule) -> dict:
    return {'clients': rule['clients'], 'access': rule.get('access', 'rw'),
            'root_squash': bool(rule.get('root_squash', True))}


def same_nfs(current, wanted) -> bool:
    current = current or {'enabled': False, 'rules': []}
    rules = sorted((normalize_rule(r) for r in current.get('rules', [])),
                   key=lambda r: r['clients'])
    wanted_rules = sorted((normalize_rule(r) for r in wanted.get('rules', [])),
                          key=lambda r: r['clients'])
    return (bool(current.get('enabled')) == bool(wanted.get('enabled'))
            and rules == wanted_rules)


class Snapshots(Collection):
    root = '/shares'

    def create(self, share_id, name) -> dict:
        path = self.path(share_id, 'snapshots')
        return self.create_path(path, {'name': name},
                                lambda error: self._adopt(error, share_id))

    def _adopt(self, error, share_id):
        existing = self.get(existing_id(error))
        if existing['share_id'] != share_id:
            raise error
        return existing

    def update(self, share_id, snapshot_id, name) -> dict:
        """Rename; renaming to the current name is a no-op (our v1.1 extension)."""
        return self.http.request(
            'PATCH', self.path(share_id, 'snapshots', snapshot_id), {'name': name})

    def get(self, snapshot_id) -> dict:
        return self.http.request(
            'GET', '/snapshots/{}'.format(quote(str(snapshot_id), safe='')))

    def find(self, share_id, name):
        return self.find_one(self.path(share_id, 'snapshots'), {'name': name})

    def list(self, share_id, name=None) -> list:
        return self.list_all(self.path(share_id, 'snapshots'), {'name': name})

    def delete(self, share_id, snapshot_id) -> bool:
        return self.delete_path(self.path(share_id, 'snapshots', snapshot_id))

    def rollback(self, share_id, snapshot_id, destroy_newer=False):
        body = {'destroy_newer': True} if destroy_newer else None
        return self.http.request(
            'POST', self.path(share_id, 'snapshots', snapshot_id, 'rollback'),
            body)


class AcmeClient:
    """Entry point: ``AcmeClient(url, user, password).shares.find('vol1')``."""

    def __init__(self, url, username, password, verify=True,
                 timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES,
                 backoff=DEFAULT_BACKOFF,
                 retry_after_max=DEFAULT_RETRY_AFTER_MAX):
        self.http = Http(url, username, password, verify=verify,
                         timeout=timeout, retries=retries, backoff=backoff,
                         retry_after_max=retry_after_max)
        self.system = System(self.http)
        self.pools = Pools(self.http)
        self.shares = Shares(self.http)
        self.snapshots = Snapshots(self.http)

    def __repr__(self):
        return f'<AcmeClient {self.http.base_url} as {self.http.username}>'

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.logout()

    def logout(self) -> None:
        """Revoke this client's token on the appliance (the next call logs in again)."""
        self.http.logout()

    @classmethod
    def from_params(cls, params) -> AcmeClient:
        """Build from the Ansible modules' connection options."""
        verify = params.get('validate_certs', True)
        if verify and params.get('ca_path'):
            verify = params['ca_path']
        timeout = params.get('timeout') or DEFAULT_TIMEOUT[1]
        retry_after_max = params.get('retry_after_max')
        if retry_after_max is None:
            retry_after_max = DEFAULT_RETRY_AFTER_MAX
        retries = params.get('retries')
        if retries is None:
            retries = DEFAULT_RETRIES
        return cls(params['appliance_url'], params['username'],
                   params['password'], verify=verify,
                   timeout=(min(10.0, timeout), float(timeout)),
                   retries=retries, retry_after_max=retry_after_max)
