"""When a contact really came in (DOMAIN.md §8: the timescales count from it).

Hub staff record a contact that came in earlier (a phone call written up later) by giving
``received_at`` on ``POST /v1/contacts``, and correct a wrong time with
``POST /v1/contacts/{id}/time-correction``: who and in what role (the audit log and the
correction's row), why (a reason code, and a note that stays here), announced as
``mash.intake.contact.time-corrected.v1`` so the SLA clocks counted from the contact follow.
Partner systems cannot set the time: their contacts are received when they are sent. A time
is never in the future nor older than the partnership's ``contact_time_limit_days``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Text
from sqlmodel import Field as SqlField
from sqlmodel import SQLModel, col, select

from intake import access, events
from intake.checks import repeat_index
from intake.contacts import routing
from intake.contacts.api_models import IsoDateTimeText
from intake.contacts.models import Contact
from mashcore.audit import AuditAction, audit
from mashcore.auth import Principal, Role, require_roles
from mashcore.db import utc_column
from mashcore.envelope import Event, parse_time
from mashcore.problems import ProblemHTTPException, problem_responses
from mashcore.service import Context, ServiceContext
from mashcore.topics import INTAKE_CONTACTS

ReasonCode = Literal["recorded_late", "wrong_time_entered", "system_clock_error", "other"]
HubStaff = Annotated[
    Principal, Depends(require_roles(Role.INFORMATION_OFFICER, Role.TEAM_MANAGER))
]


class ContactTimeCorrection(SQLModel, table=True):
    """One correction of when a contact came in: who, in what role, why."""

    __tablename__ = "contact_time_correction"

    id: int | None = SqlField(default=None, primary_key=True)
    contact_id: str = SqlField(foreign_key="contact.id", max_length=36, index=True)
    previous_received_at: datetime = SqlField(sa_column=utc_column())
    received_at: datetime = SqlField(sa_column=utc_column())
    reason_code: str = SqlField(max_length=40)
    note: str = SqlField(sa_column=Column(Text, nullable=False))
    corrected_by: str = SqlField(max_length=200)
    corrected_by_role: str = SqlField(max_length=50)
    corrected_at: datetime = SqlField(sa_column=utc_column())


class TimeCorrectionIn(BaseModel):
    """When the contact really came in, and why the recorded time was wrong."""

    model_config = ConfigDict(extra="forbid")

    received_at: IsoDateTimeText = Field(
        description="When the contact really came in, with its UTC offset: not in the "
        "future, not older than the partnership's limit (7 days by default).")
    reason_code: ReasonCode = Field(
        description="`recorded_late` (a phone call recorded after it came in), "
        "`wrong_time_entered`, `system_clock_error` or `other`.")
    note: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="What happened, for the record (kept in intake, never on an event).")


def _invalid(field: str, message: str) -> ProblemHTTPException:
    return ProblemHTTPException(
        422, "Invalid contact time", f"Faulty fields: {field}",
        extra={"errors": [{"field": field, "message": message}]})


def checked_time(ctx: ServiceContext, partnership: str, value: str, now: datetime,
                 field: str = "received_at") -> datetime:
    """``value`` as an instant, refused (422 naming ``field``) in the future or older than
    the partnership's limit."""
    try:
        when = parse_time(value)
    except ValueError as exc:
        raise _invalid(field, "must be an ISO 8601 date-time with its UTC offset") from exc
    if when > now:
        raise _invalid(field, "must not be in the future")
    limit = ctx.policy.for_partnership(partnership).contact_time_limit_days
    if when < now - timedelta(days=limit):
        raise _invalid(field, f"must be within the last {limit} days")
    return when


def received_at(ctx: ServiceContext, principal: Principal, partnership: str,
                given: str | None, now: datetime) -> datetime:
    """When a new contact came in: now, or the earlier time hub staff give."""
    if given is None:
        return now
    if principal.role not in routing.HUB_ROLES:
        raise _invalid("received_at", "only hub staff record when a contact came in; a "
                       "partner system's contact is received when it is sent")
    return checked_time(ctx, partnership, given, now)


def correct_time(ctx: ServiceContext, principal: Principal, contact_id: str,
                 body: TimeCorrectionIn) -> dict[str, Any]:
    """Record the corrected time with who and why, and announce it in the same transaction."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        # One writer per case; the caller's partnership and need-to-know in the query.
        contact = access.contact_to_change(ctx, uow, principal, contact_id)  # audited 404
        corrected = checked_time(ctx, contact.partnership, body.received_at, now)
        previous = contact.received_at
        if corrected == previous:
            last = uow.session.exec(
                select(ContactTimeCorrection)
                .where(ContactTimeCorrection.contact_id == contact.id)
                .order_by(col(ContactTimeCorrection.id).desc())).first()
            if last is None or last.reason_code != body.reason_code:
                raise _invalid("received_at", "is the time already recorded")
            # The same correction again (a retry): answered as it was, announced once.
            return _answer(contact, last.previous_received_at, corrected, last.reason_code)
        contact.received_at = corrected
        uow.session.add(contact)
        repeat_index.move_received_at(uow.session, contact.id, corrected)
        uow.session.add(ContactTimeCorrection(
            contact_id=contact.id, previous_received_at=previous, received_at=corrected,
            reason_code=body.reason_code, note=body.note, corrected_by=principal.subject,
            corrected_by_role=str(principal.role), corrected_at=now))
        data = {"contact_id": contact.id, "case_reference": contact.case_reference,
                "previous_received_at": previous.isoformat(),
                "received_at": corrected.isoformat(), "corrected_at": now.isoformat(),
                "corrected_by": {"user_id": principal.subject, "role": str(principal.role)},
                "reason_code": body.reason_code}
        ctx.emit(uow, Event(type=events.CONTACT_TIME_CORRECTED, source=ctx.source,
                            subject=contact.case_reference, time=now, recordedtime=now,
                            partnership=contact.partnership, data=data), INTAKE_CONTACTS)
        audit(uow.session, principal=principal, action=AuditAction.WRITE,
              resource="contact_time", resource_id=contact.id,
              case_reference=contact.case_reference, at=now)
        uow.commit()
    return _answer(contact, previous, corrected, body.reason_code)


def _answer(contact: Contact, previous: datetime, corrected: datetime,
            reason_code: str) -> dict[str, Any]:
    return {"contact_id": contact.id, "case_reference": contact.case_reference,
            "previous_received_at": previous.isoformat(),
            "received_at": corrected.isoformat(), "reason_code": reason_code}


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """The contact's time, corrected by hub staff."""
    api = APIRouter(prefix="/v1", tags=["contacts"], responses=problem_responses())

    @api.post("/contacts/{contact_id}/time-correction")
    def time_correction(contact_id: str, body: TimeCorrectionIn, ctx: Context,
                        principal: HubStaff) -> dict[str, Any]:
        """Correct when the contact really came in (who and why are recorded; audited).
        The SLA clocks counted from it follow while they run."""
        return correct_time(ctx, principal, contact_id, body)

    return [api]
