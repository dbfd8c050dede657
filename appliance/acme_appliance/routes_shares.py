"""Shares, their NFS settings and promote."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from acme_appliance import shares
from acme_appliance.auth import require_token
from acme_appliance.deps import DEFAULT_PAGE, ApplianceDep, Cursor, Limit, NameFilter
from acme_appliance.docs import error_responses
from acme_appliance.models import NfsSettings, Share, ShareCreate, ShareList, ShareUpdate
from acme_appliance.views import nfs_view, share_view
from acme_appliance.strict_json import StrictJsonRoute

router = APIRouter(route_class=StrictJsonRoute, dependencies=[Depends(require_token)],
                   responses=error_responses("UNAUTHORIZED", "INVALID"))


@router.post("/shares", status_code=201, response_model=Share, tags=["shares"],
             responses=error_responses("NOT_FOUND", "FORBIDDEN", "ALREADY_EXISTS", "NO_SPACE",
                                       "BUSY"))
def create_share(body: ShareCreate, appliance: ApplianceDep) -> Share:
    """Create a share; with `origin_snapshot_id` a clone holding the snapshot's files.

    With `nfs.enabled` the share is exported when the call answers; 503 BUSY when nfs-ganesha
    does not apply the export, and then no share was created."""
    return share_view(appliance, shares.create_share(appliance, body))


@router.get("/shares", response_model=ShareList, tags=["shares"])
def list_shares(
    appliance: ApplianceDep,
    name: NameFilter = None,
    pool: NameFilter = None,
    origin_snapshot_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> ShareList:
    """List shares in creation order; filters are exact matches (name lookups are indexed)."""
    filters = {"name": name, "pool": pool, "origin_snapshot_id": origin_snapshot_id}
    rows, next_page = shares.list_shares(appliance, filters, cursor, limit)
    return ShareList(items=[share_view(appliance, row) for row in rows], next=next_page)


@router.get("/shares/{share_id}", response_model=Share, tags=["shares"],
            responses=error_responses("NOT_FOUND"))
def get_share(share_id: str, appliance: ApplianceDep) -> Share:
    """One share; its used bytes and root ownership are measured afresh."""
    return share_view(appliance, shares.get_share(appliance, share_id))


@router.patch("/shares/{share_id}", response_model=Share, tags=["shares"],
              responses=error_responses("NOT_FOUND", "FORBIDDEN", "ALREADY_EXISTS", "NO_SPACE",
                                        "BUSY"))
def update_share(share_id: str, body: ShareUpdate, appliance: ApplianceDep) -> Share:
    """Resize (not below used), rename, and/or set the root directory's owner and mode.

    An exported share is served under its new path when a rename answers; 503 BUSY when
    nfs-ganesha does not apply it, and then nothing changed."""
    return share_view(appliance, shares.update_share(appliance, share_id, body))


@router.delete("/shares/{share_id}", status_code=204, response_class=Response, tags=["shares"],
               responses=error_responses("NOT_FOUND", "IN_USE", "BUSY"))
def delete_share(share_id: str, appliance: ApplianceDep,
                 recursive: Annotated[bool, Query()] = False) -> Response:
    """Delete a share (`recursive=true`: and its snapshots, unless they have clones).

    Its export is gone when the call answers; 503 BUSY when nfs-ganesha does not apply that,
    and then nothing was deleted."""
    shares.delete_share(appliance, share_id, recursive)
    return Response(status_code=204)


@router.post("/shares/{share_id}/promote", response_model=Share, tags=["shares"],
             responses=error_responses("NOT_FOUND", "ALREADY_EXISTS", "BUSY"))
def promote_share(share_id: str, appliance: ApplianceDep) -> Share:
    """Make a clone take over its origin snapshot and the older ones (ZFS promote)."""
    return share_view(appliance, shares.promote_share(appliance, share_id))


@router.get("/shares/{share_id}/nfs", response_model=NfsSettings, tags=["nfs"],
            responses=error_responses("NOT_FOUND"))
def get_nfs(share_id: str, appliance: ApplianceDep) -> NfsSettings:
    """The share's NFS settings."""
    return nfs_view(appliance.share(share_id))


@router.put("/shares/{share_id}/nfs", response_model=NfsSettings, tags=["nfs"],
            responses=error_responses("NOT_FOUND", "BUSY"))
def put_nfs(share_id: str, body: NfsSettings, appliance: ApplianceDep) -> NfsSettings:
    """Replace the NFS settings; nfs-ganesha serves them when the call answers.

    503 BUSY when nfs-ganesha does not apply them, and then the settings are unchanged: what
    GET reports is what nfs-ganesha serves."""
    return nfs_view(shares.set_nfs(appliance, share_id, body))
