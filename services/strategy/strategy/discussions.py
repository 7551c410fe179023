"""Strategy discussions (DOMAIN.md §7): requested, scheduled and rescheduled, cancelled,
held with the s47 decision per child, minutes signed off by the chair and circulated.

Each command is one transaction: the case is locked (one writer per case), the row loaded
(version-checked on update), changed, the write audited and the event staged in the outbox
together. Commands take plain values and return the view; the routes map them to HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from strategy import access, events, rules
from strategy.models import Discussion, S47Enquiry, StrategyCase

PRACTITIONER_AGENCIES = frozenset({
    "police", "health", "education", "probation", "housing", "camhs", "youth_offending",
    "early_years", "local_authority", "other"})
MINUTES_WITHIN = timedelta(hours=24)
"""Strategy minutes are circulated within 24 hours (DOMAIN.md §8); the timekeeper's clock
follows the pack, this is the due time the held event announces."""


def agency_code(agency: str) -> str:
    """A token's agency as the contracts spell it (``local-authority`` → ``local_authority``);
    anything else is ``other``."""
    code = agency.strip().lower().replace("-", "_")
    return code if code in PRACTITIONER_AGENCIES else "other"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def emit(ctx: ServiceContext, uow: UnitOfWork, d: Discussion, event_type: str,
         data: dict[str, Any], at: datetime, cause: Event | None = None) -> None:
    """Stage one of strategy's events about a discussion's case."""
    if cause is not None:
        event = cause.follow_up(type=event_type, source=ctx.source, data=data, recordedtime=at)
    else:
        event = Event(type=event_type, source=ctx.source, subject=d.case_reference, time=at,
                      recordedtime=at, partnership=d.partnership, data=data,
                      correlationid=d.correlation_id or d.case_reference)
    ctx.emit(uow, event, STRATEGY_CASES)


def _conflict(d: Discussion, doing: str, expected: tuple[str, ...]) -> ProblemHTTPException:
    return ProblemHTTPException(
        409, "Not possible in this state",
        f"Strategy discussion {d.id} is {d.status!r}: {doing} needs it to be "
        f"{' or '.join(repr(s) for s in expected)}.", extra={"discussion_status": d.status})


@contextmanager
def _changing(ctx: ServiceContext, principal: Principal, meeting_id: str, doing: str,
              expected: tuple[str, ...]) -> Iterator[tuple[UnitOfWork, Discussion]]:
    """One command on a discussion: its refusals audited, the unit of work open, the
    discussion loaded for writing (mashcore.audit.AuditAction.WRITE) and a 409 unless its
    status is one of ``expected`` (``doing`` names the command in that problem)."""
    with (access.audited_refusals(ctx, principal, access.DISCUSSION, meeting_id),
          ctx.unit_of_work() as uow):
        d = access.discussion(ctx, uow, principal, meeting_id, AuditAction.WRITE)
        if d.status not in expected:
            raise _conflict(d, doing, expected)
        yield uow, d


# --- Requested ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    trigger: str
    reason: str | None
    urgency: str
    child_numbers: list[int] | None  # None: every child of the case
    follows_meeting_id: str | None = None


def open_discussion(ctx: ServiceContext, uow: UnitOfWork, case: StrategyCase,
                    request: Request, *, by: dict[str, str], at: datetime,
                    correlation_id: str = "", cause: Event | None = None) -> Discussion:
    """A requested discussion about some children of the case (several per case allowed)."""
    known = len(json.loads(case.children))
    children = request.child_numbers or list(range(1, known + 1))
    errors = rules.children_errors(children, known, "child_numbers")
    if request.follows_meeting_id is not None and uow.session.exec(select(Discussion.id).where(
            Discussion.id == request.follows_meeting_id,
            Discussion.case_reference == case.case_reference)).first() is None:
        errors.append(("follows_meeting_id", "not a strategy discussion of this case"))
    if errors:
        raise invalid_fields("Strategy discussion refused", errors)
    d = Discussion(
        id=new_id(), case_reference=case.case_reference, partnership=case.partnership,
        status=rules.REQUESTED, correlation_id=correlation_id, trigger=request.trigger,
        reason=request.reason, urgency=request.urgency,
        child_numbers=json.dumps(sorted(children)),
        follows_meeting_id=request.follows_meeting_id, requested_by=by["user_id"],
        requested_by_role=by["role"], requested_by_agency=by["agency"], requested_at=at)
    uow.session.add(d)
    emit(ctx, uow, d, events.DISCUSSION_REQUESTED, events.discussion_requested(d), at, cause)
    return d


def request_discussion(ctx: ServiceContext, principal: Principal, case_reference: str,
                       request: Request) -> dict[str, Any]:
    """A social worker or team manager asks for a discussion on any case they may see."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, access.CASE, case_reference),
          ctx.unit_of_work() as uow):
        case = access.case_for_request(ctx, uow, principal, case_reference)
        d = open_discussion(ctx, uow, case, request, at=ctx.clock.now(), by={
            "user_id": user_id, "role": str(principal.role),
            "agency": agency_code(principal.agency)})
        uow.commit()
        return view(uow, d, principal)


# --- Scheduled, rescheduled, cancelled ---------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    format: str
    starts_at: datetime
    ends_at: datetime
    location: str | None
    dial_in: str | None
    chair_id: str
    invitees: list[dict[str, str]]
    invite_referrer: bool = True
    referrer_not_invited_reason: str | None = None


def _schedule_errors(s: Schedule, case: StrategyCase) -> rules.FieldErrors:
    errors = rules.missing_roles(s.invitees, "invitees")
    if s.ends_at <= s.starts_at:
        errors.append(("ends_at", "must be after starts_at"))
    if s.format == "meeting" and not s.location:
        errors.append(("location", "a meeting in person needs a location"))
    if s.format in ("video_call", "phone_calls") and not s.dial_in:
        errors.append(("dial_in", "an online meeting or phone calls need a dial-in"))
    if any(p.get("role") == "referrer" for p in s.invitees):
        errors.append(("invitees", "the referrer is invited with invite_referrer, "
                                   "not as an invitee"))
    invitable = rules.referrer_invitable(case.referrer_agency)
    if (invitable and not s.invite_referrer and not s.referrer_not_invited_reason):
        errors.append(("referrer_not_invited_reason",
                       "the professional referrer is normally invited: say why not"))
    return errors


def schedule(ctx: ServiceContext, principal: Principal, meeting_id: str,
             s: Schedule) -> dict[str, Any]:
    """Arrange (or rearrange) the discussion; the chairing team manager is always invited,
    the referrer when a professional (unless the organiser says why not), never a member
    of the public. Each arrangement is a new version of one calendar invite."""
    user_id = recordable_user_id(principal)
    with _changing(ctx, principal, meeting_id, "scheduling", rules.SCHEDULABLE) as (uow, d):
        case = uow.session.get(StrategyCase, d.case_reference)
        assert case is not None
        if errors := _schedule_errors(s, case):
            raise invalid_fields("Schedule refused", errors)
        invitees = [events.practitioner("team_manager", "local_authority", s.chair_id)]
        invitees += [p for p in s.invitees if p.get("user_id") != s.chair_id]
        referrer = rules.referrer_invitable(case.referrer_agency) and s.invite_referrer
        if referrer:
            assert case.referrer_agency is not None
            invitees.append(events.practitioner("referrer", agency_code(case.referrer_agency),
                                                None))
        now = ctx.clock.now()
        d.status = rules.SCHEDULED
        d.format, d.starts_at, d.ends_at = s.format, s.starts_at, s.ends_at
        d.location, d.dial_in, d.chair_id = s.location, s.dial_in, s.chair_id
        d.organiser_id, d.organiser_role = user_id, str(principal.role)
        d.invitees, d.referrer_invited = json.dumps(invitees), referrer
        d.sequence += 1
        d.cancelled_reason = None
        uow.session.add(d)
        emit(ctx, uow, d, events.DISCUSSION_SCHEDULED,
             events.discussion_scheduled(d, at=now), now)
        uow.commit()
        return view(uow, d, principal)


def cancel(ctx: ServiceContext, principal: Principal, meeting_id: str, *,
           reason: str) -> dict[str, Any]:
    """Call off a scheduled discussion; the invitees' calendars drop it. It may be
    scheduled again."""
    user_id = recordable_user_id(principal)
    with _changing(ctx, principal, meeting_id, "cancelling", (rules.SCHEDULED,)) as (uow, d):
        now = ctx.clock.now()
        d.status, d.cancelled_reason = rules.CANCELLED, reason
        d.sequence += 1
        uow.session.add(d)
        emit(ctx, uow, d, events.DISCUSSION_CANCELLED, events.discussion_cancelled(
            d, at=now, organiser={"role": str(principal.role), "user_id": user_id}), now)
        uow.commit()
        return view(uow, d, principal)


# --- Held ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    held_at: datetime
    attendees: list[dict[str, str]]
    apologies: list[dict[str, str]]
    criminal_investigation: str
    criminal_investigation_start_by: datetime | None
    s47_decisions: dict[int, bool]
    s47_decision_rationale: str
    actions: list[dict[str, Any]] = field(default_factory=list)


def _held_errors(h: Held, d: Discussion, now: datetime) -> rules.FieldErrors:
    errors = rules.missing_roles(h.attendees, "attendees")
    errors += rules.s47_decision_errors(h.s47_decisions, json.loads(d.child_numbers),
                                        "s47_decisions")
    if (h.criminal_investigation == "required") != (h.criminal_investigation_start_by
                                                     is not None):
        errors.append(("criminal_investigation_start_by",
                       "say when the criminal investigation starts"
                       if h.criminal_investigation == "required"
                       else "only when a criminal investigation is required"))
    if h.held_at > now:
        errors.append(("held_at", "cannot be in the future"))
    if any(p.get("agency") == "public" for p in h.attendees):
        errors.append(("attendees", "practitioners only, never a member of the public"))
    return errors


def record_held(ctx: ServiceContext, principal: Principal, meeting_id: str,
                h: Held) -> dict[str, Any]:
    """The discussion took place: who attended, apologies, the criminal investigation, the
    s47 decision per child (opening each child's s47 enquiry unless one is open already)
    and the actions. Recorded by the chair or by business support on the chair's behalf."""
    recordable_user_id(principal)
    with _changing(ctx, principal, meeting_id, "recording it as held",
                   (rules.SCHEDULED,)) as (uow, d):
        now = ctx.clock.now()
        if errors := _held_errors(h, d, now):
            raise invalid_fields("Held discussion refused", errors)
        decisions = []
        for child in sorted(h.s47_decisions):
            enquiry_id = None
            starts = False
            if h.s47_decisions[child]:
                enquiry_id, starts = _open_s47(uow, d, child, h.held_at)
            decisions.append({"child_number": child, "s47_decision": h.s47_decisions[child],
                              "starts_s47": starts, "s47_enquiry_id": enquiry_id})
        d.status, d.held_at = rules.HELD, h.held_at
        d.attendees, d.apologies = json.dumps(h.attendees), json.dumps(h.apologies)
        d.criminal_investigation = h.criminal_investigation
        d.criminal_investigation_start_by = h.criminal_investigation_start_by
        d.s47_decisions, d.s47_decision_rationale = (json.dumps(decisions),
                                                      h.s47_decision_rationale)
        d.actions = json.dumps(h.actions)
        d.minutes_due_at = h.held_at + MINUTES_WITHIN
        uow.session.add(d)
        emit(ctx, uow, d, events.DISCUSSION_HELD, events.discussion_held(
            d, starts_s47=any(x["starts_s47"] for x in decisions)), now)
        for x in decisions:  # each child's ICPC clock starts from its own event
            if x["starts_s47"]:
                emit(ctx, uow, d, events.S47_ENQUIRY_OPENED, events.s47_enquiry_opened(
                    d, child_number=int(str(x["child_number"])),
                    enquiry_id=str(x["s47_enquiry_id"])), now)
        uow.commit()
        return view(uow, d, principal)


def _open_s47(uow: UnitOfWork, d: Discussion, child: int,
              started_at: datetime) -> tuple[str, bool]:
    """The child's s47 enquiry in progress, or a new one started at this discussion."""
    current = uow.session.exec(select(S47Enquiry).where(
        S47Enquiry.case_reference == d.case_reference, S47Enquiry.child_number == child,
        col(S47Enquiry.status) != rules.S47_CONCLUDED)).first()
    if current is not None:
        return current.id, False
    enquiry = S47Enquiry(id=new_id(), case_reference=d.case_reference,
                         partnership=d.partnership, child_number=child, meeting_id=d.id,
                         started_at=started_at, status=rules.S47_OPEN)
    uow.session.add(enquiry)
    return enquiry.id, True


# --- Minutes -------------------------------------------------------------------------------


def sign_off_minutes(ctx: ServiceContext, principal: Principal, meeting_id: str, *,
                     minutes: str) -> dict[str, Any]:
    """The chairing team manager signs off the minutes (DOMAIN.md §7)."""
    user_id = recordable_user_id(principal)
    with _changing(ctx, principal, meeting_id, "signing off the minutes",
                   (rules.HELD,)) as (uow, d):
        if principal.role != Role.TEAM_MANAGER or user_id != d.chair_id:
            raise ProblemHTTPException(403, detail="Only the team manager who chaired the "
                                       "discussion signs off its minutes.")
        d.status, d.minutes = rules.MINUTES_SIGNED_OFF, minutes
        d.signed_off_by, d.signed_off_at = user_id, ctx.clock.now()
        uow.session.add(d)
        uow.commit()
        return view(uow, d, principal)


def circulate_minutes(ctx: ServiceContext, principal: Principal,
                      meeting_id: str) -> dict[str, Any]:
    """Send the signed-off minutes to the attendees (stops the 24 h minutes clock)."""
    recordable_user_id(principal)
    with _changing(ctx, principal, meeting_id, "circulating the minutes",
                   (rules.MINUTES_SIGNED_OFF,)) as (uow, d):
        now = ctx.clock.now()
        d.status, d.circulated_at = rules.MINUTES_CIRCULATED, now
        uow.session.add(d)
        emit(ctx, uow, d, events.MINUTES_CIRCULATED, events.minutes_circulated(d), now)
        uow.commit()
        return view(uow, d, principal)


# --- Views ---------------------------------------------------------------------------------


def summary(d: Discussion) -> dict[str, Any]:
    """A list entry: no names, no free text."""
    return {"meeting_id": d.id, "case_reference": d.case_reference, "status": d.status,
            "trigger": d.trigger, "urgency": d.urgency,
            "child_numbers": json.loads(d.child_numbers),
            "requested_at": _iso(d.requested_at), "starts_at": _iso(d.starts_at),
            "held_at": _iso(d.held_at), "minutes_due_at": _iso(d.minutes_due_at)}


def view(uow: UnitOfWork, d: Discussion, principal: Principal) -> dict[str, Any]:
    """The whole discussion. Staff also see the children's names; a police or health
    participant sees the meeting and its minutes, not the case file."""
    out = {
        **summary(d), "reason": d.reason, "follows_meeting_id": d.follows_meeting_id,
        "requested_by": {"user_id": d.requested_by, "role": d.requested_by_role},
        "schedule": None if d.starts_at is None else {
            "format": d.format, "starts_at": _iso(d.starts_at), "ends_at": _iso(d.ends_at),
            "location": d.location, "dial_in": d.dial_in, "chaired_by": d.chair_id,
            "organiser": {"user_id": d.organiser_id, "role": d.organiser_role},
            "invitees": json.loads(d.invitees), "referrer_invited": d.referrer_invited,
            "sequence": d.sequence, "cancelled_reason": d.cancelled_reason},
        "held": None if d.held_at is None else {
            "held_at": _iso(d.held_at), "attendees": json.loads(d.attendees),
            "apologies": json.loads(d.apologies),
            "criminal_investigation": d.criminal_investigation,
            "criminal_investigation_start_by": _iso(d.criminal_investigation_start_by),
            "s47_decisions": json.loads(d.s47_decisions),
            "s47_decision_rationale": d.s47_decision_rationale,
            "actions": json.loads(d.actions)},
        "minutes": None if d.signed_off_by is None else {
            "text": d.minutes, "signed_off_by": d.signed_off_by,
            "signed_off_at": _iso(d.signed_off_at), "circulated_at": _iso(d.circulated_at)},
    }
    if principal.role in access.STAFF:
        case = uow.session.get(StrategyCase, d.case_reference)
        children = json.loads(case.children) if case else []
        out["children"] = [{"child_number": n, **children[n - 1]}
                           for n in json.loads(d.child_numbers) if n <= len(children)]
    return out


def read(ctx: ServiceContext, principal: Principal, meeting_id: str) -> dict[str, Any]:
    """One discussion, audited."""
    with ctx.unit_of_work() as uow:
        d = access.discussion(ctx, uow, principal, meeting_id, AuditAction.READ)
        return view(uow, d, principal)


def list_for_case(ctx: ServiceContext, principal: Principal,
                  case_reference: str) -> list[dict[str, Any]]:
    """A case's discussions, oldest first (staff of its partnership), audited."""
    with ctx.unit_of_work() as uow:
        case = uow.session.exec(select(StrategyCase).where(
            StrategyCase.case_reference == case_reference,
            StrategyCase.partnership == access.partnership_of(ctx, principal))).first()
        allowed = case is not None and access.case_visible(uow, principal, case_reference)
        access.check(ctx, uow, principal, what="case", resource=access.CASE,
                     resource_id=case_reference, case_reference=case_reference,
                     allowed=allowed, action=AuditAction.READ)
        rows = uow.session.exec(select(Discussion).where(
            Discussion.case_reference == case_reference,
            Discussion.partnership == access.partnership_of(ctx, principal))
            .order_by(col(Discussion.requested_at)))
        return [summary(d) for d in rows]


def list_open(ctx: ServiceContext, principal: Principal, status: str | None,
              limit: int) -> list[dict[str, Any]]:
    """The partnership's discussions, the soonest first; no names (a work list)."""
    with ctx.unit_of_work() as uow:
        query = (select(Discussion)
                 .where(Discussion.partnership == access.partnership_of(ctx, principal),
                        access.visible_sql(principal, Discussion.case_reference))
                 .order_by(col(Discussion.requested_at)).limit(limit))
        if status is not None:
            query = query.where(Discussion.status == status)
        rows = list(uow.session.exec(query))
        audit_listed(uow.session, principal=principal, resource=access.DISCUSSION,
                     listed=[(d.id, d.case_reference, d.partnership) for d in rows],
                     at=ctx.clock.now())
        uow.commit()
        return [summary(d) for d in rows]
