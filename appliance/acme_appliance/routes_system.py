"""GET /system, /health and the pools."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from acme_appliance import __version__
from acme_appliance.auth import require_token
from acme_appliance.deps import DEFAULT_PAGE, ApplianceDep, Cursor, Limit
from acme_appliance.docs import error_responses
from acme_appliance.errors import not_found
from acme_appliance.models import Health, Pool, PoolList, System
from acme_appliance.pagination import decode_cursor, next_cursor
from acme_appliance.views import pool_view

VENDOR = "ACME STORAGE, Inc"
public = APIRouter(tags=["system"])
router = APIRouter(tags=["system"], dependencies=[Depends(require_token)],
                   responses=error_responses("UNAUTHORIZED", "INVALID"))


@public.get("/health", response_model=Health)
def health() -> Health:
    """Liveness probe, no token needed."""
    return Health()


@router.get("/system", response_model=System)
def system(appliance: ApplianceDep) -> System:
    """Who the appliance is."""
    return System(vendor=VENDOR, model=appliance.config.model, version=__version__,
                  api_version="1", exports_pending=appliance.exports.pending)


@router.get("/pools", response_model=PoolList)
def list_pools(appliance: ApplianceDep, limit: Limit = DEFAULT_PAGE,
               cursor: Cursor = None) -> PoolList:
    """The configured pools with their usage (one aggregate query)."""
    usage = appliance.pools_usage()
    start = decode_cursor(cursor)
    names = list(appliance.config.pools)[start:start + limit + 1]
    items = [pool_view(name, appliance.config.pools[name], usage[name]) for name in names[:limit]]
    seqs = [start + index + 1 for index in range(len(names))]
    return PoolList(items=items, next=next_cursor(seqs, limit))


@router.get("/pools/{name}", response_model=Pool, responses=error_responses("NOT_FOUND"))
def get_pool(name: str, appliance: ApplianceDep) -> Pool:
    """One pool."""
    if name not in appliance.config.pools:
        raise not_found("pool", name)
    return pool_view(name, appliance.config.pools[name], appliance.pool_usage(name))
