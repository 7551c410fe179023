"""Refused clock changes are audited for the clock's owner (issue 12; mashcore.audit).

An extension of a clock the caller may not see (another partnership's) or that does not
exist (or was stopped early, which reads as not existing) is a 404 exactly like a missing
clock; the audit entry is filed under the clock's partnership with its case reference
(``refused``), so that partnership's team manager sees the attempt in ``GET /v1/audit`` and
the caller learns nothing, or under the caller's without one (``not_found``). A case's
clocks asked for by another partnership's manager (an empty list, as for a case without
clocks) are audited the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from sqlmodel import col

from mashcore.access import scope_of
from mashcore.audit import AuditAction, Owner, audit, audit_read_or_404, owner_of
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext
from sla_timekeeper.models import ClockRow


def clock_not_found(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, clock_id: str,
                    row: ClockRow | None) -> NoReturn:
    """Audit the refused extension for the clock's owner, commit it, and answer 404."""
    owner = (Owner(row.partnership, row.case_reference) if row is not None
             else owner_of(uow.session, col(ClockRow.clock_id), clock_id,
                           partnership_column=col(ClockRow.partnership),
                           case_reference_column=col(ClockRow.case_reference)))
    audit_read_or_404(uow, principal=principal, what="clock", resource="sla_clock",
                      resource_id=clock_id, allowed=False, at=ctx.clock.now(),
                      action=AuditAction.WRITE, owner=owner)
    raise AssertionError("audit_read_or_404 raises when not allowed")


def audit_clocks_read(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                      case_reference: str, rows: Sequence[ClockRow]) -> None:
    """Stage the audit of a read of a case's clocks: ``allowed`` under the case's
    partnership; ``refused`` under the owner's if the case's clocks are another
    partnership's (the caller was answered an empty list); else ``not_found``."""
    if rows:
        audit(uow.session, principal=principal, action=AuditAction.READ, resource="sla_clock",
              resource_id=case_reference, at=ctx.clock.now(), case_reference=case_reference,
              partnership=rows[0].partnership)
        return
    owner = owner_of(uow.session, col(ClockRow.case_reference), case_reference,
                     partnership_column=col(ClockRow.partnership),
                     case_reference_column=col(ClockRow.case_reference))
    mine = scope_of(principal, ctx.settings.partnership_default).partnership
    refused = (owner is not None and principal.role != Role.OPS
               and owner.partnership != mine)
    audit(uow.session, principal=principal, action=AuditAction.READ, resource="sla_clock",
          resource_id=case_reference, at=ctx.clock.now(),
          case_reference=owner.case_reference if refused and owner else None,
          outcome="refused" if refused else "not_found",
          partnership=owner.partnership if refused and owner else None)
