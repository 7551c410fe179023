"""The delivery log (issue 16): what was sent, to whom by role and agency, and how it went.

``GET /v1/notifications?case_reference=...`` (or ``?status=dead``, or both) lists the
notifications for ops (every partnership) and team managers (their own partnership: the
partnership is in the SQL query, mashcore.access). Each row says the kind, channel,
recipient role and agency (never an address: none is stored), status, attempts, the last
failure's code, times, and the event that caused it. Each case listed is a read of that
child's record: audited under the case's partnership (mashcore.audit); a case reference
asked for and not visible is audited ``not_found`` (or ``refused`` for the owner's managers,
as for the timekeeper's clocks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from mashcore.access import own_partnership, scope_of
from mashcore.audit import AuditAction, audit, owner_of
from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import problem_responses
from mashcore.service import Context, ServiceContext
from mashcore.strict_types import IsoDateTime
from notifications.models import Notification

Reader = Annotated[Principal, Depends(require_roles(Role.OPS, Role.TEAM_MANAGER))]
Status = Literal["pending", "sent", "dead", "not_required"]
RESOURCE = "notification"


class NotificationOut(BaseModel):
    """One message of the delivery log: codes, roles and times only."""

    notification_id: str
    case_reference: str
    partnership: str
    kind: str
    channel: str
    recipient_role: str
    recipient_agency: str
    status: Status
    attempts: int
    last_failure_code: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    caused_by_event_id: str
    caused_by_event_type: str


def _visible(ctx: ServiceContext, principal: Principal) -> ColumnElement[bool]:
    """Ops see every partnership; a team manager their own, in the query."""
    if principal.role == Role.OPS:
        return true()
    return own_partnership(scope_of(principal, ctx.settings.partnership_default),
                           Notification.partnership)


def _view(row: Notification) -> NotificationOut:
    return NotificationOut(
        notification_id=row.id, case_reference=row.case_reference,
        partnership=row.partnership, kind=row.kind, channel=row.channel,
        recipient_role=row.recipient_role, recipient_agency=row.recipient_agency,
        status=row.status,
        attempts=row.attempts, last_failure_code=row.last_failure_code,
        created_at=row.created_at, next_attempt_at=row.next_attempt_at, sent_at=row.sent_at,
        caused_by_event_id=row.caused_by_event_id,
        caused_by_event_type=row.caused_by_event_type)


def router(_ctx: ServiceContext) -> list[APIRouter]:
    api = APIRouter(prefix="/v1", tags=["notifications"], responses=problem_responses())

    @api.get("/notifications", response_model=list[NotificationOut])
    def delivery_log(
        ctx: Context, principal: Reader,
        case_reference: Annotated[str | None, Query(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$",
            description="One case's notifications.")] = None,
        status: Annotated[Status | None, Query(
            description="Only notifications in this status, e.g. dead.")] = None,
        created_since: Annotated[IsoDateTime | None, Query(
            description="Only notifications queued at or after this instant (with its UTC "
            "offset).")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[NotificationOut]:
        """The delivery log, newest first: by case, by status, or both (ops: every
        partnership; a team manager: their own). No addresses, no bodies."""
        query = select(Notification).where(_visible(ctx, principal))
        if case_reference is not None:
            query = query.where(col(Notification.case_reference) == case_reference)
        if status is not None:
            query = query.where(col(Notification.status) == status)
        if created_since is not None:
            query = query.where(col(Notification.created_at) >= created_since)
        query = query.order_by(col(Notification.created_at).desc(),
                               col(Notification.id)).limit(limit)
        with ctx.unit_of_work() as uow:
            rows = uow.session.exec(query).all()
            now = ctx.clock.now()
            cases = {r.case_reference: r.partnership for r in rows}
            for reference, partnership in cases.items():
                audit(uow.session, principal=principal, action=AuditAction.READ,
                      resource=RESOURCE, resource_id=reference, at=now,
                      case_reference=reference, partnership=partnership)
            if case_reference is not None and not rows:
                owner = owner_of(uow.session, col(Notification.case_reference),
                                 case_reference,
                                 partnership_column=col(Notification.partnership),
                                 case_reference_column=col(Notification.case_reference))
                mine = scope_of(principal, ctx.settings.partnership_default).partnership
                refused = (owner is not None and principal.role != Role.OPS
                           and owner.partnership != mine)
                audit(uow.session, principal=principal, action=AuditAction.READ,
                      resource=RESOURCE, resource_id=case_reference, at=now,
                      case_reference=case_reference if refused else None,
                      outcome="refused" if refused else "not_found",
                      partnership=owner.partnership if refused and owner else None)
            uow.commit()
            return [_view(r) for r in rows]

    return [api]
