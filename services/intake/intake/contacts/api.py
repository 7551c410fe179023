"""Intake's REST API for partner agency systems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse

from intake.contacts import service
from intake.contacts.api_models import ContactAccepted, ContactView, LockDownIn, ReferralIn
from intake.errors import refusals_as_problems
from intake.roles import HubStaff, Reader, TeamManager
from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import problem_responses
from mashcore.ratelimit import rate_limited
from mashcore.service import Context, ServiceContext

# Partner agency systems post their own referrals; a hub information officer records one
# phoned in by a member of the public (its referrer is then agency `public`).
Referrer = Annotated[
    Principal, Depends(require_roles(Role.REFERRER, Role.INFORMATION_OFFICER))
]


def router(_ctx: ServiceContext) -> list[APIRouter]:
    """Intake's routes."""
    api = APIRouter(prefix="/v1", tags=["contacts"], responses=problem_responses())

    @api.post("/contacts", status_code=202, response_model=ContactAccepted,
              dependencies=[Depends(rate_limited())],
              responses=problem_responses(429))
    def submit_contact(
        body: ReferralIn,
        ctx: Context,
        principal: Referrer,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
        ] = None,
    ) -> JSONResponse:
        """Submit a contact or referral. Retry safely with the same `Idempotency-Key`."""
        return service.submit_contact(ctx, principal, body, idempotency_key)

    @api.get("/contacts/{contact_id}", response_model=ContactView)
    def get_contact(contact_id: str, ctx: Context, principal: Reader) -> ContactView:
        """One contact: its case reference and status."""
        return service.get_contact(ctx, principal, contact_id)

    @api.post("/contacts/{contact_id}/lock-down")
    def lock_down(contact_id: str, body: LockDownIn, ctx: Context,
                  principal: TeamManager) -> dict[str, Any]:
        """Restrict a record to named users; every other read is refused (and audited)."""
        return service.lock_down(ctx, principal, contact_id, body)

    @api.post("/contacts/{contact_id}/forward", responses=problem_responses(409))
    def forward(contact_id: str, ctx: Context, principal: HubStaff) -> dict[str, Any]:
        """Send the contact to the open case's allocated worker as a case note."""
        with refusals_as_problems():
            return service.forward(ctx, principal, contact_id)

    @api.get("/contacts")
    def list_contacts(
        ctx: Context, principal: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> list[dict[str, Any]]:
        """Your agency's contacts, newest first."""
        return service.list_contacts(ctx, principal, limit)

    return [api]
