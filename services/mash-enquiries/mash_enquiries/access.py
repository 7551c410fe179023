"""Need-to-know in MASH enquiries (DOMAIN.md §1, §10).

A navigator sees only their own agency's requests in their partnership; another agency's
request is a 404, exactly like a missing one. A team manager sees the episodes of their
partnership. A staff-linked case is for team managers only until it is locked down, then
only for its named users (navigators included, once named). Every read and change is
audited, and so is every refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import exists
from sqlalchemy import inspect as sa_inspect
from sqlmodel import col, select

from mash_enquiries.models import CaseAccess, CaseRecord
from mashcore.access import lock_down_visible, own_partnership, scope_of
from mashcore.audit import AuditAction, Owner, audit, audit_read_or_404, owner_of
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext


def partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The one partnership whose records the caller may see (mashcore.access)."""
    return scope_of(principal, ctx.settings.partnership_default).partnership


def case_visible(uow: UnitOfWork, principal: Principal, case_reference: str) -> bool:
    """Lock-down and staff-linked restrictions (the partnership is checked by callers)."""
    named = set(uow.session.exec(select(CaseAccess.user_id)
                                 .where(CaseAccess.case_reference == case_reference)))
    if named:
        return principal.subject in named
    case = uow.session.get(CaseRecord, case_reference)
    if case is not None and case.restricted:
        return principal.role == Role.TEAM_MANAGER
    return True


def visible_sql(principal: Principal, case_reference: Any) -> Any:
    """case_visible as SQL, for lists: ``case_reference`` is the listed row's column."""
    restricted = exists().where(col(CaseRecord.case_reference) == case_reference,
                                col(CaseRecord.restricted).is_(True))
    return lock_down_visible(
        scope_of(principal, ""),  # only the lock-down part: callers filter the partnership
        record_key=case_reference, restricted=restricted,
        named_table=CaseAccess, named_key=col(CaseAccess.case_reference),
        named_user=col(CaseAccess.user_id))


def check(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, *, what: str,
          resource: str, resource_id: str, case_reference: str | None, allowed: bool,
          action: AuditAction, owner: Owner | None = None) -> None:
    """Audit the access; a refusal is committed and answered 404, audited for the record's
    ``owner`` (mashcore.audit.audit_read_or_404) if it exists."""
    if not allowed:
        audit_read_or_404(uow, principal=principal, what=what, resource=resource,
                          resource_id=resource_id, allowed=False, at=ctx.clock.now(),
                          action=action, owner=owner)
    if action is AuditAction.READ:
        audit_read_or_404(uow, principal=principal, what=what, resource=resource,
                          resource_id=resource_id, allowed=True, at=ctx.clock.now(),
                          case_reference=case_reference)
    else:
        audit(uow.session, principal=principal, action=action, resource=resource,
              resource_id=resource_id, at=ctx.clock.now(), case_reference=case_reference)


class _CaseRow(Protocol):
    partnership: str
    case_reference: str


Row = TypeVar("Row", bound=_CaseRow)


def load(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, table: type[Row],
         key: str, *, what: str, resource: str, action: AuditAction,
         also: Callable[[Row], bool] = lambda _row: True) -> Row:
    """A request or episode the caller may see (its partnership, the case's restrictions,
    and ``also``), audited; otherwise an audited 404. The partnership is in the query. To
    change it, the case is locked first (one writer per case) and the row read again as
    committed."""
    key_column = sa_inspect(table).primary_key[0]
    row = uow.session.exec(select(table).where(
        key_column == key, own_partnership(scope_of(principal, ctx.settings.partnership_default),
                                           col(table.partnership)))).first()
    if row is not None and action is not AuditAction.READ:
        uow.lock_case(row.case_reference)
        uow.session.refresh(row)
    allowed = (row is not None and also(row) and case_visible(uow, principal, row.case_reference))
    owner = None
    if not allowed:  # whose it is, for the audit entry only (never shown to the caller)
        owner = (Owner(row.partnership, row.case_reference) if row is not None
                 else owner_of(uow.session, key_column, key,
                               partnership_column=col(table.partnership),
                               case_reference_column=col(table.case_reference)))
    check(ctx, uow, principal, what=what, resource=resource, resource_id=key,
          case_reference=row.case_reference if row is not None else None, allowed=allowed,
          action=action, owner=owner)
    assert row is not None
    return row
