"""Initial child protection conferences (DOMAIN.md §7, §8; [004], WT2018).

A team manager agreeing an s47 outcome of ``substantiated_continuing_risk`` (next step
``icpc``) creates the conference in the same transaction, due 15 working days after the
strategy discussion that started the s47 (the timekeeper's icpc clock counts from the same
moment). Business support, the social worker or team manager schedule it with an IRO
chair and invitees by role (family by role only, never a name); each invited agency owes a
written report by a date the policy sets. The IRO records it held: attendance and a
decision per child; a plan (category of abuse, core group, outline, first review within 3
months) becomes the child's child protection plan record. Every read and change is audited
and the partnership is in every query; an invited agency practitioner sees the conference,
its reports' status and the decisions, not the case file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from mashcore.audit import AuditAction, audit_listed
from mashcore.auth import Principal, Role, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import STRATEGY_CASES
from strategy import access
from strategy.conferences import arrangements, cancellation, events, rules
from strategy.conferences.arrangements import Arrangement
from strategy.conferences.models import ChildProtectionPlan, Conference, ConferenceReport
from strategy.discussions import agency_code
from strategy.models import S47Enquiry, StrategyCase

CONFERENCE = "child_protection_conference"
READERS = (*access.STAFF, Role.IRO)
"""Who sees every conference of the partnership (others only those they are invited to)."""


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def from_s47(ctx: ServiceContext, uow: UnitOfWork, s47: S47Enquiry) -> Conference:
    """The ICPC an agreed s47 outcome with next step ``icpc`` calls for, in the caller's
    unit of work (the case is locked): children of one discussion share one conference
    until it is held."""
    now = ctx.clock.now()
    existing = uow.session.exec(select(Conference).where(
        Conference.case_reference == s47.case_reference,
        Conference.partnership == s47.partnership, Conference.kind == "icpc",
        Conference.s47_strategy_meeting_id == s47.meeting_id,
        col(Conference.status) != rules.HELD)).first()
    if existing is not None:
        children = json.loads(existing.child_numbers)
        if s47.child_number not in children:
            existing.child_numbers = json.dumps(sorted([*children, s47.child_number]))
            uow.session.add(existing)
        return existing
    pack = ctx.policy.for_partnership(s47.partnership)
    conference = Conference(
        id=new_id(), case_reference=s47.case_reference, partnership=s47.partnership,
        kind="icpc", conference_kind="initial", status=rules.AWAITING_SCHEDULE,
        s47_strategy_meeting_id=s47.meeting_id, s47_started_at=s47.started_at,
        due_at=rules.icpc_due(pack.working_calendar(), s47.started_at),
        child_numbers=json.dumps([s47.child_number]), created_at=now)
    uow.session.add(conference)
    return conference


def _reports(uow: UnitOfWork, conference_id: str) -> list[ConferenceReport]:
    return list(uow.session.exec(select(ConferenceReport).where(
        ConferenceReport.conference_id == conference_id)
        .order_by(col(ConferenceReport.agency))))


def for_agency(decision: dict[str, Any], agency: str | None) -> dict[str, Any]:
    """What of a child's decision (or plan view) concerns an agency attendee: the plan, its
    categories and first review, and only their own agency's core group members and plan
    actions; never the outline plan's free text."""
    mine = {k: v for k, v in decision.items() if k != "outline_plan"}
    for key, owner in (("core_group", "agency"), ("actions", "owner_agency")):
        if isinstance(mine.get(key), list):
            mine[key] = [x for x in mine[key] if isinstance(x, dict) and x.get(owner) == agency]
    return mine


def view(uow: UnitOfWork, c: Conference, *, full: bool,
         agency: str | None = None) -> dict[str, Any]:
    """A conference; ``full`` for staff and IROs (the decisions' free text included);
    otherwise, per ``agency``, the decisions that concern that agency."""
    decisions = json.loads(c.decisions)
    return {
        "meeting_id": c.id, "case_reference": c.case_reference, "kind": c.kind,
        "conference_kind": c.conference_kind, "status": c.status,
        "s47_strategy_meeting_id": c.s47_strategy_meeting_id,
        "s47_started_at": _iso(c.s47_started_at), "transfer_id": c.transfer_id,
        "due_at": _iso(c.due_at),
        "child_numbers": json.loads(c.child_numbers),
        "scheduled_for": _iso(c.scheduled_for),
        "within_timescale": (c.scheduled_for <= c.due_at) if c.scheduled_for else None,
        "chaired_by_iro": c.chaired_by_iro, "invitees": json.loads(c.invitees),
        "family_not_invited_reason": c.family_not_invited_reason if full else None,
        "sequence": c.sequence, "scheduled_at": _iso(c.scheduled_at),
        **arrangements.fields(c), **cancellation.fields(c),
        "reports": [{"agency": r.agency, "due_at": _iso(r.due_at),
                     "status": "received" if r.received_at else "awaited",
                     "received_at": _iso(r.received_at)} for r in _reports(uow, c.id)],
        "held_at": _iso(c.held_at), "attendees": json.loads(c.attendees),
        "decisions": decisions if full else [for_agency(d, agency) for d in decisions],
        "decision_summary": c.decision_summary if full else None,
    }


def _participant(principal: Principal, c: Conference) -> bool:
    people = [*json.loads(c.invitees), *json.loads(c.attendees)]
    return any(p.get("user_id") == principal.subject for p in people)


def _conference(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, meeting_id: str,
                action: AuditAction) -> Conference:
    """A conference of the caller's partnership they may see (staff, IROs, or invited);
    for a change the case is locked first and the row re-read. Audited; else a 404."""
    row = uow.session.exec(select(Conference).where(
        Conference.id == meeting_id,
        access.in_partnership(ctx, principal, Conference.partnership))).first()
    if row is not None and action is not AuditAction.READ:
        uow.lock_case(row.case_reference)
        uow.session.refresh(row)
    allowed = (row is not None and (principal.role in READERS or _participant(principal, row))
               and access.case_visible(uow, principal, row.case_reference))
    access.check(ctx, uow, principal, what="child protection conference",
                 resource=CONFERENCE, resource_id=meeting_id,
                 case_reference=row.case_reference if row else None, allowed=allowed,
                 action=action)
    assert row is not None
    return row


def read(ctx: ServiceContext, principal: Principal, meeting_id: str) -> dict[str, Any]:
    """One conference, audited."""
    with ctx.unit_of_work() as uow:
        c = _conference(ctx, uow, principal, meeting_id, AuditAction.READ)
        return view(uow, c, full=principal.role in READERS,
                    agency=agency_code(principal.agency))


def list_for_case(ctx: ServiceContext, principal: Principal,
                  case_reference: str) -> list[dict[str, Any]]:
    """A case's conferences (staff and IROs), audited."""
    with ctx.unit_of_work() as uow:
        rows = case_rows(ctx, uow, principal, case_reference, Conference,
                         col(Conference.created_at))
        return [view(uow, c, full=True) for c in rows]


def list_visible(ctx: ServiceContext, principal: Principal, held: bool | None,
                 limit: int) -> list[dict[str, Any]]:
    """The partnership's conferences the caller may see (``held``: only those held, or
    only those still to hold), the earliest deadline first; no free text (a work list).
    Audited."""
    with ctx.unit_of_work() as uow:
        query = (select(Conference)
                 .where(Conference.partnership == access.partnership_of(ctx, principal),
                        access.visible_sql(principal, Conference.case_reference))
                 .order_by(col(Conference.due_at)).limit(limit))
        if held is not None:
            query = query.where((Conference.status == "held") == held)
        rows = list(uow.session.exec(query))
        audit_listed(uow.session, principal=principal, resource=CONFERENCE,
                     listed=[(c.id, c.case_reference, c.partnership) for c in rows],
                     at=ctx.clock.now())
        uow.commit()
        return [{"meeting_id": c.id, "case_reference": c.case_reference,
                 "conference_kind": c.conference_kind, "status": c.status,
                 "due_at": _iso(c.due_at), "scheduled_for": _iso(c.scheduled_for),
                 "child_numbers": json.loads(c.child_numbers)} for c in rows]


def case_rows(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
              case_reference: str, model: Any, *order: Any) -> list[Any]:
    """A case's records of one kind (conferences, plans) for staff and IROs of its
    partnership, in ``order``; the look at the case is audited (404 otherwise)."""
    partnership = access.partnership_of(ctx, principal)
    case = uow.session.exec(select(StrategyCase).where(
        StrategyCase.case_reference == case_reference,
        StrategyCase.partnership == partnership)).first()
    allowed = (case is not None and principal.role in READERS
               and access.case_visible(uow, principal, case_reference))
    access.check(ctx, uow, principal, what="case", resource=access.CASE,
                 resource_id=case_reference, case_reference=case_reference,
                 allowed=allowed, action=AuditAction.READ)
    return list(uow.session.exec(select(model).where(
        model.case_reference == case_reference,
        model.partnership == partnership).order_by(*order)))


def _emit(ctx: ServiceContext, uow: UnitOfWork, c: Conference, event_type: str,
          data: dict[str, Any], at: datetime) -> None:
    ctx.emit(uow, Event(type=event_type, source=ctx.source, subject=c.case_reference, time=at,
                        recordedtime=at, partnership=c.partnership, data=data),
             STRATEGY_CASES)


@dataclass(frozen=True)
class Schedule:
    scheduled_for: datetime
    chaired_by_iro: str
    invitees: list[dict[str, str]]
    family_not_invited_reason: str | None
    arrangement: Arrangement = field(default_factory=Arrangement)


def schedule(ctx: ServiceContext, principal: Principal, meeting_id: str,
             s: Schedule) -> dict[str, Any]:
    """Schedule or reschedule the ICPC: the IRO chair is invited; each invited agency
    other than children's social care owes a report due by the policy's date."""
    recordable_user_id(principal)
    invitees = [p for p in s.invitees
                if not (p.get("role") == "iro" and p.get("user_id") == s.chaired_by_iro)]
    invitees.insert(0, {"role": "iro", "agency": "local_authority",
                        "user_id": s.chaired_by_iro})
    if errors := rules.invitee_errors(invitees, s.family_not_invited_reason):
        raise invalid_fields("Schedule refused", errors)
    arrangements.check(s.scheduled_for, s.arrangement)
    with (access.audited_refusals(ctx, principal, CONFERENCE, meeting_id),
          ctx.unit_of_work() as uow):
        c = _conference(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        if principal.role not in access.STAFF:
            raise ProblemHTTPException(403, detail="Children's social care staff schedule.")
        if c.status == rules.HELD:
            raise ProblemHTTPException(409, "Already held",
                                       f"The conference {meeting_id} was held.")
        now = ctx.clock.now()
        cancellation.rescheduled(c)
        c.scheduled_for, c.chaired_by_iro = s.scheduled_for, s.chaired_by_iro
        c.invitees = json.dumps(invitees)
        c.family_not_invited_reason = s.family_not_invited_reason
        c.sequence += 1
        c.scheduled_at = now
        arrangements.store(c, s.arrangement)
        uow.session.add(c)
        _sync_reports(ctx, uow, c, invitees)
        organiser = {"role": str(principal.role), "user_id": recordable_user_id(principal)}
        _emit(ctx, uow, c, events.ICPC_SCHEDULED, events.icpc_scheduled(c, organiser), now)
        uow.commit()
        return view(uow, c, full=True)


def cancel(ctx: ServiceContext, principal: Principal, meeting_id: str, *,
           reason: str) -> dict[str, Any]:
    """Staff call off the scheduled ICPC (``icpc.cancelled``: the invitees' calendars drop
    it); it is still due by the same date and is rescheduled with ``schedule``."""
    recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, CONFERENCE, meeting_id),
          ctx.unit_of_work() as uow):
        c = _conference(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        cancellation.cancel(ctx, uow, principal, c, what="conference",
                            event_type=cancellation.ICPC_CANCELLED, reason=reason,
                            status_key="conference_status", extra={
                                "conference_kind": c.conference_kind,
                                "due_at": c.due_at.isoformat()})
        uow.commit()
        return view(uow, c, full=True)


def _sync_reports(ctx: ServiceContext, uow: UnitOfWork, c: Conference,
                  invitees: list[dict[str, str]]) -> None:
    """One report per invited agency (not children's social care): due the policy's
    number of working days before the conference; a received report stays received."""
    assert c.scheduled_for is not None
    pack = ctx.policy.for_partnership(c.partnership)
    due = rules.reports_due(pack.working_calendar(), c.scheduled_for,
                            pack.conference_reports_due_working_days_before)
    agencies = {p["agency"] for p in invitees
                if p.get("agency") and p["agency"] != "local_authority"}
    for report in _reports(uow, c.id):
        if report.agency not in agencies and report.received_at is None:
            uow.session.delete(report)
        elif report.received_at is None:
            report.due_at = due
            uow.session.add(report)
        agencies.discard(report.agency)
    for agency in sorted(agencies):
        uow.session.add(ConferenceReport(conference_id=c.id, agency=agency, due_at=due))


def report_received(ctx: ServiceContext, principal: Principal, meeting_id: str,
                    agency: str) -> dict[str, Any]:
    """An agency's report is in: recorded by staff, or by an invited practitioner of that
    agency."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, CONFERENCE, meeting_id),
          ctx.unit_of_work() as uow):
        c = _conference(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        if principal.role not in access.STAFF and agency_code(principal.agency) != agency:
            raise ProblemHTTPException(403, detail="Only your own agency's report.")
        report = uow.session.get(ConferenceReport, (c.id, agency))
        if report is None:
            raise ProblemHTTPException(404, detail=f"No report is asked of {agency}.")
        if report.received_at is None:
            report.received_at, report.received_by = ctx.clock.now(), user_id
            uow.session.add(report)
        uow.commit()
        return view(uow, c, full=principal.role in READERS,
                    agency=agency_code(principal.agency))


@dataclass(frozen=True)
class Held:
    held_at: datetime
    attendees: list[dict[str, str]]
    decisions: list[dict[str, Any]]
    decision_summary: str | None


def record_held(ctx: ServiceContext, principal: Principal, meeting_id: str,
                h: Held) -> dict[str, Any]:
    """The chairing IRO records the conference held with a decision per child; a plan is
    made for each child at continuing risk (its clocks start from the held event)."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, CONFERENCE, meeting_id),
          ctx.unit_of_work() as uow):
        c = _conference(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        if principal.role != Role.IRO:
            raise ProblemHTTPException(403, detail="The chairing IRO records the conference.")
        if c.status != rules.SCHEDULED:
            raise ProblemHTTPException(
                409, "Not possible in this state",
                f"The conference {meeting_id} is {c.status!r}: only a scheduled conference "
                "is held.", extra={"conference_status": c.status})
        now = ctx.clock.now()
        if h.held_at > now:
            raise invalid_fields("Held refused", [("held_at", "must not be in the future")])
        if c.s47_started_at is not None and h.held_at < c.s47_started_at:
            raise invalid_fields("Held refused",
                                 [("held_at", "must be after the strategy discussion")])
        pack = ctx.policy.for_partnership(c.partnership)
        if errors := rules.decision_errors(pack.working_calendar(), h.decisions,
                                           json.loads(c.child_numbers), h.held_at):
            raise invalid_fields("Held refused", errors)
        c.status, c.held_at, c.chaired_by_iro = rules.HELD, h.held_at, user_id
        c.attendees = json.dumps(h.attendees)
        c.decision_summary = h.decision_summary
        stored: list[dict[str, Any]] = []
        made: list[tuple[dict[str, Any], ChildProtectionPlan | None]] = []
        for d in sorted(h.decisions, key=lambda d: int(d["child_number"])):
            plan = None
            if d["plan"]:
                plan = ChildProtectionPlan(
                    id=new_id(), case_reference=c.case_reference,
                    partnership=c.partnership, child_number=d["child_number"], icpc_id=c.id,
                    status="active", category_of_abuse=json.dumps(d["category_of_abuse"]),
                    core_group=json.dumps(d["core_group"]), outline_plan=d.get("outline_plan"),
                    first_review_due_on=d["first_review_due_on"], started_at=h.held_at)
                uow.session.add(plan)
            stored.append({**d, "plan_id": plan.id if plan else None,
                           "first_review_due_on": _iso(d.get("first_review_due_on"))})
            made.append((d, plan))
        c.decisions = json.dumps(stored)
        uow.session.add(c)
        uow.session.flush()
        for d, plan in made:
            _emit(ctx, uow, c, events.ICPC_HELD, events.icpc_held(c, d, plan), now)
        uow.commit()
        return view(uow, c, full=True)
