"""Transfers in over HTTP: send a transfer form, decide it, read it back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from intake.errors import refusals_as_problems
from intake.roles import IdempotencyKey, Reader, TeamManager
from intake.transfers_in import service
from intake.transfers_in.api_models import (
    TRANSFERRING_AGENCY,
    TransferDecisionIn,
    TransferInIn,
    TransferInView,
)
from mashcore.auth import Principal, Role
from mashcore.problems import ProblemHTTPException, problem_responses
from mashcore.ratelimit import rate_limited
from mashcore.service import Context, ServiceContext


async def _transferring_authority_or_hub(principal: Reader) -> Principal:
    """Another authority's system (agency local_authority), or hub staff."""
    if principal.role == Role.REFERRER and principal.agency != TRANSFERRING_AGENCY:
        raise ProblemHTTPException(
            403, detail=f"Only another authority's system (agency {TRANSFERRING_AGENCY}) or "
            "hub staff can send a transfer-in.")
    return principal


TransferSender = Annotated[Principal, Depends(_transferring_authority_or_hub)]


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """Routes for transfers in."""
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
        return service.submit_transfer_in(ctx, principal, body, idempotency_key)

    @transfers.post("/transfers-in/{transfer_id}/decision", response_model=TransferInView,
                    responses=problem_responses(409))
    def decide_transfer_in(
        transfer_id: str, body: TransferDecisionIn, ctx: Context, principal: TeamManager,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """The team manager decides: permanent (a transfer-in conference is needed),
        temporary, or disputed (managers escalate; decide again once resolved)."""
        with refusals_as_problems():
            return service.decide_transfer_in(ctx, principal, transfer_id, body,
                                              idempotency_key)

    @transfers.get("/transfers-in/{transfer_id}", response_model=TransferInView)
    def get_transfer_in(transfer_id: str, ctx: Context, principal: Reader) -> TransferInView:
        """One transfer-in, to the hub or the authority's system that sent it."""
        return service.get_transfer_in(ctx, principal, transfer_id)

    return [transfers]
