"""Audit log: every read and write of a child's record, by whom, under which role."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Table, literal, select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Field, Session, SQLModel

from mashcore.auth import Principal
from mashcore.clock import Clock
from mashcore.db import UnitOfWork, utc_column
from mashcore.problems import ProblemHTTPException
from mashcore.staged import stage


class AuditAction(StrEnum):
    """What was done to the record."""

    READ = "read"
    WRITE = "write"


class AuditEntry(SQLModel, table=True):
    """One access to one record. Holds identifiers only, never the record's content."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column())
    actor: str = Field(max_length=200)
    role: str = Field(max_length=50)
    agency: str = Field(max_length=100)
    action: str = Field(max_length=20)
    resource: str = Field(max_length=100)
    resource_id: str = Field(max_length=200)
    case_reference: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=20)
    partnership: str | None = Field(default=None, max_length=100)
    """The partnership of the record read (else the caller's): whose team managers may read
    this entry (``GET /v1/audit``). None: the caller had no partnership claim (the default)."""


_AUDIT_LOG: Table = AuditEntry.__table__  # type: ignore[attr-defined]


def audit(
    session: Session,
    *,
    principal: Principal,
    action: AuditAction,
    resource: str,
    resource_id: str,
    at: datetime,
    case_reference: str | None = None,
    outcome: str = "allowed",
    partnership: str | None = None,
) -> None:
    """Stage an audit entry in the caller's transaction, written when it commits
    (``mashcore.staged``). ``partnership`` is the record's; without it, the caller's (the two
    are the same wherever the query enforced it)."""
    stage(session, _AUDIT_LOG, [{
        "at": at,
        "actor": principal.subject,
        "role": str(principal.role),
        "agency": principal.agency,
        "action": str(action),
        "resource": resource,
        "resource_id": resource_id,
        "case_reference": case_reference,
        "outcome": outcome,
        "partnership": partnership or principal.partnership,
    }])


@dataclass(frozen=True)
class Owner:
    """Whose a record is that a caller was refused: for the audit entry only, never shown to
    the caller. ``case_reference`` is None for a record that is not a child's case."""

    partnership: str
    case_reference: str | None = None


def owner_of(session: Session, key_column: Any, key: str, *, partnership_column: Any,
             case_reference_column: Any = None) -> Owner | None:
    """The owner of the record whose ``key_column`` is ``key``, whoever may see it; None if
    there is no such record. Only to file the audit entry of a refused access under the
    record's partnership (``audit_read_or_404(owner=...)``): what it finds is never returned
    to the caller, so it is not a fetch-then-check (access stays in the query)."""
    reference = case_reference_column if case_reference_column is not None else literal(None)
    row = session.execute(select(partnership_column, reference)
                          .where(key_column == key).limit(1)).first()
    return None if row is None else Owner(partnership=row[0], case_reference=row[1])


def audit_read_or_404(
    uow: UnitOfWork,
    *,
    principal: Principal,
    what: str,
    resource: str,
    resource_id: str,
    allowed: bool,
    at: datetime,
    case_reference: str | None = None,
    action: AuditAction = AuditAction.READ,
    partnership: str | None = None,
    owner: Owner | None = None,
) -> None:
    """Record an access to a child's record, or its refusal, and commit it.

    A refusal is then a 404 that reads exactly like a missing record: someone without a
    need to know must not learn that the record exists (DOMAIN.md §10). It is audited for the
    record's owner: when the record exists (``owner``, from ``owner_of``; or ``partnership``
    and ``case_reference`` of a record loaded but refused by need-to-know), the entry is
    ``refused``, with the case reference, filed under the owner's partnership, so the owner's
    team manager sees the attempt in ``GET /v1/audit`` and another partnership's caller can
    read nothing of it. When it does not exist: ``not_found``, no case reference, filed under
    the caller's partnership.
    """
    if allowed:
        outcome, filed_reference, filed_partnership = "allowed", case_reference, partnership
    else:
        if owner is None and partnership is not None:
            owner = Owner(partnership=partnership, case_reference=case_reference)
        if owner is not None:
            outcome, filed_reference = "refused", owner.case_reference
            filed_partnership = owner.partnership
        else:
            outcome, filed_reference, filed_partnership = "not_found", None, None
    audit(uow.session, principal=principal, action=action, resource=resource,
          resource_id=resource_id, at=at, case_reference=filed_reference, outcome=outcome,
          partnership=filed_partnership)
    uow.commit()
    if not allowed:
        raise ProblemHTTPException(404, f"{what[:1].upper()}{what[1:]} not found",
                                   f"No {what} {resource_id}.")


class _Transactional(Protocol):
    """What refusals_audited needs of a service context."""

    clock: Clock

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]: ...


@contextlib.contextmanager
def refusals_audited(ctx: _Transactional, principal: Principal, *, resource: str,
                     resource_id: str) -> Iterator[None]:
    """Audit a refused change to a child's record even though its transaction rolls back.

    A 403, 409 or 422 raised inside is recorded as ``refused`` in its own transaction (a 404
    has been audited as ``not_found`` already). A change that lost a race with another
    (SQLAlchemy's version check, ``StaleDataError``) is answered 409: reload and try again.
    """
    try:
        yield
    except StaleDataError:
        _refused(ctx, principal, resource, resource_id)
        raise ProblemHTTPException(
            409, "Changed by someone else",
            f"{resource_id} changed while you were acting on it: reload it and try again."
        ) from None
    except ProblemHTTPException as exc:
        if exc.status_code != 404:
            _refused(ctx, principal, resource, resource_id)
        raise


def _refused(ctx: _Transactional, principal: Principal, resource: str,
             resource_id: str) -> None:
    with ctx.unit_of_work() as uow:
        audit(uow.session, principal=principal, action=AuditAction.WRITE, resource=resource,
              resource_id=resource_id, at=ctx.clock.now(), outcome="refused")
        uow.commit()


def audit_listed(session: Session, *, principal: Principal, resource: str,
                 listed: list[tuple[str, str | None, str | None]], at: datetime) -> None:
    """Stage the audit of a list: one entry per record listed, ``(id, case reference,
    partnership)``, or one ``empty`` entry. A list is a read too (issue 12)."""
    for resource_id, case_reference, partnership in listed:
        audit(session, principal=principal, action=AuditAction.READ, resource=resource,
              resource_id=resource_id, case_reference=case_reference, at=at,
              partnership=partnership)
    if not listed:
        audit(session, principal=principal, action=AuditAction.READ, resource=resource,
              resource_id="-", at=at, outcome="empty")
