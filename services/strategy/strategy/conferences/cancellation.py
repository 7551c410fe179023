"""Cancelling an ICPC, a review conference or a core group meeting (issue 16).

Children's social care staff (who schedule them) call off a scheduled meeting with a reason
code from ``REASONS``; a held meeting, one not yet scheduled or one already cancelled is a
409. The meeting keeps its id (the calendar invite's UID) and its sequence goes up by one,
so notifications sends a cancellation (METHOD:CANCEL) that the invitees' calendars apply to
the invitation they already have; rescheduling it later is the next version of the same
invite. The cancelled event carries the invitees the last invitation went to, the reason
code and the statutory due date, never a name or free text.

Cancelling does NOT stop or move any clock (DOMAIN.md §8 has no such rule): the ICPC is
still due within 15 working days of the strategy discussion that started the s47, the first
core group within 10 working days of the ICPC, a review on the date the ICPC or the previous
review set. The timekeeper has no handler for these events on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from mashcore.auth import Principal, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.problems import ProblemHTTPException
from mashcore.service import ServiceContext
from mashcore.topics import STRATEGY_CASES
from strategy import access
from strategy.conferences import arrangements

CANCELLED = "cancelled"
SCHEDULED = "scheduled"
REASONS: Mapping[str, str] = {
    "chair_unavailable": "the chair (IRO, team manager or social worker) cannot attend",
    "key_practitioners_unavailable": "practitioners the meeting needs cannot attend",
    "family_unavailable": "the family cannot attend (illness, bereavement, other commitments)",
    "reports_not_ready": "the agencies' reports or assessments are not ready",
    "venue_or_dial_in_unavailable": "the room or the dial-in cannot be used",
    "arranged_in_error": "arranged by mistake, or a duplicate",
}
"""Why a conference or core group is called off: codes only, so no personal data travels
with the cancellation; it is rescheduled (the statutory date still stands)."""
CLOCK_NOTE = ("Cancelling does not stop or move the statutory clock: the meeting is still "
              "due by the same date and should be rescheduled.")

ICPC_CANCELLED = "mash.strategy.icpc.cancelled.v1"
CORE_GROUP_CANCELLED = "mash.strategy.core-group.cancelled.v1"
REVIEW_CANCELLED = "mash.strategy.review-conference.cancelled.v1"


class Cancellable(Protocol):
    id: str
    case_reference: str
    partnership: str
    status: str
    sequence: int
    scheduled_for: Any
    invitees: str
    format: str | None
    ends_at: datetime | None
    location: str | None
    dial_in: str | None
    cancelled_at: datetime | None
    cancelled_reason: str | None


def fields(row: Cancellable) -> dict[str, Any]:
    """For the views: when and why it was last cancelled (none once rescheduled)."""
    return {"cancelled_at": row.cancelled_at.isoformat() if row.cancelled_at else None,
            "cancelled_reason": row.cancelled_reason}


def rescheduled(row: Cancellable) -> None:
    """Scheduling again after a cancellation: the same meeting, its next version."""
    row.status, row.cancelled_at, row.cancelled_reason = SCHEDULED, None, None


def cancel(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, row: Cancellable, *,
           what: str, event_type: str, reason: str, status_key: str,
           extra: dict[str, Any]) -> None:
    """Call off ``row`` (loaded for writing, its case locked) and stage ``event_type`` in
    the same unit of work; ``extra`` adds the kind's own fields (plan, due date)."""
    user_id = recordable_user_id(principal)
    if principal.role not in access.STAFF:
        raise ProblemHTTPException(403, detail="Children's social care staff cancel.")
    if row.status != SCHEDULED:
        raise ProblemHTTPException(
            409, "Not possible in this state",
            f"The {what} {row.id} is {row.status!r}: only a scheduled {what} is cancelled.",
            extra={status_key: row.status})
    if reason not in REASONS:  # the API's schema already refuses it
        raise ProblemHTTPException(422, detail=f"Unknown reason {reason!r}.")
    now = ctx.clock.now()
    row.status, row.cancelled_at, row.cancelled_reason = CANCELLED, now, reason
    row.sequence += 1
    uow.session.add(row)
    data = {
        "meeting_id": row.id, "case_reference": row.case_reference, **extra,
        "scheduled_for": row.scheduled_for.isoformat(), **arrangements.fields(row),
        "invitees": json.loads(row.invitees),
        "organiser": {"role": str(principal.role), "user_id": user_id},
        "sequence": row.sequence, "reason": reason, "cancelled_at": now.isoformat(),
        "clock_unchanged": True,
    }
    ctx.emit(uow, Event(type=event_type, source=ctx.source, subject=row.case_reference,
                        time=now, recordedtime=now, partnership=row.partnership, data=data),
             STRATEGY_CASES)
