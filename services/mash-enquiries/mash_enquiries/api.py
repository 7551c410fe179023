"""The MASH enquiries API: navigators answer; team managers oversee and decide."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from mash_enquiries import access, navigators, oversight, performance
from mash_enquiries.api_models import (
    AnswerIn,
    CloseEarlyIn,
    DeclineIn,
    OutcomeIn,
    QueueEntryOut,
    RequestOut,
)
from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import invalid_fields, problem_responses
from mashcore.service import Context, ServiceContext
from mashcore.strict_types import IsoDateTime

Navigator = Annotated[Principal, Depends(require_roles(Role.NAVIGATOR))]
TeamManager = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER))]
Oversight = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER, Role.OPS))]
Limit = Annotated[int, Query(ge=1, le=1000)]


def router(_ctx: ServiceContext) -> list[APIRouter]:
    """MASH enquiries' routes."""
    api = APIRouter(prefix="/v1", responses=problem_responses())

    @api.get("/requests", tags=["navigator"], response_model=list[QueueEntryOut])
    def my_requests(
        ctx: Context, principal: Navigator,
        status: Literal["pending", "answered", "declined", "all"] = "pending",
        limit: Limit = 200,
    ) -> list[dict[str, Any]]:
        """Your agency's information requests in your partnership, the earliest deadline
        first (pending by default)."""
        return navigators.my_requests(ctx, principal, status, limit)

    @api.get("/requests/{request_id}", tags=["navigator"], response_model=RequestOut)
    def read_request(request_id: str, ctx: Context, principal: Navigator) -> dict[str, Any]:
        """One request: who to search for, the question, the deadline. Audited. Another
        agency's request is not found."""
        return navigators.read_request(ctx, principal, request_id)

    @api.post("/requests/{request_id}/answer", tags=["navigator"], response_model=RequestOut,
              responses=problem_responses(409, 422))
    def answer(request_id: str, body: AnswerIn, ctx: Context,
               principal: Navigator) -> dict[str, Any]:
        """Answer from your agency's systems. After the deadline it is accepted, flagged
        late."""
        if errors := body.listed_when_not_known():
            raise invalid_fields("Answer refused", errors)
        dumped = body.model_dump(mode="json")
        return navigators.answer(ctx, principal, request_id, navigators.Answer(
            known=body.known, summary=body.summary, risk_indicators=body.risk_indicators,
            relevant_dates=dumped["relevant_dates"],
            attachments=[{k: v for k, v in a.items() if v is not None}
                         for a in dumped["attachments"]]))

    @api.post("/requests/{request_id}/decline", tags=["navigator"], response_model=RequestOut,
              responses=problem_responses(409, 422))
    def decline(request_id: str, body: DeclineIn, ctx: Context,
                principal: Navigator) -> dict[str, Any]:
        """Decline with a reason code and an explanation."""
        return navigators.decline(ctx, principal, request_id, reason_code=body.reason_code,
                                  explanation=body.explanation)

    @api.get("/episodes", tags=["team manager"])
    def episodes(
        ctx: Context, principal: TeamManager,
        status: Literal["open", "decided", "all"] = "open", limit: Limit = 200,
    ) -> list[dict[str, Any]]:
        """Your partnership's MASH episodes, the earliest due first, with what is
        outstanding and overdue."""
        return oversight.list_episodes(ctx, principal, status, limit)

    @api.get("/episodes/{episode_id}", tags=["team manager"])
    def episode(episode_id: str, ctx: Context, principal: TeamManager) -> dict[str, Any]:
        """Every agency's answer side by side, what is outstanding and overdue. Audited."""
        return oversight.read_episode(ctx, principal, episode_id)

    @api.post("/episodes/{episode_id}/close-early", tags=["team manager"],
              responses=problem_responses(409, 422))
    def close_early(episode_id: str, body: CloseEarlyIn, ctx: Context,
                    principal: TeamManager) -> dict[str, Any]:
        """Stop the enquiries before every agency has answered, recording why."""
        return oversight.close_early(ctx, principal, episode_id, reason=body.reason)

    @api.post("/episodes/{episode_id}/outcome", tags=["team manager"],
              responses=problem_responses(409, 422))
    def outcome(episode_id: str, body: OutcomeIn, ctx: Context,
                principal: TeamManager) -> dict[str, Any]:
        """The MASH outcome with your rationale: once every agency has answered (or the
        enquiries were closed early)."""
        return oversight.decide_outcome(ctx, principal, episode_id, outcome=body.outcome,
                                        rationale=body.rationale,
                                        early_help_destination=body.early_help_destination)

    @api.get("/performance", tags=["performance"])
    def agency_performance(
        ctx: Context, principal: Oversight,
        since: IsoDateTime | None = None, until: IsoDateTime | None = None,
    ) -> dict[str, Any]:
        """Response times and late rates per agency and partnership (the last 30 days by
        default). No personal data. Team managers see their partnership; ops see all."""
        naive = [(name, "give the time with a UTC offset, e.g. 2026-11-01T00:00:00Z")
                 for name, value in (("since", since), ("until", until))
                 if value is not None and value.tzinfo is None]
        if naive:
            raise invalid_fields("Bad window", naive)
        end = until or ctx.clock.now()
        start = since or end - timedelta(days=30)
        if start >= end:
            raise invalid_fields("Bad window", [("since", "must be before until")])
        scope = None if principal.role == Role.OPS else [access.partnership_of(ctx, principal)]
        return performance.agency_performance(ctx, partnerships=scope, since=start, until=end)

    return [api]
