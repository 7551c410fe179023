"""Review child protection conferences (DOMAIN.md §7, §8; [004]): chaired by an IRO, the
first on the date agreed at the ICPC (within 3 months of it), later ones on the date the
previous review set (not more than 6 months). The review continues or changes the plan
(its categories and next review date), or ends it: closed, or stepped down to a
child-in-need plan or early help; ending emits ``plan.ended`` (intake's 12-week rule; the
timekeeper cancels the plan's clocks) in the same transaction, and a step-down also
``plan.handed-on`` for the team that takes the case on. Events keyed by the plan and
the meeting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from mashcore.audit import AuditAction
from mashcore.auth import Principal, Role, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import STRATEGY_CASES
from strategy import access
from strategy.conferences import arrangements, cancellation, plans, rules
from strategy.conferences.arrangements import Arrangement
from strategy.conferences.icpc import READERS
from strategy.conferences.models import ChildProtectionPlan, ReviewConference

REVIEW = "review_conference"
SCHEDULED_EVENT = "mash.strategy.review-conference.scheduled.v1"
HELD_EVENT = "mash.strategy.review-conference.held.v1"
PLAN_ENDED = "mash.strategy.plan.ended.v1"
HANDED_ON = "mash.strategy.plan.handed-on.v1"
HANDED_TO = {"step_down_child_in_need": "child_in_need",
             "step_down_early_help": "early_help"}
"""A step-down hands the case on to the team that takes it (closing hands it to nobody)."""


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def view(r: ReviewConference, p: ChildProtectionPlan, *, full: bool) -> dict[str, Any]:
    return {
        "meeting_id": r.id, "plan_id": r.plan_id, "case_reference": r.case_reference,
        "first": r.first, "due_on": _iso(r.due_on), "status": r.status,
        "scheduled_for": _iso(r.scheduled_for), "chaired_by_iro": r.chaired_by_iro,
        **arrangements.fields(r), **cancellation.fields(r),
        "invitees": json.loads(r.invitees), "sequence": r.sequence,
        "held_at": _iso(r.held_at), "attendees": json.loads(r.attendees),
        "decision": r.decision,
        "category_of_abuse": json.loads(r.category_of_abuse) if r.category_of_abuse else None,
        "next_review_due_on": _iso(r.next_review_due_on),
        "rationale": r.rationale if full else None,
        "plan_status": p.status, "plan_end_reason": p.end_reason,
    }


def _emit(ctx: ServiceContext, uow: UnitOfWork, case_reference: str, partnership: str,
          event_type: str, data: dict[str, Any], at: datetime) -> None:
    ctx.emit(uow, Event(type=event_type, source=ctx.source, subject=case_reference, time=at,
                        recordedtime=at, partnership=partnership, data=data),
             STRATEGY_CASES)


def _review(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, meeting_id: str,
            action: AuditAction) -> tuple[ReviewConference, ChildProtectionPlan]:
    """A review conference and its plan: staff, IROs or its invitees."""
    return plans.meeting_of_plan(ctx, uow, principal, ReviewConference, meeting_id, action,
                                 what="review conference", resource=REVIEW,
                                 core_group_reads=False)


def read(ctx: ServiceContext, principal: Principal, meeting_id: str) -> dict[str, Any]:
    with ctx.unit_of_work() as uow:
        r, p = _review(ctx, uow, principal, meeting_id, AuditAction.READ)
        return view(r, p, full=principal.role in READERS)


def schedule(ctx: ServiceContext, principal: Principal, plan_id: str, *,
             scheduled_for: datetime, chaired_by_iro: str,
             invitees: list[dict[str, str]],
             arrangement: Arrangement = Arrangement()) -> dict[str, Any]:
    """Arrange the plan's next review (a pending one is re-arranged), due on the date the
    ICPC or the previous review set; the IRO chair is invited."""
    recordable_user_id(principal)
    arrangements.check(scheduled_for, arrangement)
    invitees = [{"role": "iro", "agency": "local_authority", "user_id": chaired_by_iro},
                *[x for x in invitees if not (x.get("role") == "iro"
                                              and x.get("user_id") == chaired_by_iro)]]
    with (access.audited_refusals(ctx, principal, plans.PLAN, plan_id),
          ctx.unit_of_work() as uow):
        p = plans.plan(ctx, uow, principal, plan_id, AuditAction.WRITE)
        if principal.role not in access.STAFF:
            raise ProblemHTTPException(403, detail="Children's social care staff schedule.")
        if p.status != "active":
            raise ProblemHTTPException(409, "Plan ended", f"The plan {p.id} has ended.")
        now = ctx.clock.now()
        existing = list(uow.session.exec(select(ReviewConference).where(
            ReviewConference.plan_id == p.id)))
        pending = [r for r in existing
                   if r.status in (cancellation.SCHEDULED, cancellation.CANCELLED)]
        if pending:  # a new time re-arranges (or reinstates) the pending review
            r = pending[0]
            cancellation.rescheduled(r)
            r.scheduled_for, r.chaired_by_iro = scheduled_for, chaired_by_iro
            r.invitees, r.scheduled_at = json.dumps(invitees), now
            r.sequence += 1
        else:
            first = not existing
            due_on = p.first_review_due_on if first else p.next_review_due_on
            assert due_on is not None
            r = ReviewConference(
                id=new_id(), plan_id=p.id, case_reference=p.case_reference,
                partnership=p.partnership, first=first, due_on=due_on, status="scheduled",
                scheduled_for=scheduled_for, chaired_by_iro=chaired_by_iro,
                invitees=json.dumps(invitees), sequence=0, scheduled_at=now)
        arrangements.store(r, arrangement)
        uow.session.add(r)
        _emit(ctx, uow, r.case_reference, r.partnership, SCHEDULED_EVENT, {
            "meeting_id": r.id, "case_reference": r.case_reference, "plan_id": p.id,
            "first": r.first, "due_on": r.due_on.isoformat(),
            "chaired_by_iro": chaired_by_iro, "scheduled_for": scheduled_for.isoformat(),
            "invitees": invitees, "rescheduled": r.sequence > 0,
            "scheduled_at": now.isoformat(), "sequence": r.sequence,
            **arrangements.fields(r),
            "organiser": {"role": str(principal.role),
                          "user_id": recordable_user_id(principal)}}, now)
        uow.commit()
        return view(r, p, full=True)


def cancel(ctx: ServiceContext, principal: Principal, meeting_id: str, *,
           reason: str) -> dict[str, Any]:
    """Staff call off the scheduled review (``review-conference.cancelled``); the next
    ``schedule`` of the plan reinstates the same meeting, still due on the same date."""
    recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, REVIEW, meeting_id),
          ctx.unit_of_work() as uow):
        r, p = _review(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        cancellation.cancel(ctx, uow, principal, r, what="review conference",
                            event_type=cancellation.REVIEW_CANCELLED, reason=reason,
                            status_key="review_status", extra={
                                "plan_id": p.id, "first": r.first,
                                "due_on": r.due_on.isoformat()})
        uow.commit()
        return view(r, p, full=True)


@dataclass(frozen=True)
class Held:
    held_at: datetime
    attendees: list[dict[str, str]]
    decision: str
    category_of_abuse: list[str]
    next_review_due_on: date | None
    rationale: str


def record_held(ctx: ServiceContext, principal: Principal, meeting_id: str,
                h: Held) -> dict[str, Any]:
    """The chairing IRO records the review: the plan continues or changes (the next review
    within 6 months), or ends (plan.ended in the same transaction)."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, REVIEW, meeting_id),
          ctx.unit_of_work() as uow):
        r, p = _review(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        if principal.role != Role.IRO:
            raise ProblemHTTPException(403, detail="The chairing IRO records the review.")
        if r.status != "scheduled" or p.status != "active":
            raise ProblemHTTPException(
                409, "Not possible in this state",
                f"The review {meeting_id} is {r.status!r} and its plan {p.status!r}.",
                extra={"review_status": r.status, "plan_status": p.status})
        now = ctx.clock.now()
        if h.held_at > now or h.held_at < p.started_at:
            raise invalid_fields("Held refused", [("held_at", "between the ICPC and now")])
        pack = ctx.policy.for_partnership(p.partnership)
        if errors := rules.review_decision_errors(pack.working_calendar(), h.decision,
                                                  h.category_of_abuse, h.next_review_due_on,
                                                  h.held_at):
            raise invalid_fields("Held refused", errors)
        r.status, r.held_at, r.chaired_by_iro = "held", h.held_at, user_id
        r.attendees, r.decision, r.rationale = json.dumps(h.attendees), h.decision, h.rationale
        r.next_review_due_on = h.next_review_due_on
        r.category_of_abuse = json.dumps(h.category_of_abuse) if h.category_of_abuse else None
        uow.session.add(r)
        held = {"meeting_id": r.id, "case_reference": r.case_reference, "plan_id": p.id,
                "first": r.first, "held_at": h.held_at.isoformat(),
                "chaired_by_iro": user_id, "attendees": h.attendees,
                "decision": h.decision,
                "next_review_due_on": _iso(h.next_review_due_on), "rationale": h.rationale}
        if h.decision in rules.CONTINUING:
            held["category_of_abuse"] = h.category_of_abuse
            p.category_of_abuse = json.dumps(h.category_of_abuse)
            p.next_review_due_on = h.next_review_due_on
        _emit(ctx, uow, r.case_reference, r.partnership, HELD_EVENT, held, now)
        if h.decision in rules.ENDING:
            p.status, p.ended_at = "ended", h.held_at
            p.end_reason, p.ended_by_review = rules.ENDING[h.decision], r.id
            _emit(ctx, uow, p.case_reference, p.partnership, PLAN_ENDED, {
                "case_reference": p.case_reference, "plan_id": p.id,
                "reason": p.end_reason, "review_meeting_id": r.id,
                "ended_at": h.held_at.isoformat()}, now)
            if h.decision in HANDED_TO:
                _emit(ctx, uow, p.case_reference, p.partnership, HANDED_ON, {
                    "case_reference": p.case_reference, "plan_id": p.id,
                    "child_number": p.child_number, "handed_to": HANDED_TO[h.decision],
                    "review_meeting_id": r.id,
                    "category_of_abuse": json.loads(p.category_of_abuse),
                    "handed_on_at": h.held_at.isoformat()}, now)
        uow.session.add(p)
        uow.commit()
        return view(r, p, full=True)


def list_for_plan(uow: UnitOfWork, plan_id: str) -> list[ReviewConference]:
    return list(uow.session.exec(select(ReviewConference).where(
        ReviewConference.plan_id == plan_id).order_by(col(ReviewConference.scheduled_at))))
