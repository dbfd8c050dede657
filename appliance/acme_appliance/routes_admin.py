"""The fault plan admin endpoint (simulator only, `--enable-faults`, with a token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from acme_appliance.auth import require_token
from acme_appliance.docs import error_responses
from acme_appliance.errors import not_found
from acme_appliance.faults import FaultPlan
from acme_appliance.models import Fault, FaultCreate, FaultList
from acme_appliance.strict_json import StrictJsonRoute

router = APIRouter(prefix="/_admin/faults", tags=["admin"], dependencies=[Depends(require_token)],
                   responses=error_responses("UNAUTHORIZED", "INVALID"),
                   route_class=StrictJsonRoute)


def _plan(request: Request) -> FaultPlan:
    return request.app.state.faults


@router.post("", status_code=201, response_model=Fault)
def add_fault(body: FaultCreate, request: Request) -> Fault:
    """Add a fault to the plan; it holds at most 64 faults (422 INVALID beyond)."""
    return _plan(request).add(body)


@router.get("", response_model=FaultList)
def list_faults(request: Request) -> FaultList:
    """The faults with how many calls each has seen and hit."""
    return FaultList(items=_plan(request).list())


@router.delete("", status_code=204, response_class=Response)
def clear_faults(request: Request) -> Response:
    """Remove every fault."""
    _plan(request).clear()
    return Response(status_code=204)


@router.delete("/{fault_id}", status_code=204, response_class=Response,
               responses=error_responses("NOT_FOUND"))
def remove_fault(fault_id: str, request: Request) -> Response:
    """Remove one fault."""
    if not _plan(request).remove(fault_id):
        raise not_found("fault", fault_id)
    return Response(status_code=204)
