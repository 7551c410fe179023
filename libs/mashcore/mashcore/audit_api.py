"""``GET /v1/audit?case_reference=...``: who read or changed a child's record, on every service.

The shared runtime adds it to every service (each keeps its own audit log). A team manager
reads their own partnership's entries only (the partnership is in the query); ops read every
partnership's. The answer is identifiers only, as the log holds them: who (user id), role,
agency, what (read/write, which record), when, outcome; never a child's name. Reading the
audit log is itself audited. Another partnership's case reads exactly like a case nobody has
touched: an empty list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from mashcore.access import Scope, scope_of
from mashcore.audit import AuditAction, AuditEntry, audit
from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import problem_responses

CASE_REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$"
RESOURCE = "audit_log"

Reader = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER, Role.OPS))]


class AuditEntryOut(BaseModel):
    """One access to a record: identifiers only."""

    model_config = ConfigDict(extra="forbid")

    at: datetime
    case_reference: str
    who: str
    role: str
    agency: str
    action: Literal["read", "write"]
    resource: str
    resource_id: str
    outcome: str


def visible(scope: Scope, partnership_default: str) -> ColumnElement[bool]:
    """The audit entries ``scope`` may read: ops every one; a team manager their own
    partnership's (an entry without one was made under the deployment's default)."""
    if scope.role == Role.OPS:
        return true()
    own = col(AuditEntry.partnership) == scope.partnership
    if scope.partnership == partnership_default:
        return or_(own, col(AuditEntry.partnership).is_(None))
    return and_(own)


def router() -> APIRouter:
    """The audit log's read endpoint (hooked into every service by mashcore.service)."""
    api = APIRouter(prefix="/v1", tags=["audit"], responses=problem_responses())

    @api.get("/audit", response_model=list[AuditEntryOut])
    def audit_log(
        request: Request,
        principal: Reader,
        case_reference: Annotated[str, Query(min_length=1, max_length=64,
                                             pattern=CASE_REFERENCE_PATTERN)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> list[AuditEntryOut]:
        """Who read or changed this case's record here, oldest first (team manager of the
        case's partnership, or ops). Identifiers only; this read is audited too."""
        ctx = request.app.state.context
        default = ctx.settings.partnership_default
        scope = scope_of(principal, default)
        with ctx.unit_of_work() as uow:
            rows = uow.session.exec(
                select(AuditEntry)
                .where(col(AuditEntry.case_reference) == case_reference,
                       visible(scope, default))
                .order_by(col(AuditEntry.at), col(AuditEntry.id)).limit(limit)).all()
            entries = [AuditEntryOut(at=r.at, case_reference=case_reference, who=r.actor,
                                     role=r.role, agency=r.agency, action=r.action,
                                     resource=r.resource, resource_id=r.resource_id,
                                     outcome=r.outcome)
                       for r in rows]
            audit(uow.session, principal=principal, action=AuditAction.READ,
                  resource=RESOURCE, resource_id=case_reference, at=ctx.clock.now(),
                  case_reference=case_reference if rows else None,
                  outcome="allowed" if rows else "not_found",
                  partnership=rows[0].partnership if rows else None)
            uow.commit()
        return entries

    return api
