"""The OpenAPI description: the contract's conventions and every decision the simulator made."""

from __future__ import annotations

from typing import Any

from acme_appliance.errors import STATUS_OF_CODE
from acme_appliance.models import ErrorBody

DESCRIPTION = """
ACME NAS appliance REST API, version 1, as implemented by the acme.nas simulator.
Base URL `https://HOST:8443/api/v1` (plain HTTP only with `--insecure-http`). JSON in and out.
Every response, errors included, carries `X-Request-Id` (a fresh uuid4).

## Conventions (the contract)
- Sizes are bytes, times RFC 3339 UTC, ids UUIDs chosen by the appliance.
- Names: 1-64 characters of `[A-Za-z0-9_.-]`, not starting with `.` or `-`; anything else is 422.
- Errors: `{"code", "message", "details"}` with `UNAUTHORIZED` 401, `FORBIDDEN` 403,
  `NOT_FOUND` 404, `ALREADY_EXISTS` 409 (`details.id` is the existing object), `IN_USE` 409
  (details list the dependent objects), `INVALID` 422, `NO_SPACE` 507, `BUSY` 503 (always with
  `Retry-After`), `INTERNAL` 500. Request validation errors are 422 `INVALID` with
  `details.errors`; so is a body that is not JSON at all (not UTF-8, nested too deeply, a number
  too long to parse). Unknown routes are 404 `NOT_FOUND`; a wrong method is 405 `INVALID` with
  an `Allow` header listing the methods the path serves.
- Lists: `{"items": [...], "next": cursor-or-null}`; `limit` (default 100, at most 1000, more is
  422) and the opaque `cursor` from `next` (at most 40 characters of `[A-Za-z0-9_-]`; any other
  or forged cursor is 422 `INVALID`). Items come in creation order.
- Every call is synchronous: a change, NFS exports included, has taken effect when it returns.

## Decisions where the contract is silent
- **Authentication**: `POST /auth/login` returns a bearer token valid for `expires_in` seconds
  (`--token-ttl`, default 3600). Missing, unknown, expired or revoked tokens are 401
  `UNAUTHORIZED`. `POST /auth/logout` revokes the call's token at once (204). Tokens survive a
  restart of the simulator only while their user keeps the password they were issued for: a
  token of a removed user or of a changed password is dropped at start. Unauthenticated: only
  `POST /auth/login`, `GET /health` (also `/health` outside `/api/v1`) and `GET /openapi.json`.
- **Login back-off**: after 5 failed logins for one user name from one source address, or 20 for
  one user name from all sources, or 20 from one source for all user names, the next attempt
  must wait 1 s, then 2, 4, ... up to 300 s after the last failure; meanwhile login is 401
  `UNAUTHORIZED` with `Retry-After` (and `details.retry_after`) even with the right password.
  Only distinct wrong passwords count: retrying the same wrong password is refused but guesses
  nothing new, so a client left with an old password does not lock out the right one on the
  same host. A source that has logged in as the user before is exempt from the two wider
  counts. A successful login resets the count of its user name and source; the wider counts
  start again after an hour without failures. Failures on other keys never clear a back-off.
  User names that are not configured (possibly a mistyped password) and passwords are never
  logged; the warning of a refused login gives the real count of failures.
- **Limits**: a request body over 1 MiB (1048576 bytes) is refused with 413 and code `INVALID`
  (`details.max_body_bytes`) before anything else runs, login included: at once when
  `Content-Length` says so, else as soon as the streamed body passes the limit. User names are
  at most 256 characters, passwords 1024; the schemas state every other limit (sizes are JSON
  integers up to 2^63-1, NFS rules at most 256 per share, `clients` at most 64 characters).
  At most 1000 connections are open at once, 100 from one client address, and never more than
  half the descriptors the process may open (more are closed at once); a TLS handshake must end
  within 10 s, and a request head arrive within 10 s of the connection (or of the previous
  response on a kept-alive one), else the connection is closed; a body must arrive within 30 s
  of its head, else 408 `INVALID` (`details.body_timeout_seconds`) and the connection is
  closed. Idle kept-alive connections are closed after 5 s. The fault plan holds at most 64
  faults.
- **Full data file system**: NFS clients can fill the data file system (quotas are accounted,
  not enforced). Then every call that must write state (logins included) is 507 `NO_SPACE`
  instead of failing (reads still answer), the simulator still starts (its supervisor keeps
  1 MiB in reserve there and gives it back at each start), and its log loses whole records only
  (it says how many once there is space again). The log rotates at 10 MiB, 5 files kept; a warning
  of one kind is logged at most 10 times a minute, then it says how many were left out.
- **Used bytes**: a share deeper than the simulator walks (a few thousand levels) counts the
  levels walked, and `used_bytes_complete` is false until it is walked whole again.
- **Name scope**: share names are unique per pool, snapshot names unique per share.
- **Share path**: `path` is `/<pool>/<name>` (the NFS pseudo path; it follows a rename). On disk a
  share lives at `<data-dir>/shares/<share-id>/`, a snapshot at `<data-dir>/snapshots/<id>/`;
  directory names never come from user input, so no request reaches outside the data root.
- **Exports**: `exports` always lists `ADDR:/<pool>/<name>`, ADDR being the data address
  (`--nfs-address`, IPv6 in brackets). It can be mounted only while `nfs.enabled` is true, and only
  from the clients of `nfs.rules` (an enabled share with no rules is exported to no client).
  `nfs` defaults to `{"enabled": false, "rules": []}`; a rule's `root_squash` defaults to true;
  `clients` is one IPv4/IPv6 address, a CIDR network or `*`, each at most once per share.
  `PUT /shares/{id}/nfs` replaces the whole setting. If the NFS server cannot apply the exports
  the call is 503 `BUSY` (the state is saved and applied again by the next change or retry).
- **Quotas**: `quota_bytes` is rounded up to a multiple of 1 MiB and returned rounded; absent,
  null or 0 means no quota (0 in responses). Quotas may over-commit a pool (thin provisioning),
  but a quota larger than the pool's total size is 507 `NO_SPACE`. Shrinking below the share's
  used bytes is 422 `INVALID`. Quotas are accounted, not enforced on NFS writes.
- **Used bytes**: allocated blocks (`st_blocks * 512`) of the files below the share or snapshot
  directory, hard links counted once; sparse files count only their data. Shares' values are
  cached and refreshed on `GET /shares/{id}`, on snapshot/rollback and periodically.
- **Pools** are configured on the command line (`--pool NAME:SIZE`). `used_bytes` is the sum of
  the used bytes of the pool's shares and snapshots, `free_bytes = total_bytes - used_bytes`
  (never negative), `provisioned_bytes` the sum of quotas. An unknown pool is 404 `NOT_FOUND`.
  A snapshot or clone whose data does not fit in the pool's free bytes is 507 `NO_SPACE`.
- **Clones**: `POST /shares` with `origin_snapshot_id` makes a share that starts with the
  snapshot's files (reflinked where the file system can, else copied with holes kept). The clone
  must be in the snapshot's pool (else 422); without `quota_bytes` it inherits the origin share's
  quota. An unknown origin snapshot is 404 `NOT_FOUND`.
- **Root ownership** (contract v1.1): `root` `{"uid", "gid", "mode"}` is the owner, group and
  permission bits of the share's top directory, the directory nfs-ganesha exports, so it is what NFS
  clients see at the top of the export (chown + chmod on it; the state database records it, so it
  survives a restart). `uid`/`gid` are integers 0..2147483647; `mode` is a string of 3 octal digits
  or 4 with a leading `0` (`"770"` = `"0770"`); setuid, setgid and sticky bits are refused (422
  `INVALID`): a Cinder share needs none of them and a setgid top directory would silently change the
  group of every volume file. Responses always carry 4 digits. Unknown keys are 422. `POST /shares`:
  keys left out take the defaults uid 0, gid 0, mode `"0755"`; a clone without `root` keeps the root
  ownership and mode its snapshot recorded, with `root` the given keys replace the snapshot's.
  `PATCH /shares/{id}` with `root` changes only the given keys (the others keep their current value)
  and nothing else; `root: null` changes nothing. A snapshot records the share's root as it was on
  disk; a rollback restores it. `GET /shares/{id}` re-reads the directory, so a change an NFS client
  made (e.g. a chmod as root without root squash) shows up. A simulator running without root
  privileges defaults to its own uid/gid and answers 403 `FORBIDDEN` when asked for an owner it may
  not set.
- **Snapshot rename** (an extension): `PATCH /shares/{id}/snapshots/{sid}` `{"name"}` returns the
  snapshot object. It changes only the name: the id, the content, the clones and the rollback
  order (creation time) stay. 404 `NOT_FOUND` when the share or the snapshot does not exist or
  the snapshot belongs to another share; 409 `ALREADY_EXISTS` (`details.id` = the other snapshot)
  when another snapshot of the share has that name; 422 for an invalid name; renaming to the
  current name is 200 with no change.
- **Snapshots** are read-only point-in-time copies (holes kept) listed oldest first; `used_bytes`
  is the copy's allocated bytes. `GET /shares/{id}/snapshots/{sid}` also exists.
- **Delete share**: 409 `IN_USE` with `details.snapshots` while it has snapshots, unless
  `?recursive=true`; even then a snapshot with clones is never deleted: 409 `IN_USE` with
  `details.snapshots` and `details.clones`. Deleting a clone removes it from its origin
  snapshot's `clones`.
- **Delete snapshot**: 409 `IN_USE` with `details.clones` while clones depend on it.
- **Rollback** `POST /shares/{id}/snapshots/{sid}/rollback` with optional body
  `{"destroy_newer": bool}` returns the share object. Newer snapshots make it 409 `IN_USE` with
  `details.newer_snapshots`, unless `destroy_newer` is true; then they are destroyed, but if one
  of them has clones the call is 409 `IN_USE` (`details.snapshots`, `details.clones`) and nothing
  changes. The share's directory is replaced atomically and re-exported.
- **Promote** (ZFS-style) `POST /shares/{id}/promote` on clone C of snapshot S of share O moves S
  and every snapshot of O older than S (by `created_at`, ties by creation sequence) to C. C takes
  O's former origin (null unless O was itself a clone), O's `origin_snapshot_id` becomes S, and
  clones of the moved snapshots keep their origin ids (now pointing into C). O can then be
  deleted. Promoting a share that is not a clone is 422 `INVALID`; a snapshot name clash with C's
  own snapshots is 409 `ALREADY_EXISTS`. Returns the promoted share.
- **Trees inside a share** may be as deep and their paths as long as NFS clients make them:
  every walk (copy, usage, removal) is iterative and works relative to directory descriptors,
  so depth and PATH_MAX do not matter. A walk holds one descriptor per level (a copy two) and
  stops at the budget the process limit allows (at most 4096 levels): deeper, a snapshot, clone
  or rollback is 422 `INVALID` with `details.max_depth`, while `GET` keeps the last measured
  `used_bytes`. Running out of descriptors is 503 `BUSY`. Removal needs no walk: it moves
  subdirectories up into the trash one level at a time. Start-up repair and the periodic usage
  refresh log a step that fails and carry on with the next one.
- **Files of the appliance**: the data directory is 0700, `state.db` 0600 (its `-wal`/`-shm`
  files follow), the log file 0600 (a directory created for it 0700). Control characters in
  logged text (request paths, user names) are written as `\\xNN`, so no request can forge a
  log line.
- **Durability**: state is a sqlite database written in transactions. A share or snapshot
  directory is built under a temporary name and renamed into place after its row is committed;
  start-up finishes such renames and deletes every leftover, so a crash never leaves a half-made
  share visible. Calls on one share are serialised, calls on different shares run in parallel.
- **Unknown JSON fields** in request bodies are 422 `INVALID`.
- **Fault injection** (only with `--enable-faults`; with a token like every other call):
  `POST /_admin/faults` `{"method": "POST",
  "path": "/shares", "nth": 1, "times": 1, "action": "fail"|"delay"|"drop", "status": 503,
  "code": "BUSY", "message": "...", "retry_after": 1, "delay": 2.0, "when": "before"|"after"}`.
  `path` is a regular expression fullmatched against the path below `/api/v1`, cut down so that
  no match can run for long (no repeated groups, no alternation, backreferences or lookarounds,
  at most 2 repeats of variable length, at most 200 characters; paths over 1024 characters never
  match); `method` `*` matches any; `nth` counts matching calls from when the fault was added
  (1 = the next one); `times` is how many consecutive matching calls it hits. `fail` answers
  with `status`/`code` (one given fills the other; BUSY gets `Retry-After`), `delay` waits
  `delay` seconds, `drop` closes the connection with no response. `when: "after"` first runs
  the call, then fails, delays or drops its response. `GET` lists the faults with
  `seen`/`hits`, `DELETE` clears them.
"""

TAGS = [
    {"name": "auth", "description": "Login and tokens"},
    {"name": "system", "description": "Appliance identity, health and pools"},
    {"name": "shares", "description": "Shares (one per Cinder volume), clones, promote"},
    {"name": "nfs", "description": "NFS access of a share"},
    {"name": "snapshots", "description": "Snapshots of a share, rollback"},
    {"name": "admin", "description": "Fault injection (simulator only, for tests)"},
]


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given contract codes (INTERNAL is always possible)."""
    by_status: dict[int, list[str]] = {}
    for code in (*codes, "INTERNAL"):
        by_status.setdefault(STATUS_OF_CODE[code], []).append(code)
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": " or ".join(names)}
        for status, names in sorted(by_status.items())}
    if 503 in responses:
        responses[503]["headers"] = {"Retry-After": {
            "description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
    return responses
