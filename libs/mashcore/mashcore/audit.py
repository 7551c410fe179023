"""Audit log: every read and write of a child's record, by whom, under which role."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Field, Session, SQLModel

from mashcore.auth import Principal
from mashcore.clock import Clock
from mashcore.db import UnitOfWork, utc_column
from mashcore.problems import ProblemHTTPException


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
    """Stage an audit entry in the caller's transaction. ``partnership`` is the record's;
    without it, the caller's (the two are the same wherever the query enforced it)."""
    session.add(
        AuditEntry(
            at=at,
            actor=principal.subject,
            role=str(principal.role),
            agency=principal.agency,
            action=str(action),
            resource=resource,
            resource_id=resource_id,
            case_reference=case_reference,
            outcome=outcome,
            partnership=partnership or principal.partnership,
        )
    )


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
) -> None:
    """Record an access to a child's record, or its refusal, and commit it.

    A refusal is then a 404 that reads exactly like a missing record: someone without a
    need to know must not learn that the record exists (DOMAIN.md §10).
    """
    audit(uow.session, principal=principal, action=action, resource=resource,
          resource_id=resource_id, at=at, case_reference=case_reference if allowed else None,
          outcome="allowed" if allowed else "not_found",
          partnership=partnership if allowed else None)
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
