"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from acme_appliance import (
    __version__,
    routes_admin,
    routes_auth,
    routes_shares,
    routes_snapshots,
    routes_system,
)
from acme_appliance.auth import Authenticator
from acme_appliance.config import ApplianceConfig
from acme_appliance.context import open_appliance
from acme_appliance.docs import DESCRIPTION, TAGS
from acme_appliance.errors import install_error_handlers
from acme_appliance.faults import API_PREFIX, FaultMiddleware, FaultPlan
from acme_appliance.middleware import (
    BodyLimitMiddleware,
    BodyTimedOut,
    BodyTooLarge,
    RequestIdMiddleware,
    body_timed_out,
    body_too_large,
)
from acme_appliance.usage import UsageRefresher


def _api_router(config: ApplianceConfig) -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    for module in (routes_auth, routes_shares, routes_snapshots):
        api.include_router(module.router)
    api.include_router(routes_system.public)
    api.include_router(routes_system.router)
    if config.enable_faults:
        api.include_router(routes_admin.router)
    return api


def create_app(config: ApplianceConfig) -> FastAPI:
    """Open (and repair) the data directory and build the app serving the contract."""
    appliance = open_appliance(config)
    refresher = UsageRefresher(appliance, config.usage_refresh_interval)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        refresher.start()
        yield
        refresher.stop()

    app = FastAPI(title="ACME NAS appliance API", version=__version__, description=DESCRIPTION,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs",
                  redoc_url=None, openapi_tags=TAGS, lifespan=lifespan)
    app.state.appliance = appliance
    app.state.auth = Authenticator(appliance.store, config.users, config.token_ttl)
    app.state.faults = FaultPlan()
    app.state.refresher = refresher
    install_error_handlers(app)
    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(BodyTimedOut, body_timed_out)
    app.include_router(_api_router(config))
    app.include_router(routes_system.public)
    if config.enable_faults:
        app.add_middleware(FaultMiddleware, plan=app.state.faults)
    app.add_middleware(BodyLimitMiddleware, timeout=config.body_timeout)
    app.add_middleware(RequestIdMiddleware)
    return app
