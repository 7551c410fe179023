"""Intake's REST API for the front-door requests that are not contacts: consultations, transfers in.

The handlers and models are in ``intake.contact_types``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse

from intake import contact_types
from intake.contact_types import (
    TRANSFERRING_AGENCY,
    ConsultationAdviceIn,
    ConsultationIn,
    ConsultationView,
    TransferDecisionIn,
    TransferInIn,
    TransferInView,
)
from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import ProblemHTTPException, problem_responses
from mashcore.ratelimit import rate_limited
from mashcore.service import Context, ServiceContext

Hub = Annotated[
    Principal, Depends(require_roles(Role.INFORMATION_OFFICER, Role.TEAM_MANAGER))
]
TeamManager = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER))]
Reader = Annotated[
    Principal,
    Depends(require_roles(Role.REFERRER, Role.INFORMATION_OFFICER, Role.TEAM_MANAGER)),
]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]


async def _professional_or_hub(principal: Reader) -> Principal:
    """A partner agency's professional, or hub staff recording a phone consultation."""
    if principal.role == Role.REFERRER and principal.agency == "public":
        raise ProblemHTTPException(
            403, detail="A request for consultation is for professionals: a member of the "
            "public can make a referral through the hub.")
    return principal


async def _transferring_authority_or_hub(principal: Reader) -> Principal:
    """Another authority's system (agency local_authority), or hub staff."""
    if principal.role == Role.REFERRER and principal.agency != TRANSFERRING_AGENCY:
        raise ProblemHTTPException(
            403, detail=f"Only another authority's system (agency {TRANSFERRING_AGENCY}) or "
            "hub staff can send a transfer-in.")
    return principal


Consulter = Annotated[Principal, Depends(_professional_or_hub)]
TransferSender = Annotated[Principal, Depends(_transferring_authority_or_hub)]


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """Routes for consultations and transfers in."""
    consultations = APIRouter(prefix="/v1", tags=["consultations"],
                              responses=problem_responses())

    @consultations.post("/consultations", status_code=201, response_model=ConsultationView,
                        dependencies=[Depends(rate_limited())],
                        responses=problem_responses(429))
    def submit_consultation(
        body: ConsultationIn, ctx: Context, principal: Consulter,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Ask the hub for advice without making a referral (a request for consultation).

        It goes on the confidential consultation log: it is not a contact, gets no case
        reference and is not recorded on any child's record. Retry safely with the same
        `Idempotency-Key`.
        """
        return contact_types.submit_consultation(ctx, principal, body, idempotency_key)

    @consultations.post("/consultations/{consultation_id}/advice",
                        response_model=ConsultationView, responses=problem_responses(409))
    def record_consultation_advice(
        consultation_id: str, body: ConsultationAdviceIn, ctx: Context, principal: Hub,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Record the advice given on a consultation (hub staff); recorded once."""
        return contact_types.record_advice(ctx, principal, consultation_id, body,
                                           idempotency_key)

    @consultations.get("/consultations/{consultation_id}", response_model=ConsultationView)
    def get_consultation(
        consultation_id: str, ctx: Context, principal: Reader
    ) -> ConsultationView:
        """One consultation and its advice, to the agency that asked or the hub."""
        return contact_types.get_consultation(ctx, principal, consultation_id)

    transfers = APIRouter(prefix="/v1", tags=["transfers-in"], responses=problem_responses())

    @transfers.post("/transfers-in", status_code=201, response_model=TransferInView,
                    dependencies=[Depends(rate_limited())], responses=problem_responses(429))
    def submit_transfer_in(
        body: TransferInIn, ctx: Context, principal: TransferSender,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Send a family's transfer in under a child protection plan (form SOC 1233).

        It gets a case reference; a team manager then decides whether the transfer is
        permanent or temporary. Retry safely with the same `Idempotency-Key`.
        """
        return contact_types.submit_transfer_in(ctx, principal, body, idempotency_key)

    @transfers.post("/transfers-in/{transfer_id}/decision", response_model=TransferInView,
                    responses=problem_responses(409))
    def decide_transfer_in(
        transfer_id: str, body: TransferDecisionIn, ctx: Context, principal: TeamManager,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """The team manager decides: permanent (a transfer-in conference is needed),
        temporary, or disputed (managers escalate; decide again once resolved)."""
        return contact_types.decide_transfer_in(ctx, principal, transfer_id, body,
                                                idempotency_key)

    @transfers.get("/transfers-in/{transfer_id}", response_model=TransferInView)
    def get_transfer_in(transfer_id: str, ctx: Context, principal: Reader) -> TransferInView:
        """One transfer-in, to the hub or the authority's system that sent it."""
        return contact_types.get_transfer_in(ctx, principal, transfer_id)

    return [consultations, transfers]
