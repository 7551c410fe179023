"""Section 47 enquiries (DOMAIN.md §2, §7): one per child, opened by the discussion that
decided it; the outcome recorded by a social worker, then agreed by a team manager with a
rationale, which concludes it (``s47-outcome.recorded``). The outcome allows only its next
steps: not substantiated → NFA or supportive services; substantiated, no continuing risk →
services or a plan without conference; substantiated, continuing risk → an ICPC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from mashcore.audit import AuditAction
from mashcore.auth import Principal, Role, recordable_user_id
from mashcore.envelope import Event
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import STRATEGY_CASES
from strategy import access, events, rules
from strategy.conferences import icpc as conferences_icpc
from strategy.discussions import agency_code
from strategy.models import S47Enquiry, StrategyCase


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def view(s47: S47Enquiry) -> dict[str, Any]:
    """One child's s47 enquiry (the child by number; the names are on the discussion)."""
    return {
        "s47_enquiry_id": s47.id, "case_reference": s47.case_reference,
        "child_number": s47.child_number, "strategy_meeting_id": s47.meeting_id,
        "started_at": _iso(s47.started_at), "status": s47.status,
        "outcome": s47.outcome, "next_step": s47.next_step, "rationale": s47.rationale,
        "recorded_by": s47.recorded_by, "recorded_at": _iso(s47.recorded_at),
        "agreed_by": s47.agreed_by, "agreement_rationale": s47.agreement_rationale,
        "agreed_at": _iso(s47.agreed_at),
    }


def read(ctx: ServiceContext, principal: Principal, enquiry_id: str) -> dict[str, Any]:
    """One s47 enquiry, audited."""
    with ctx.unit_of_work() as uow:
        return view(access.s47_enquiry(ctx, uow, principal, enquiry_id, AuditAction.READ))


def list_for_case(ctx: ServiceContext, principal: Principal,
                  case_reference: str) -> list[dict[str, Any]]:
    """A case's s47 enquiries, audited."""
    with ctx.unit_of_work() as uow:
        partnership = access.partnership_of(ctx, principal)
        case = uow.session.exec(select(StrategyCase).where(
            StrategyCase.case_reference == case_reference,
            StrategyCase.partnership == partnership)).first()
        allowed = case is not None and access.case_visible(uow, principal, case_reference)
        access.check(ctx, uow, principal, what="case", resource=access.CASE,
                     resource_id=case_reference, case_reference=case_reference,
                     allowed=allowed, action=AuditAction.READ)
        rows = uow.session.exec(select(S47Enquiry).where(
            S47Enquiry.case_reference == case_reference, S47Enquiry.partnership == partnership)
            .order_by(col(S47Enquiry.started_at), col(S47Enquiry.child_number)))
        return [view(s) for s in rows]


def record_outcome(ctx: ServiceContext, principal: Principal, enquiry_id: str, *,
                   outcome: str, next_step: str, rationale: str) -> dict[str, Any]:
    """The social worker records the outcome; a team manager then agrees it."""
    user_id = recordable_user_id(principal)
    if errors := rules.next_step_errors(outcome, next_step):
        raise invalid_fields("Outcome refused", errors)
    with (access.audited_refusals(ctx, principal, access.S47, enquiry_id),
          ctx.unit_of_work() as uow):
        s47 = access.s47_enquiry(ctx, uow, principal, enquiry_id, AuditAction.WRITE)
        if s47.status == rules.S47_CONCLUDED:
            raise ProblemHTTPException(409, "Already concluded",
                                       f"The s47 enquiry {enquiry_id} is concluded.")
        if principal.role != Role.SOCIAL_WORKER:
            raise ProblemHTTPException(403, detail="A social worker records the outcome.")
        s47.status = rules.S47_AWAITING_AGREEMENT
        s47.outcome, s47.next_step, s47.rationale = outcome, next_step, rationale
        s47.recorded_by, s47.recorded_by_agency = user_id, agency_code(principal.agency)
        s47.recorded_at = ctx.clock.now()
        s47.agreed_by = s47.agreed_by_agency = s47.agreement_rationale = None
        uow.session.add(s47)
        uow.commit()
        return view(s47)


def agree_outcome(ctx: ServiceContext, principal: Principal, enquiry_id: str, *,
                  agree: bool, rationale: str) -> dict[str, Any]:
    """The team manager agrees the recorded outcome (concluding the enquiry and announcing
    it), or sends it back to the social worker."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, access.S47, enquiry_id),
          ctx.unit_of_work() as uow):
        s47 = access.s47_enquiry(ctx, uow, principal, enquiry_id, AuditAction.WRITE)
        if s47.status != rules.S47_AWAITING_AGREEMENT:
            raise ProblemHTTPException(
                409, "Not possible in this state",
                f"The s47 enquiry {enquiry_id} is {s47.status!r}: agreement needs a recorded "
                "outcome awaiting agreement.", extra={"s47_status": s47.status})
        if principal.role != Role.TEAM_MANAGER:
            raise ProblemHTTPException(403, detail="A team manager agrees the outcome.")
        now = ctx.clock.now()
        if not agree:
            s47.status = rules.S47_OPEN
            s47.agreement_rationale = rationale
            uow.session.add(s47)
            uow.commit()
            return view(s47)
        s47.status = rules.S47_CONCLUDED
        s47.agreed_by, s47.agreed_by_agency = user_id, agency_code(principal.agency)
        s47.agreement_rationale, s47.agreed_at = rationale, now
        uow.session.add(s47)
        ctx.emit(uow, Event(type=events.S47_OUTCOME_RECORDED, source=ctx.source,
                            subject=s47.case_reference, time=now, recordedtime=now,
                            partnership=s47.partnership,
                            data=events.s47_outcome_recorded(s47)),
                 STRATEGY_CASES)
        if s47.next_step == "icpc":  # issue 15: the ICPC, in the same transaction
            conferences_icpc.from_s47(ctx, uow, s47)
        uow.commit()
        return view(s47)
