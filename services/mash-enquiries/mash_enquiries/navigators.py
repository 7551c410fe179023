"""The navigator's side (DOMAIN.md §1): my agency's requests, what to search for, my answer.

A navigator sees only what their agency needs to search its own systems: the people
(children, family and household, with dates of birth and postcode), the question, the
deadline and the basis for sharing. Never the referrer, never another agency's request or
answer, never the case's rationale. Late answers are accepted and flagged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select

from mash_enquiries import access, events
from mash_enquiries.episodes import ANSWERED, DECLINED, PENDING, emit
from mash_enquiries.models import CaseRecord, Episode, InformationRequest
from mashcore.audit import AuditAction, audit_listed, refusals_audited
from mashcore.auth import Principal, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.problems import ProblemHTTPException
from mashcore.service import ServiceContext

RESOURCE = "information_request"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def queue_entry(request: InformationRequest, now: datetime) -> dict[str, Any]:
    """A queue line: no names, no answers (open the request to see who to search for)."""
    return {
        "request_id": request.id,
        "case_reference": request.case_reference,
        "agency": request.agency,
        "brag": request.brag,
        "requested_at": _iso(request.requested_at),
        "deadline": _iso(request.deadline),
        "overdue": request.status == PENDING and now > request.deadline,
        "status": request.status,
        "chased": request.chase_count > 0,
    }


def navigator_view(request: InformationRequest, now: datetime,
                   address: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a navigator sees of a request (its queue line, and who to search for and
    why), and nothing more."""
    return queue_entry(request, now) | {
        "question": request.question,
        "subjects": json.loads(request.subjects),
        "address": address,
        "sharing_basis": request.sharing_basis,
        "answer": answer_view(request),
    }


def answer_view(request: InformationRequest) -> dict[str, Any] | None:
    """The agency's answer (or decline) as recorded."""
    if request.status == ANSWERED:
        return {"known": request.known, "summary": request.summary,
                "risk_indicators": json.loads(request.risk_indicators),
                "relevant_dates": json.loads(request.relevant_dates),
                "attachments": json.loads(request.attachments),
                "answered_at": _iso(request.responded_at), "answered_by": request.responded_by,
                "late": request.late}
    if request.status == DECLINED:
        return {"declined": True, "reason_code": request.decline_reason_code,
                "explanation": request.decline_explanation,
                "declined_at": _iso(request.responded_at),
                "declined_by": request.responded_by, "late": request.late}
    return None


def my_requests(ctx: ServiceContext, principal: Principal, status: str | None,
                limit: int) -> list[dict[str, Any]]:
    """My agency's requests in my partnership, the earliest deadline first."""
    with ctx.unit_of_work() as uow:
        query = (select(InformationRequest)
                 .where(InformationRequest.agency == principal.agency,
                        InformationRequest.partnership == access.partnership_of(ctx, principal))
                 .where(access.visible_sql(principal, InformationRequest.case_reference))
                 .order_by(col(InformationRequest.deadline)).limit(limit))
        if status != "all":
            query = query.where(col(InformationRequest.status) == (status or PENDING))
        now = ctx.clock.now()
        requests = uow.session.exec(query).all()
        listed = [queue_entry(r, now) for r in requests]
        audit_listed(uow.session, principal=principal, resource="information_request_list",
                     at=now, listed=[(r.id, r.case_reference, r.partnership)
                                     for r in requests])
        uow.commit()
        return listed


def _load(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, request_id: str,
          action: AuditAction) -> InformationRequest:
    return access.load(ctx, uow, principal, InformationRequest, request_id,
                       what="information request", resource=RESOURCE, action=action,
                       also=lambda request: request.agency == principal.agency)


def _address(uow: UnitOfWork, request: InformationRequest) -> dict[str, Any] | None:
    case = uow.session.get(CaseRecord, request.case_reference)
    return json.loads(case.address) if case is not None and case.address else None


def read_request(ctx: ServiceContext, principal: Principal, request_id: str) -> dict[str, Any]:
    """One of my agency's requests (another agency's is a 404), audited."""
    with ctx.unit_of_work() as uow:
        request = _load(ctx, uow, principal, request_id, AuditAction.READ)
        return navigator_view(request, ctx.clock.now(), _address(uow, request))


@dataclass(frozen=True)
class Answer:
    known: bool
    summary: str
    risk_indicators: list[str] = field(default_factory=list)
    relevant_dates: list[dict[str, str]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


def _respond(ctx: ServiceContext, principal: Principal, request_id: str,
             apply: Any) -> dict[str, Any]:
    user_id = recordable_user_id(principal)
    with (refusals_audited(ctx, principal, resource=RESOURCE, resource_id=request_id),
          ctx.unit_of_work() as uow):
        request = _load(ctx, uow, principal, request_id, AuditAction.WRITE)
        episode = uow.session.get(Episode, request.episode_id)
        assert episode is not None
        if request.status == "withdrawn" or episode.completed_at is not None:
            raise ProblemHTTPException(409, "Enquiries closed",
                                       "These enquiries have ended; the request is withdrawn.")
        if request.status != PENDING:
            raise ProblemHTTPException(409, "Already answered",
                                       f"Request {request_id} is {request.status}.")
        # Touch the episode so an answer and the manager closing the enquiries cannot both
        # commit: the version check lets exactly one through.
        flag_modified(episode, "status")
        uow.session.add(episode)
        now = ctx.clock.now()
        request.responded_at, request.responded_by = now, user_id
        request.late = now > request.deadline
        event_type, data = apply(request)
        uow.session.add(request)
        emit(ctx, uow, None, case_reference=request.case_reference,
             partnership=request.partnership, event_type=event_type, data=data, at=now)
        uow.commit()
        return navigator_view(request, now, _address(uow, request))


def answer(ctx: ServiceContext, principal: Principal, request_id: str,
           body: Answer) -> dict[str, Any]:
    """Record what my agency's systems show; after the deadline it is accepted as late."""
    def apply(request: InformationRequest) -> tuple[str, dict[str, Any]]:
        request.status = ANSWERED
        request.known = body.known
        request.summary = body.summary
        request.risk_indicators = json.dumps(body.risk_indicators)
        request.relevant_dates = json.dumps(body.relevant_dates)
        request.attachments = json.dumps(body.attachments)
        return events.INFORMATION_PROVIDED, events.information_provided(request)
    return _respond(ctx, principal, request_id, apply)


def decline(ctx: ServiceContext, principal: Principal, request_id: str, *, reason_code: str,
            explanation: str) -> dict[str, Any]:
    """Decline with a reason; the manager decides whether to go on without it."""
    def apply(request: InformationRequest) -> tuple[str, dict[str, Any]]:
        request.status = DECLINED
        request.decline_reason_code = reason_code
        request.decline_explanation = explanation
        return events.REQUEST_DECLINED, events.request_declined(request)
    return _respond(ctx, principal, request_id, apply)
