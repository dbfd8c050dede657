"""Snapshots of a share, rollback, and lookup by id alone."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from acme_appliance import snapshots
from acme_appliance.auth import require_token
from acme_appliance.deps import DEFAULT_PAGE, ApplianceDep, Cursor, Limit, NameFilter
from acme_appliance.docs import error_responses
from acme_appliance.models import (
    RollbackRequest,
    Share,
    Snapshot,
    SnapshotCreate,
    SnapshotList,
    SnapshotUpdate,
)
from acme_appliance.views import share_view, snapshot_views
from acme_appliance.strict_json import StrictJsonRoute

router = APIRouter(tags=["snapshots"], dependencies=[Depends(require_token)],
                   responses=error_responses("UNAUTHORIZED", "INVALID", "NOT_FOUND"),
                   route_class=StrictJsonRoute)


@router.post("/shares/{share_id}/snapshots", status_code=201, response_model=Snapshot,
             responses=error_responses("ALREADY_EXISTS", "NO_SPACE"))
def create_snapshot(share_id: str, body: SnapshotCreate, appliance: ApplianceDep) -> Snapshot:
    """Take a read-only point-in-time copy of the share."""
    row = snapshots.create_snapshot(appliance, share_id, body.name)
    return snapshot_views(appliance, [row])[0]


@router.get("/shares/{share_id}/snapshots", response_model=SnapshotList)
def list_snapshots(share_id: str, appliance: ApplianceDep, name: NameFilter = None,
                   limit: Limit = DEFAULT_PAGE, cursor: Cursor = None) -> SnapshotList:
    """The share's snapshots, oldest first."""
    rows, next_page = snapshots.list_snapshots(appliance, share_id, name, cursor, limit)
    return SnapshotList(items=snapshot_views(appliance, rows), next=next_page)


@router.get("/shares/{share_id}/snapshots/{snapshot_id}", response_model=Snapshot)
def get_share_snapshot(share_id: str, snapshot_id: str, appliance: ApplianceDep) -> Snapshot:
    """One snapshot of the share."""
    return snapshot_views(appliance, [appliance.snapshot(snapshot_id, share_id)])[0]


@router.get("/snapshots/{snapshot_id}", response_model=Snapshot)
def get_snapshot(snapshot_id: str, appliance: ApplianceDep) -> Snapshot:
    """One snapshot, looked up by its id alone."""
    return snapshot_views(appliance, [appliance.snapshot(snapshot_id)])[0]


@router.patch("/shares/{share_id}/snapshots/{snapshot_id}", response_model=Snapshot,
              responses=error_responses("ALREADY_EXISTS"))
def rename_snapshot(share_id: str, snapshot_id: str, body: SnapshotUpdate,
                    appliance: ApplianceDep) -> Snapshot:
    """Rename; the id, content, clones and rollback order stay (same name: 200, no change)."""
    row = snapshots.rename_snapshot(appliance, share_id, snapshot_id, body.name)
    return snapshot_views(appliance, [row])[0]


@router.delete("/shares/{share_id}/snapshots/{snapshot_id}", status_code=204,
               response_class=Response, responses=error_responses("IN_USE"))
def delete_snapshot(share_id: str, snapshot_id: str, appliance: ApplianceDep) -> Response:
    """Delete a snapshot; 409 IN_USE while clones depend on it."""
    snapshots.delete_snapshot(appliance, share_id, snapshot_id)
    return Response(status_code=204)


@router.post("/shares/{share_id}/snapshots/{snapshot_id}/rollback", response_model=Share,
             responses=error_responses("IN_USE", "BUSY"))
def rollback(share_id: str, snapshot_id: str, appliance: ApplianceDep,
             body: RollbackRequest | None = None) -> Share:
    """Return the share's content to the snapshot (`destroy_newer` destroys newer snapshots)."""
    destroy_newer = body.destroy_newer if body else False
    return share_view(appliance, snapshots.rollback(appliance, share_id, snapshot_id,
                                                    destroy_newer))
