"""Core group meetings of a child protection plan (DOMAIN.md §7, §8; [004]): the first
within 10 working days of the ICPC, chaired by the social care team manager; later ones
chaired by the social worker; each updates the plan's actions; minutes circulated within 5
working days. Events keyed by the plan and the meeting, so the timekeeper's first_core_group
and core_group_minutes clocks of two children never collide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import select

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
from strategy.conferences.models import ChildProtectionPlan, CoreGroupMeeting

CORE_GROUP = "core_group_meeting"
SCHEDULED_EVENT = "mash.strategy.core-group.scheduled.v1"
HELD_EVENT = "mash.strategy.core-group.held.v1"
MINUTES_EVENT = "mash.strategy.minutes.circulated.v1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def view(m: CoreGroupMeeting, p: ChildProtectionPlan, due_at: datetime | None,
         ) -> dict[str, Any]:
    return {
        "meeting_id": m.id, "plan_id": m.plan_id, "case_reference": m.case_reference,
        "first": m.first, "status": m.status, "due_at": _iso(due_at),
        "chair_role": rules.core_group_chair_role(m.first),
        "scheduled_for": _iso(m.scheduled_for), "invitees": json.loads(m.invitees),
        **arrangements.fields(m), **cancellation.fields(m),
        "sequence": m.sequence, "held_at": _iso(m.held_at), "chaired_by": m.chaired_by,
        "attendees": json.loads(m.attendees), "minutes_due_at": _iso(m.minutes_due_at),
        "circulated_at": _iso(m.circulated_at), "plan_status": p.status,
    }


def _first_due(ctx: ServiceContext, m: CoreGroupMeeting,
               p: ChildProtectionPlan) -> datetime | None:
    if not m.first:
        return None
    return ctx.policy.for_partnership(p.partnership).due(rules.FIRST_CORE_GROUP_WITHIN,
                                                         p.started_at)


def _emit(ctx: ServiceContext, uow: UnitOfWork, m: CoreGroupMeeting, event_type: str,
          data: dict[str, Any], at: datetime) -> None:
    ctx.emit(uow, Event(type=event_type, source=ctx.source, subject=m.case_reference, time=at,
                        recordedtime=at, partnership=m.partnership, data=data),
             STRATEGY_CASES)


def _meeting(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, meeting_id: str,
             action: AuditAction) -> tuple[CoreGroupMeeting, ChildProtectionPlan]:
    """A core group meeting and its plan: staff, IROs, invitees or the plan's core group."""
    return plans.meeting_of_plan(ctx, uow, principal, CoreGroupMeeting, meeting_id, action,
                                 what="core group meeting", resource=CORE_GROUP,
                                 core_group_reads=True)


def read(ctx: ServiceContext, principal: Principal, meeting_id: str) -> dict[str, Any]:
    with ctx.unit_of_work() as uow:
        m, p = _meeting(ctx, uow, principal, meeting_id, AuditAction.READ)
        return view(m, p, _first_due(ctx, m, p))


def schedule(ctx: ServiceContext, principal: Principal, plan_id: str, *,
             scheduled_for: datetime, invitees: list[dict[str, str]],
             meeting_id: str | None = None,
             arrangement: Arrangement = Arrangement()) -> dict[str, Any]:
    """Arrange the plan's next core group (or re-arrange one not yet held)."""
    recordable_user_id(principal)
    arrangements.check(scheduled_for, arrangement)
    with (access.audited_refusals(ctx, principal, plans.PLAN, plan_id),
          ctx.unit_of_work() as uow):
        p = plans.plan(ctx, uow, principal, plan_id, AuditAction.WRITE)
        if principal.role not in access.STAFF:
            raise ProblemHTTPException(403, detail="Children's social care staff schedule.")
        if p.status != "active":
            raise ProblemHTTPException(409, "Plan ended", f"The plan {p.id} has ended.")
        now = ctx.clock.now()
        existing = list(uow.session.exec(select(CoreGroupMeeting).where(
            CoreGroupMeeting.plan_id == p.id)))
        pending = [m for m in existing
                   if m.status in (cancellation.SCHEDULED, cancellation.CANCELLED)]
        if pending:  # one arrangement at a time: a new time re-arranges (or reinstates) it
            m = pending[0]
            cancellation.rescheduled(m)
            m.scheduled_for, m.invitees = scheduled_for, json.dumps(invitees)
            m.sequence += 1
            m.scheduled_at = now
        else:
            m = CoreGroupMeeting(
                id=new_id(), plan_id=p.id, case_reference=p.case_reference,
                partnership=p.partnership, first=not existing, status="scheduled",
                scheduled_for=scheduled_for, invitees=json.dumps(invitees), sequence=0,
                scheduled_at=now)
        arrangements.store(m, arrangement)
        uow.session.add(m)
        _emit(ctx, uow, m, SCHEDULED_EVENT, {
            "meeting_id": m.id, "case_reference": m.case_reference, "plan_id": p.id,
            "first": m.first, "scheduled_for": scheduled_for.isoformat(),
            "invitees": invitees, "rescheduled": m.sequence > 0,
            "scheduled_at": now.isoformat(), "sequence": m.sequence,
            **arrangements.fields(m),
            "organiser": {"role": str(principal.role),
                          "user_id": recordable_user_id(principal)}}, now)
        uow.commit()
        return view(m, p, _first_due(ctx, m, p))


def cancel(ctx: ServiceContext, principal: Principal, meeting_id: str, *,
           reason: str) -> dict[str, Any]:
    """Staff call off the scheduled core group (``core-group.cancelled``); the next
    ``schedule`` of the plan reinstates the same meeting (a first one stays the first,
    still due within 10 working days of the ICPC)."""
    recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, CORE_GROUP, meeting_id),
          ctx.unit_of_work() as uow):
        m, p = _meeting(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        due = _first_due(ctx, m, p)
        cancellation.cancel(ctx, uow, principal, m, what="core group",
                            event_type=cancellation.CORE_GROUP_CANCELLED, reason=reason,
                            status_key="core_group_status", extra={
                                "plan_id": p.id, "first": m.first,
                                **({"due_at": due.isoformat()} if due else {})})
        uow.commit()
        return view(m, p, due)


@dataclass(frozen=True)
class Held:
    held_at: datetime
    attendees: list[dict[str, str]]
    action_updates: list[dict[str, Any]]
    new_actions: list[dict[str, Any]]


def record_held(ctx: ServiceContext, principal: Principal, meeting_id: str,
                h: Held) -> dict[str, Any]:
    """The chair records the core group held (the first: a team manager; later: the social
    worker), with the plan's actions as the meeting updated them."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, CORE_GROUP, meeting_id),
          ctx.unit_of_work() as uow):
        m, p = _meeting(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        chair_role = rules.core_group_chair_role(m.first)
        if principal.role != Role(chair_role):
            raise ProblemHTTPException(403, detail=(
                "The first core group is chaired by the team manager." if m.first else
                "A later core group is chaired by the social worker."))
        if m.status != "scheduled":
            raise ProblemHTTPException(409, "Not possible in this state",
                                       f"The core group {meeting_id} is {m.status!r}.",
                                       extra={"core_group_status": m.status})
        if p.status != "active":
            raise ProblemHTTPException(409, "Plan ended", f"The plan {p.id} has ended.")
        now = ctx.clock.now()
        if h.held_at > now or h.held_at < p.started_at:
            raise invalid_fields("Held refused", [
                ("held_at", "between the ICPC and now")])
        plans.update_actions(uow, p, h.action_updates, h.held_at, m.id)
        plans.add_actions(uow, p, h.new_actions, h.held_at, m.id)
        pack = ctx.policy.for_partnership(p.partnership)
        m.status, m.held_at, m.chaired_by, m.chaired_by_role = ("held", h.held_at, user_id,
                                                                chair_role)
        m.attendees = json.dumps(h.attendees)
        m.minutes_due_at = pack.due(rules.CORE_GROUP_MINUTES_WITHIN, h.held_at)
        uow.session.add(m)
        _emit(ctx, uow, m, HELD_EVENT, {
            "meeting_id": m.id, "case_reference": m.case_reference, "plan_id": p.id,
            "first": m.first, "held_at": h.held_at.isoformat(), "chaired_by_role": chair_role,
            "chaired_by": user_id, "attendees": h.attendees,
            "plan_copy_given_to_child": p.copy_given_on is not None,
            "minutes_due_at": m.minutes_due_at.isoformat()}, now)
        uow.commit()
        return view(m, p, _first_due(ctx, m, p))


def circulate_minutes(ctx: ServiceContext, principal: Principal, meeting_id: str, *,
                      minutes: str) -> dict[str, Any]:
    """The chair signs off and circulates the minutes (due within 5 working days)."""
    recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, CORE_GROUP, meeting_id),
          ctx.unit_of_work() as uow):
        m, p = _meeting(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        if m.status != "held":
            raise ProblemHTTPException(409, "Not possible in this state",
                                       f"The core group {meeting_id} is {m.status!r}.",
                                       extra={"core_group_status": m.status})
        if principal.subject != m.chaired_by:
            raise ProblemHTTPException(403, detail="The chair signs off the minutes.")
        assert m.held_at is not None and m.chaired_by_role is not None
        now = ctx.clock.now()
        m.status, m.minutes, m.circulated_at = "minutes_circulated", minutes, now
        uow.session.add(m)
        _emit(ctx, uow, m, MINUTES_EVENT, {
            "meeting_id": m.id, "case_reference": m.case_reference,
            "meeting_kind": "core_group", "held_at": m.held_at.isoformat(),
            "signed_off_by": m.chaired_by, "signed_off_by_role": m.chaired_by_role,
            "circulated_at": now.isoformat()}, now)
        uow.commit()
        return view(m, p, _first_due(ctx, m, p))
