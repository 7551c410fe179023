"""Requests for checks over HTTP."""

from __future__ import annotations

from fastapi import APIRouter

from intake.checks import service
from intake.checks.api_models import CheckAnswer, CheckRequestIn
from intake.roles import HubStaff
from mashcore.problems import problem_responses
from mashcore.service import Context, ServiceContext


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """Requests for checks."""
    requests = APIRouter(prefix="/v1", tags=["checks"], responses=problem_responses())

    @requests.post("/checks", response_model=CheckAnswer)
    def answer_check(body: CheckRequestIn, ctx: Context, principal: HubStaff) -> CheckAnswer:
        """Answer a request for checks from a listed professional body (not a contact).

        Record it only after validating the caller's identity (call back via the switchboard
        if in doubt) and their active involvement with the child. The answer holds only the
        four permitted facts: whether the child is known, whether the case is open or closed,
        the allocated social worker and manager, and whether each sibling's case is open.
        Anything more needs a written request authorised by a team manager. No contact or
        case reference is created; the read is audited.
        """
        return service.answer_check(ctx, principal, body)

    return [requests]
