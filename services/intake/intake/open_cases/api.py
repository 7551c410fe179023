"""The open-case index over HTTP: its loader, one case or in bulk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from intake.open_cases import service
from intake.open_cases.api_models import (
    CASE_REFERENCE_PATTERN,
    OpenCaseIn,
    OpenCasesBulkIn,
    OpenCasesBulkStored,
    OpenCaseStored,
)
from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import problem_responses
from mashcore.service import Context, ServiceContext

Loader = Annotated[Principal, Depends(require_roles(Role.SERVICE, Role.TEAM_MANAGER))]
"""The local authority's case management system (a service account), or a team manager."""
CaseReferencePath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=CASE_REFERENCE_PATTERN,
              description="The case's reference (MASH or the case management system's).")
]


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """The open-case index loader."""
    index = APIRouter(prefix="/v1", tags=["open cases"], responses=problem_responses())

    @index.put(
        "/open-cases/{case_reference}", response_model=OpenCaseStored,
        responses={201: {"model": OpenCaseStored, "description": "The case was new."},
                   **problem_responses(409)},
    )
    def put_open_case(case_reference: CaseReferencePath, body: OpenCaseIn, ctx: Context,
                      principal: Loader) -> JSONResponse:
        """Create or replace one case in intake's index of open cases (idempotent).

        For the case management system: each case whose child intake should recognise, open
        or closed, with its allocated social worker and manager. 201 when the case was new,
        200 otherwise (`outcome` says whether anything changed). Audited as a write.
        """
        stored = service.put_open_case(ctx, principal, case_reference, body)
        return JSONResponse(stored.model_dump(mode="json"),
                            status_code=201 if stored.outcome == "created" else 200)

    @index.post("/open-cases:bulk", response_model=OpenCasesBulkStored,
                responses=problem_responses(409))
    def load_open_cases(body: OpenCasesBulkIn, ctx: Context,
                        principal: Loader) -> OpenCasesBulkStored:
        """Create or replace up to 500 cases at once: all are stored, or none.

        For loading the existing cases when intake starts using the index, and for periodic
        reconciliation. Idempotent; every case written is audited.
        """
        return service.load_open_cases(ctx, principal, body)

    return [index]
