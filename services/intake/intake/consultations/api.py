"""Consultations over HTTP: ask for advice, record it, read it back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from intake.consultations import service
from intake.consultations.api_models import ConsultationAdviceIn, ConsultationIn, ConsultationView
from intake.errors import refusals_as_problems
from intake.roles import HubStaff, IdempotencyKey, Reader
from mashcore.auth import Principal, Role
from mashcore.problems import ProblemHTTPException, problem_responses
from mashcore.ratelimit import rate_limited
from mashcore.service import Context, ServiceContext


async def _professional_or_hub(principal: Reader) -> Principal:
    """A partner agency's professional, or hub staff recording a phone consultation."""
    if principal.role == Role.REFERRER and principal.agency == "public":
        raise ProblemHTTPException(
            403, detail="A request for consultation is for professionals: a member of the "
            "public can make a referral through the hub.")
    return principal


Consulter = Annotated[Principal, Depends(_professional_or_hub)]


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """Routes for consultations."""
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
        return service.submit_consultation(ctx, principal, body, idempotency_key)

    @consultations.post("/consultations/{consultation_id}/advice",
                        response_model=ConsultationView, responses=problem_responses(409))
    def record_consultation_advice(
        consultation_id: str, body: ConsultationAdviceIn, ctx: Context, principal: HubStaff,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Record the advice given on a consultation (hub staff); recorded once."""
        with refusals_as_problems():
            return service.record_advice(ctx, principal, consultation_id, body,
                                         idempotency_key)

    @consultations.get("/consultations/{consultation_id}", response_model=ConsultationView)
    def get_consultation(
        consultation_id: str, ctx: Context, principal: Reader
    ) -> ConsultationView:
        """One consultation and its advice, to the agency that asked or the hub."""
        return service.get_consultation(ctx, principal, consultation_id)

    return [consultations]
