"""Audit log: every read and write of a child's record, by whom, under which role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel

from mashcore.auth import Principal
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
) -> None:
    """Stage an audit entry in the caller's transaction."""
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
) -> None:
    """Record an access to a child's record, or its refusal, and commit it.

    A refusal is then a 404 that reads exactly like a missing record: someone without a
    need to know must not learn that the record exists (DOMAIN.md §10).
    """
    audit(uow.session, principal=principal, action=action, resource=resource,
          resource_id=resource_id, at=at, case_reference=case_reference if allowed else None,
          outcome="allowed" if allowed else "not_found")
    uow.commit()
    if not allowed:
        raise ProblemHTTPException(404, f"{what[:1].upper()}{what[1:]} not found",
                                   f"No {what} {resource_id}.")
