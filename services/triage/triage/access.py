"""Need-to-know for triage (DOMAIN.md §10): who may see or change a case, and the audit.

A case is visible to hub staff of its partnership; a staff-linked case only to team managers
until it is locked down, then only to the named users. Every read and write is audited, and
so is every refusal: a refused read is a 404 that reads like a missing case (nobody learns
that a record they may not see exists); a refused change is audited as ``refused`` even
though its transaction rolls back.
"""

from __future__ import annotations

import contextlib

from sqlmodel import col, select

from mashcore.access import own_partnership, scope_of
from mashcore.audit import AuditAction, Owner, audit, audit_read_or_404, owner_of
from mashcore.audit import refusals_audited as audit_refusals
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext
from triage.models import CaseAccess, TriageCase

RESOURCE = "triage_case"


def partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The one partnership whose cases a member of hub staff may see (need-to-know)."""
    return scope_of(principal, ctx.settings.partnership_default).partnership


def _in_partnership(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                    case_reference: str, *, for_update: bool = False) -> TriageCase | None:
    """The case if it is in the caller's partnership (the predicate is in the query)."""
    query = select(TriageCase).where(
        col(TriageCase.case_reference) == case_reference,
        own_partnership(scope_of(principal, ctx.settings.partnership_default),
                        TriageCase.partnership)).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update()
    return uow.session.exec(query).first()


def owner(uow: UnitOfWork, case_reference: str) -> Owner | None:
    """Whose the case is, for the audit of a refused access only (mashcore.audit.owner_of)."""
    return owner_of(uow.session, col(TriageCase.case_reference), case_reference,
                    partnership_column=col(TriageCase.partnership),
                    case_reference_column=col(TriageCase.case_reference))


def named_users(uow: UnitOfWork, case_reference: str) -> set[str]:
    """The users a locked-down case is restricted to (empty: not locked down)."""
    rows = uow.session.exec(select(CaseAccess.user_id)
                            .where(CaseAccess.case_reference == case_reference))
    return set(rows)


def may_see(principal: Principal, partnership: str, case: TriageCase | None,
            named: set[str]) -> bool:
    """Whether ``principal`` may see ``case`` at all."""
    if case is None or case.partnership != partnership:
        return False
    if named:
        return principal.subject in named
    if case.restricted:
        return principal.role == Role.TEAM_MANAGER
    return True


def load_for_change(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                    case_reference: str) -> TriageCase:
    """The case to change, with the write audited in the same transaction; a 404 (audited
    and committed) if the caller may not see it."""
    uow.lock_case(case_reference)  # one writer per case: commands and consumed events
    case = _in_partnership(ctx, uow, principal, case_reference, for_update=True)
    if not may_see(principal, partnership_of(ctx, principal), case,
                   named_users(uow, case_reference)):
        audit_read_or_404(uow, principal=principal, what="case", resource=RESOURCE,
                          resource_id=case_reference, allowed=False, at=ctx.clock.now(),
                          action=AuditAction.WRITE, owner=owner(uow, case_reference))
    assert case is not None
    audit(uow.session, principal=principal, action=AuditAction.WRITE, resource=RESOURCE,
          resource_id=case_reference, at=ctx.clock.now(), case_reference=case_reference,
          partnership=case.partnership)
    return case


def read(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
         case_reference: str) -> TriageCase:
    """The case to read, audited (and committed) either way; 404 if not allowed."""
    case = _in_partnership(ctx, uow, principal, case_reference)
    allowed = may_see(principal, partnership_of(ctx, principal), case,
                      named_users(uow, case_reference))
    audit_read_or_404(uow, principal=principal, what="case", resource=RESOURCE,
                      resource_id=case_reference, allowed=allowed, at=ctx.clock.now(),
                      case_reference=case_reference,
                      partnership=case.partnership if case else None,
                      owner=None if allowed else owner(uow, case_reference))
    assert case is not None
    return case


def refusals_audited(ctx: ServiceContext, principal: Principal,
                     case_reference: str) -> contextlib.AbstractContextManager[None]:
    """A refused change to a case is audited too (mashcore.audit.refusals_audited)."""
    return audit_refusals(ctx, principal, resource=RESOURCE, resource_id=case_reference)
