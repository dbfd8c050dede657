"""Shared route dependencies and query parameter types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from acme_appliance.config import NAME_PATTERN
from acme_appliance.context import Appliance
from acme_appliance.pagination import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT


def get_appliance(request: Request) -> Appliance:
    return request.app.state.appliance


ApplianceDep = Annotated[Appliance, Depends(get_appliance)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (at most 1000)")]
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN, max_length=40, description=(
    "The `next` value of the previous page (opaque; anything else is 422)"))]
NameFilter = Annotated[str | None, Query(pattern=NAME_PATTERN, description="Exact name")]
DEFAULT_PAGE = DEFAULT_LIMIT
