"""Escalation of professional disagreement (DOMAIN.md §7, §8; [003]).

Any professional involved in a case, a partner agency's practitioner included, raises a
disagreement about a decision on it; it goes to stage 1 of the partnership's ladder (its
policy pack's ``escalation_ladder``: names, roles, timescale per stage) and is answered
there by the practitioner it was escalated to, signed in with a role the stage allows
(``answered_by``), within the stage's timescale (``within``, 5 working days by default; a
pack's own ``escalation_stage`` clock with a duration applies instead). The raised event
carries that due time, and the timekeeper's ``escalation_stage`` clock (one per escalation
and stage) takes it. An unresolved answer may be escalated by whoever raised it to the next
stage, to someone who has not answered an earlier one, up to the ladder's last stage (the
safeguarding partnership by default).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, cast, func
from sqlmodel import col, select

from mashcore.audit import AuditAction, audit_listed
from mashcore.auth import Principal, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.policy import Duration, PolicyPack
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import STRATEGY_CASES
from strategy import access, events, rules
from strategy.discussions import agency_code
from strategy.models import Escalation

RESOURCE = "escalation"
STAGE_WITHIN = Duration(amount=5, unit="working_days")


def stage_due(pack: PolicyPack, stage: int, start: datetime) -> datetime:
    """When a stage must answer: the pack's own escalation_stage clock with a duration,
    else the ladder stage's ``within`` (5 working days by default)."""
    own = next((rule for rule in pack.clocks if rule.clock == "escalation_stage"), None)
    if own and own.duration and not own.due_field:
        return pack.due(own.duration, start)
    step = pack.escalation_stage(stage)
    return pack.due(step.within if step else STAGE_WITHIN, start)


def _emit(ctx: ServiceContext, uow: UnitOfWork, e: Escalation, event_type: str,
          data: dict[str, Any], at: datetime) -> None:
    ctx.emit(uow, Event(type=event_type, source=ctx.source, subject=e.case_reference, time=at,
                        recordedtime=at, partnership=e.partnership, data=data),
             STRATEGY_CASES)


def _escalate_to(ctx: ServiceContext, uow: UnitOfWork, e: Escalation, *, stage: int,
                 to: dict[str, str], summary: str, at: datetime) -> None:
    pack = ctx.policy.for_partnership(e.partnership)
    if errors := rules.escalated_to_errors(pack.escalation_ladder, stage, to["role"],
                                           to["user_id"], _answerers(e)):
        raise invalid_fields("Escalation refused", errors)
    e.stage, e.status, e.summary = stage, rules.AWAITING_ANSWER, summary
    e.escalated_to = json.dumps(to)
    e.stage_raised_at = at
    e.due_at = stage_due(pack, stage, at)
    uow.session.add(e)
    _emit(ctx, uow, e, events.ESCALATION_RAISED, events.escalation_raised(e), at)


def raise_disagreement(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                       about: str, summary: str, escalated_to: dict[str, str],
                       ) -> dict[str, Any]:
    """Stage 1 of a new disagreement about a decision on the case."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, access.CASE, case_reference),
          ctx.unit_of_work() as uow):
        case = access.case_for_request(ctx, uow, principal, case_reference)
        now = ctx.clock.now()
        e = Escalation(id=new_id(), case_reference=case.case_reference,
                       partnership=case.partnership, about=about, raised_by=user_id,
                       raised_by_role=str(principal.role),
                       raised_by_agency=agency_code(principal.agency), stage=1,
                       status=rules.AWAITING_ANSWER, summary=summary, escalated_to="{}",
                       stage_raised_at=now, due_at=now)
        _escalate_to(ctx, uow, e, stage=1, to=escalated_to, summary=summary, at=now)
        uow.commit()
        return view(e)


def _load(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, escalation_id: str,
          action: AuditAction) -> Escalation:
    """An escalation of the caller's partnership they are part of (raised it, answer or
    answered a stage) or, for staff, any; locked for a change; audited; else a 404."""
    row = uow.session.exec(select(Escalation).where(
        Escalation.id == escalation_id,
        Escalation.partnership == access.partnership_of(ctx, principal))).first()
    if row is not None and action is not AuditAction.READ:
        uow.lock_case(row.case_reference)
        uow.session.refresh(row)
    involved = row is not None and (
        principal.role in access.STAFF or principal.subject == row.raised_by
        or principal.subject in _answerers(row))
    allowed = involved and row is not None and access.case_visible(uow, principal,
                                                                   row.case_reference)
    access.check(ctx, uow, principal, what="escalation", resource=RESOURCE,
                 resource_id=escalation_id,
                 case_reference=row.case_reference if row else None, allowed=allowed,
                 action=action)
    assert row is not None
    return row


def _answerers(e: Escalation) -> set[str]:
    people = [json.loads(e.escalated_to), *(s["escalated_to"] for s in json.loads(e.history))]
    return {str(p["user_id"]) for p in people if p.get("user_id")}


def answer(ctx: ServiceContext, principal: Principal, escalation_id: str, *, resolved: bool,
           resolution: str) -> dict[str, Any]:
    """The practitioner the stage was escalated to answers it."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, RESOURCE, escalation_id),
          ctx.unit_of_work() as uow):
        e = _load(ctx, uow, principal, escalation_id, AuditAction.WRITE)
        to = json.loads(e.escalated_to)
        if to.get("user_id") != user_id:
            raise ProblemHTTPException(403, detail=f"Stage {e.stage} is answered by the "
                                       "practitioner it was escalated to.")
        ladder = ctx.policy.for_partnership(e.partnership).escalation_ladder
        if not rules.may_answer(ladder, e.stage, str(principal.role)):
            raise ProblemHTTPException(403, detail=f"Stage {e.stage} is not answered with "
                                       f"the role {principal.role}.")
        if e.status != rules.AWAITING_ANSWER:
            raise ProblemHTTPException(409, "Already answered",
                                       f"Stage {e.stage} of {escalation_id} is answered.")
        now = ctx.clock.now()
        e.status = rules.RESOLVED if resolved else rules.UNRESOLVED
        e.history = json.dumps([*json.loads(e.history), {
            "stage": e.stage, "escalated_to": to, "raised_at": e.stage_raised_at.isoformat(),
            "due_at": e.due_at.isoformat(), "summary": e.summary, "resolved": resolved,
            "resolution": resolution, "answered_at": now.isoformat()}])
        uow.session.add(e)
        _emit(ctx, uow, e, events.ESCALATION_ANSWERED, events.escalation_answered(
            e, answered_by=to, resolved=resolved, resolution=resolution, at=now), now)
        uow.commit()
        return view(e)


def escalate(ctx: ServiceContext, principal: Principal, escalation_id: str, *, summary: str,
             escalated_to: dict[str, str]) -> dict[str, Any]:
    """Whoever raised the disagreement takes an unresolved answer to the next stage."""
    user_id = recordable_user_id(principal)
    with (access.audited_refusals(ctx, principal, RESOURCE, escalation_id),
          ctx.unit_of_work() as uow):
        e = _load(ctx, uow, principal, escalation_id, AuditAction.WRITE)
        if e.raised_by != user_id:
            raise ProblemHTTPException(403, detail="Only whoever raised the disagreement "
                                       "escalates it.")
        if e.status != rules.UNRESOLVED:
            raise ProblemHTTPException(409, "Not possible in this state", (
                f"Stage {e.stage} is {e.status!r}: only an unresolved answer is escalated."))
        ladder = ctx.policy.for_partnership(e.partnership).escalation_ladder
        if e.stage >= len(ladder):
            raise ProblemHTTPException(409, "Last stage", f"Stage {e.stage} "
                                       f"({ladder[-1].name}) is the ladder's last stage.")
        _escalate_to(ctx, uow, e, stage=e.stage + 1, to=escalated_to, summary=summary,
                     at=ctx.clock.now())
        uow.commit()
        return view(e)


def view(e: Escalation) -> dict[str, Any]:
    """The disagreement, its current stage and every stage answered so far."""
    return {"escalation_id": e.id, "case_reference": e.case_reference, "about": e.about,
            "raised_by": {"user_id": e.raised_by, "role": e.raised_by_role,
                          "agency": e.raised_by_agency},
            "stage": e.stage, "status": e.status, "summary": e.summary,
            "escalated_to": json.loads(e.escalated_to),
            "stage_raised_at": e.stage_raised_at.isoformat(), "due_at": e.due_at.isoformat(),
            "stages": json.loads(e.history)}


def _answerer_sql(dialect: str) -> Any:
    """The current stage's ``escalated_to.user_id`` as SQL (the column holds JSON text)."""
    if dialect == "postgresql":
        return func.json_extract_path_text(cast(col(Escalation.escalated_to), JSON), "user_id")
    return func.json_extract(col(Escalation.escalated_to), "$.user_id")


def list_to_answer(ctx: ServiceContext, principal: Principal,
                   limit: int) -> list[dict[str, Any]]:
    """The open stages the caller may answer: of their partnership, awaiting an answer,
    escalated to them (their user id) at a stage their token role answers on the
    partnership's ladder (``may_answer``), on a case they may see; all in the query. The
    earliest answer deadline first; no free text (a work list). Audited."""
    partnership = access.partnership_of(ctx, principal)
    ladder = ctx.policy.for_partnership(partnership).escalation_ladder
    stages = [step.stage for step in ladder if rules.may_answer(ladder, step.stage,
                                                                str(principal.role))]
    with ctx.unit_of_work() as uow:
        dialect = uow.session.connection().dialect.name
        rows = list(uow.session.exec(
            select(Escalation)
            .where(Escalation.partnership == partnership,
                   Escalation.status == rules.AWAITING_ANSWER,
                   col(Escalation.stage).in_(stages),
                   _answerer_sql(dialect) == principal.subject,
                   access.visible_sql(principal, Escalation.case_reference))
            .order_by(col(Escalation.due_at), col(Escalation.id)).limit(limit)))
        audit_listed(uow.session, principal=principal, resource=RESOURCE,
                     listed=[(e.id, e.case_reference, e.partnership) for e in rows],
                     at=ctx.clock.now())
        uow.commit()
        names = {step.stage: step.name for step in ladder}
        return [{"escalation_id": e.id, "case_reference": e.case_reference,
                 "about": e.about, "stage": e.stage, "stage_name": names.get(e.stage, ""),
                 "status": e.status,
                 "raised_by": {"role": e.raised_by_role, "agency": e.raised_by_agency},
                 "stage_raised_at": e.stage_raised_at.isoformat(),
                 "due_at": e.due_at.isoformat()} for e in rows]


def read(ctx: ServiceContext, principal: Principal, escalation_id: str) -> dict[str, Any]:
    """One escalation, audited."""
    with ctx.unit_of_work() as uow:
        return view(_load(ctx, uow, principal, escalation_id, AuditAction.READ))
