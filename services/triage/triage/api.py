"""Triage's REST API for information officers and team managers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import problem_responses
from mashcore.service import Context, ServiceContext
from triage import handlers

HubStaff = Annotated[
    Principal, Depends(require_roles(Role.INFORMATION_OFFICER, Role.TEAM_MANAGER))
]


def router(_ctx: ServiceContext) -> list[APIRouter]:
    """Triage's routes."""
    api = APIRouter(prefix="/v1", tags=["cases"], responses=problem_responses())

    @api.get("/cases")
    def list_cases(
        ctx: Context,
        principal: HubStaff,
        status: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        """Your partnership's queue: cases ordered by threshold-decision deadline."""
        return handlers.list_cases(ctx, principal, status, limit)

    @api.get("/cases/{case_reference}")
    def get_case(case_reference: str, ctx: Context, principal: HubStaff) -> dict[str, Any]:
        """One case, with what the referrer told us about the children."""
        return handlers.get_case(ctx, principal, case_reference)

    return [api]
