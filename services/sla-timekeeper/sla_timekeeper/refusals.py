"""Refused clock changes are audited for the clock's owner (issue 12; mashcore.audit).

An extension of a clock the caller may not see (another partnership's) or that does not
exist (or was stopped early, which reads as not existing) is a 404 exactly like a missing
clock; the audit entry is filed under the clock's partnership with its case reference
(``refused``), so that partnership's team manager sees the attempt in ``GET /v1/audit`` and
the caller learns nothing, or under the caller's without one (``not_found``).
"""

from __future__ import annotations

from typing import NoReturn

from sqlmodel import col

from mashcore.audit import AuditAction, Owner, audit_read_or_404, owner_of
from mashcore.auth import Principal
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
