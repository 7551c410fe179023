"""Child protection plans (DOMAIN.md §7; [004]): one per child, made at the ICPC, with its
actions (what, by whom by role and agency, by when, status) and the record of the copy given
to the child (when, in what form and language). Staff and IROs see every plan of the
partnership; a core group member sees the plans they are in. Audited; partnership in the
query; the case is locked first in every change.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from mashcore.audit import AuditAction
from mashcore.auth import Principal, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.ids import new_id
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from strategy import access
from strategy.conferences import rules
from strategy.conferences.icpc import READERS, case_rows, for_agency
from strategy.conferences.models import (
    ChildProtectionPlan,
    CoreGroupMeeting,
    PlanAction,
    ReviewConference,
)
from strategy.discussions import agency_code

PLAN = "child_protection_plan"


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def action_view(a: PlanAction) -> dict[str, Any]:
    return {"action_id": a.id, "what": a.what, "owner_role": a.owner_role,
            "owner_agency": a.owner_agency, "due_on": _iso(a.due_on), "status": a.status,
            "note": a.note, "updated_at": _iso(a.updated_at),
            "updated_at_meeting": a.updated_at_meeting}


def actions_of(uow: UnitOfWork, plan_id: str) -> list[PlanAction]:
    return list(uow.session.exec(select(PlanAction).where(PlanAction.plan_id == plan_id)
                                 .order_by(col(PlanAction.due_on), col(PlanAction.id))))


def view(uow: UnitOfWork, p: ChildProtectionPlan) -> dict[str, Any]:
    """A plan, its actions, its core group meetings and the child's copy."""
    meetings = uow.session.exec(select(CoreGroupMeeting).where(
        CoreGroupMeeting.plan_id == p.id).order_by(col(CoreGroupMeeting.scheduled_at)))
    reviews = list(uow.session.exec(select(ReviewConference).where(
        ReviewConference.plan_id == p.id).order_by(col(ReviewConference.scheduled_at))))
    return {
        "plan_id": p.id, "case_reference": p.case_reference, "child_number": p.child_number,
        "icpc_meeting_id": p.icpc_id, "status": p.status, "started_at": _iso(p.started_at),
        "category_of_abuse": json.loads(p.category_of_abuse),
        "core_group": json.loads(p.core_group), "outline_plan": p.outline_plan,
        "first_review_due_on": _iso(p.first_review_due_on),
        "copy_given_to_child": ({"given_on": _iso(p.copy_given_on), "form": p.copy_form,
                                 "language": p.copy_language}
                                if p.copy_given_on else None),
        "actions": [action_view(a) for a in actions_of(uow, p.id)],
        "core_groups": [{"meeting_id": m.id, "first": m.first, "status": m.status,
                         "scheduled_for": _iso(m.scheduled_for), "held_at": _iso(m.held_at),
                         "minutes_due_at": _iso(m.minutes_due_at)} for m in meetings],
        "next_review_due_on": _iso((p.next_review_due_on or p.first_review_due_on)
                                   if p.status == "active" else None),
        "reviews": [{"meeting_id": r.id, "first": r.first, "status": r.status,
                     "due_on": _iso(r.due_on), "scheduled_for": _iso(r.scheduled_for),
                     "held_at": _iso(r.held_at), "decision": r.decision} for r in reviews],
        "ended_at": _iso(p.ended_at), "end_reason": p.end_reason,
    }


def in_core_group(principal: Principal, p: ChildProtectionPlan) -> bool:
    return any(m.get("user_id") == principal.subject for m in json.loads(p.core_group))


def plan(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, plan_id: str,
         action: AuditAction) -> ChildProtectionPlan:
    """A plan of the caller's partnership they may see (staff, IROs or its core group);
    for a change the case is locked first. Audited; otherwise an audited 404."""
    row = uow.session.exec(select(ChildProtectionPlan).where(
        ChildProtectionPlan.id == plan_id,
        access.in_partnership(ctx, principal, ChildProtectionPlan.partnership))).first()
    if row is not None and action is not AuditAction.READ:
        uow.lock_case(row.case_reference)
        uow.session.refresh(row)
    allowed = (row is not None and (principal.role in READERS or in_core_group(principal, row))
               and access.case_visible(uow, principal, row.case_reference))
    access.check(ctx, uow, principal, what="child protection plan", resource=PLAN,
                 resource_id=plan_id, case_reference=row.case_reference if row else None,
                 allowed=allowed, action=action)
    assert row is not None
    return row


def meeting_of_plan(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                    model: Any, meeting_id: str, action: AuditAction, *, what: str,
                    resource: str, core_group_reads: bool) -> tuple[Any, ChildProtectionPlan]:
    """A plan's meeting (``model``: core group or review conference) of the caller's
    partnership with its plan, for staff and IROs, its invitees, and (``core_group_reads``)
    the plan's core group; for a change the case is locked first and both rows re-read.
    Audited as ``what``/``resource``; otherwise an audited 404."""
    row = uow.session.exec(select(model).where(
        model.id == meeting_id,
        access.in_partnership(ctx, principal, model.partnership))).first()
    if row is not None and action is not AuditAction.READ:
        uow.lock_case(row.case_reference)
        uow.session.refresh(row)
    p = uow.session.get(ChildProtectionPlan, row.plan_id) if row else None
    invited = row is not None and any(
        x.get("user_id") == principal.subject for x in json.loads(row.invitees))
    member = core_group_reads and p is not None and in_core_group(principal, p)
    allowed = (row is not None and p is not None
               and (principal.role in READERS or invited or member)
               and access.case_visible(uow, principal, row.case_reference))
    access.check(ctx, uow, principal, what=what, resource=resource, resource_id=meeting_id,
                 case_reference=row.case_reference if row else None, allowed=allowed,
                 action=action)
    assert row is not None and p is not None
    if action is not AuditAction.READ:
        uow.session.refresh(p)
    return row, p


def read(ctx: ServiceContext, principal: Principal, plan_id: str) -> dict[str, Any]:
    """One plan, audited: whole for staff and IROs; for a core group member of another
    agency, what concerns their agency (as the conference's per-agency view): its own
    members of the core group and its own actions, never the outline plan's free text."""
    with ctx.unit_of_work() as uow:
        whole = view(uow, plan(ctx, uow, principal, plan_id, AuditAction.READ))
        if principal.role in READERS:
            return whole
        return for_agency(whole, agency_code(principal.agency))


def list_for_case(ctx: ServiceContext, principal: Principal,
                  case_reference: str) -> list[dict[str, Any]]:
    """A case's plans (staff and IROs), audited."""
    with ctx.unit_of_work() as uow:
        rows = case_rows(ctx, uow, principal, case_reference, ChildProtectionPlan,
                         col(ChildProtectionPlan.started_at),
                         col(ChildProtectionPlan.child_number))
        return [view(uow, p) for p in rows]


def _active(p: ChildProtectionPlan) -> None:
    if p.status != "active":
        raise ProblemHTTPException(409, "Plan ended", f"The plan {p.id} has ended.")


def add_actions(uow: UnitOfWork, p: ChildProtectionPlan, new: list[dict[str, Any]],
                at: datetime, meeting_id: str | None) -> None:
    for a in new:
        uow.session.add(PlanAction(
            id=new_id(), plan_id=p.id, what=a["what"], owner_role=a["owner_role"],
            owner_agency=a.get("owner_agency"), due_on=a["due_on"], status="open",
            updated_at=at, updated_at_meeting=meeting_id))


def update_actions(uow: UnitOfWork, p: ChildProtectionPlan, updates: list[dict[str, Any]],
                   at: datetime, meeting_id: str | None) -> None:
    known = {a.id: a for a in actions_of(uow, p.id)}
    if errors := rules.action_update_errors(updates, list(known)):
        raise invalid_fields("Update refused", errors)
    for u in updates:
        a = known[u["action_id"]]
        a.status, a.note = u["status"], u.get("note", a.note)
        a.updated_at, a.updated_at_meeting = at, meeting_id
        uow.session.add(a)


def change_actions(ctx: ServiceContext, principal: Principal, plan_id: str, *,
                   new: list[dict[str, Any]], updates: list[dict[str, Any]],
                   ) -> dict[str, Any]:
    """The social worker or team manager adds actions or updates their status between
    meetings."""
    recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, PLAN, plan_id), ctx.unit_of_work() as uow):
        p = plan(ctx, uow, principal, plan_id, AuditAction.WRITE)
        if principal.role not in access.STAFF:
            raise ProblemHTTPException(403, detail="Children's social care staff only.")
        _active(p)
        now = ctx.clock.now()
        update_actions(uow, p, updates, now, None)
        add_actions(uow, p, new, now, None)
        uow.commit()
        return view(uow, p)


def copy_given(ctx: ServiceContext, principal: Principal, plan_id: str, *, given_on: date,
               form: str, language: str | None) -> dict[str, Any]:
    """Record that the child was given a copy of the plan, when and in what form."""
    recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, PLAN, plan_id), ctx.unit_of_work() as uow):
        p = plan(ctx, uow, principal, plan_id, AuditAction.WRITE)
        if principal.role not in access.STAFF:
            raise ProblemHTTPException(403, detail="Children's social care staff only.")
        if given_on > ctx.clock.now().date() or given_on < p.started_at.date():
            raise invalid_fields("Copy refused", [
                ("given_on", "between the plan's start and today")])
        p.copy_given_on, p.copy_form, p.copy_language = given_on, form, language
        uow.session.add(p)
        uow.commit()
        return view(uow, p)
