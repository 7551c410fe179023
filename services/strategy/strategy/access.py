"""Need-to-know in strategy (DOMAIN.md §1, §10).

Children's social care staff of a partnership (social workers, team managers, business
support) see its discussions and s47 enquiries; police, health and other practitioners see
a discussion, and its minutes, only when they are invited to it or attended it, and never
the rest of the case. The partnership is part of every query; a staff-linked case is for
team managers only until it is locked down, then only for its named users. Every read and
change is audited, and so is every refusal (a refused read is a 404, like a missing record).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from sqlalchemy import exists
from sqlmodel import col, select

from mashcore.access import lock_down_visible, own_partnership, scope_of
from mashcore.audit import AuditAction, audit, audit_read_or_404, refusals_audited
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext
from strategy.models import CaseAccess, Discussion, S47Enquiry, StrategyCase

STAFF = (Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.BUSINESS_SUPPORT)
DISCUSSION, S47, CASE = "strategy_discussion", "s47_enquiry", "strategy_case"


def partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The one partnership whose records the caller may see (mashcore.access)."""
    return scope_of(principal, ctx.settings.partnership_default).partnership


def in_partnership(ctx: ServiceContext, principal: Principal, column: Any) -> Any:
    """The caller's partnership as a WHERE clause."""
    return own_partnership(scope_of(principal, ctx.settings.partnership_default), column)


def case_visible(uow: UnitOfWork, principal: Principal, case_reference: str) -> bool:
    """Lock-down and staff-linked restrictions (the partnership is in the caller's query)."""
    named = set(uow.session.exec(select(CaseAccess.user_id)
                                 .where(CaseAccess.case_reference == case_reference)))
    if named:
        return principal.subject in named
    case = uow.session.get(StrategyCase, case_reference)
    if case is not None and case.restricted:
        return principal.role == Role.TEAM_MANAGER
    return True


def visible_sql(principal: Principal, case_reference: Any) -> Any:
    """case_visible as SQL, for lists: ``case_reference`` is the listed row's column."""
    restricted = exists().where(col(StrategyCase.case_reference) == case_reference,
                                col(StrategyCase.restricted).is_(True))
    return lock_down_visible(
        scope_of(principal, ""),  # only the lock-down part: callers filter the partnership
        record_key=case_reference, restricted=restricted,
        named_table=CaseAccess, named_key=col(CaseAccess.case_reference),
        named_user=col(CaseAccess.user_id))


def participant(principal: Principal, discussion: Discussion) -> bool:
    """Invited to or attended the discussion (by user id)."""
    people = [*json.loads(discussion.invitees), *json.loads(discussion.attendees)]
    return any(p.get("user_id") == principal.subject for p in people)


def check(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, *, what: str,
          resource: str, resource_id: str, case_reference: str | None, allowed: bool,
          action: AuditAction) -> None:
    """Audit the access (the record is of the caller's partnership: the query said so); a
    refusal is committed and answered 404."""
    partnership = partnership_of(ctx, principal)
    if not allowed or action is AuditAction.READ:
        audit_read_or_404(uow, principal=principal, what=what, resource=resource,
                          resource_id=resource_id, allowed=allowed, at=ctx.clock.now(),
                          case_reference=case_reference, action=action,
                          partnership=partnership)
        return
    audit(uow.session, principal=principal, action=action, resource=resource,
          resource_id=resource_id, at=ctx.clock.now(), case_reference=case_reference,
          partnership=partnership)


def _lock_and_reread(uow: UnitOfWork, row: Any, action: AuditAction) -> None:
    """For a change: one writer per case, then the row as last committed."""
    if row is not None and action is not AuditAction.READ:
        uow.lock_case(row.case_reference)
        uow.session.refresh(row)


def case_for_request(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                     case_reference: str) -> StrategyCase:
    """The case a practitioner asks a discussion for (locked, audited; 404 otherwise)."""
    uow.lock_case(case_reference)
    case = uow.session.exec(select(StrategyCase).where(
        StrategyCase.case_reference == case_reference,
        in_partnership(ctx, principal, StrategyCase.partnership))).first()
    allowed = case is not None and case_visible(uow, principal, case_reference)
    check(ctx, uow, principal, what="case", resource=CASE, resource_id=case_reference,
           case_reference=case_reference, allowed=allowed, action=AuditAction.WRITE)
    assert case is not None
    return case


def discussion(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, meeting_id: str,
               action: AuditAction) -> Discussion:
    """A discussion the caller may see: staff of its partnership, or a participant; for a
    change the case is locked first. Audited; otherwise an audited 404."""
    row = uow.session.exec(select(Discussion).where(
        Discussion.id == meeting_id,
        in_partnership(ctx, principal, Discussion.partnership))).first()
    _lock_and_reread(uow, row, action)
    allowed = (row is not None and (principal.role in STAFF or participant(principal, row))
               and case_visible(uow, principal, row.case_reference))
    check(ctx, uow, principal, what="strategy discussion", resource=DISCUSSION,
           resource_id=meeting_id, case_reference=row.case_reference if row else None,
           allowed=allowed, action=action)
    assert row is not None
    return row


def s47_enquiry(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, enquiry_id: str,
                action: AuditAction) -> S47Enquiry:
    """An s47 enquiry of the caller's partnership (staff only), audited; else a 404."""
    row = uow.session.exec(select(S47Enquiry).where(
        S47Enquiry.id == enquiry_id,
        in_partnership(ctx, principal, S47Enquiry.partnership))).first()
    _lock_and_reread(uow, row, action)
    allowed = (row is not None and principal.role in STAFF
               and case_visible(uow, principal, row.case_reference))
    check(ctx, uow, principal, what="s47 enquiry", resource=S47, resource_id=enquiry_id,
           case_reference=row.case_reference if row else None, allowed=allowed,
           action=action)
    assert row is not None
    return row


def audited_refusals(ctx: ServiceContext, principal: Principal, resource: str,
                     resource_id: str) -> contextlib.AbstractContextManager[None]:
    """A refused change is audited too; a lost race is a 409 (mashcore.audit)."""
    return refusals_audited(ctx, principal, resource=resource, resource_id=resource_id)
