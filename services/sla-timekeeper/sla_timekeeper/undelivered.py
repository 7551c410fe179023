"""Undelivered notices: a hub must know the school was never told (issue 16).

The timekeeper follows the notifications service's outcomes: a ``notification.failed``
that will not be retried (the notice is dead) puts the notice on a small list; a later
``notification.sent`` for the same notification (a manual resend delivered it) takes it off.
Only codes are kept: the notification id, partnership, kind, case reference, failure code and
since when; never an address or a body. The dashboard shows those of the last 30 days (its
horizon, as for breach rates): the count per partnership to ops and, to a team manager of that
partnership, the case references (a read, audited).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, delete, func
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col, select

from mashcore.audit import audit_listed
from mashcore.auth import Principal
from mashcore.consumer import BatchHandler, EventHandler
from mashcore.db import UnitOfWork, utc_column
from mashcore.envelope import Event
from mashcore.service import ServiceContext

SENT = "mash.notifications.notification.sent.v1"
FAILED = "mash.notifications.notification.failed.v1"
RESOURCE = "undelivered_notice"
SHOWN = 50  # case references listed per partnership (the oldest first); the count is all
WINDOW = timedelta(days=30)  # the dashboard's horizon, as for its breach rates


class UndeliveredNotice(SQLModel, table=True):
    """A notice that was never delivered and will not be retried (codes only)."""

    __tablename__ = "undelivered_notice"
    # The dashboard reads the window's notices by since (a range, covering the partnership):
    # a small table, of the last 30 days' final failures.
    __table_args__ = (Index("ix_undelivered_notice_since", "since", "partnership"),)

    notification_id: str = Field(primary_key=True, max_length=36)
    partnership: str = Field(max_length=100)
    kind: str = Field(max_length=40)
    case_reference: str = Field(max_length=32)
    reason_code: str = Field(max_length=40)
    since: datetime = Field(sa_column=utc_column())


def on_failed(event: Event, uow: UnitOfWork) -> None:
    """A final failure puts the notice on the list (once: a redelivery changes nothing)."""
    data = event.data
    if data["will_retry"]:
        return
    row = uow.session.get(UndeliveredNotice, data["notification_id"])
    if row is None:
        row = UndeliveredNotice(notification_id=data["notification_id"],
                                partnership=event.partnership, kind=data["kind"],
                                case_reference=data["case_reference"],
                                reason_code=data["failure_reason_code"],
                                since=datetime.fromisoformat(data["failed_at"]))
    else:  # a resend that failed for good again: the latest reason
        row.reason_code = data["failure_reason_code"]
    uow.session.add(row)


def on_sent(event: Event, uow: UnitOfWork) -> None:
    """Delivered after all (a resend): no longer undelivered."""
    uow.session.execute(delete(UndeliveredNotice).where(
        col(UndeliveredNotice.notification_id) == event.data["notification_id"]))


def with_notices(base: Callable[[ServiceContext], Mapping[str, EventHandler]],
                 ) -> Callable[[ServiceContext], Mapping[str, EventHandler]]:
    """The consumer's handlers, plus the undelivered list's (both run for ``sent``, which
    also stops the referrer feedback clocks), in the same transaction."""
    def handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
        merged = dict(base(ctx))
        stops_clocks = merged.get(SENT)

        def sent(event: Event, uow: UnitOfWork) -> None:
            if stops_clocks is not None:
                stops_clocks(event, uow)
            on_sent(event, uow)

        merged[SENT], merged[FAILED] = sent, on_failed
        return merged

    return handlers


def without_notices(base: Callable[[ServiceContext], BatchHandler],
                    ) -> Callable[[ServiceContext], BatchHandler]:
    """The consumer's batch handler, for every event type but the notifications' outcomes
    (``with_notices`` adds to their handling: a batch with one is applied event by event)."""
    def batch(ctx: ServiceContext) -> BatchHandler:
        handler = base(ctx)
        return replace(handler, types=frozenset(handler.types) - {SENT, FAILED})

    return batch


def read(session: Session, partnerships: list[str] | None,
         now: datetime) -> list[dict[str, Any]]:
    """Per partnership (in the caller's partnerships, in SQL): how many notices failed for
    good in the last 30 days; and, for a partnership-scoped caller (a team manager), which."""
    recent = col(UndeliveredNotice.since) >= now - WINDOW
    counts = sa_select(col(UndeliveredNotice.partnership), func.count()).where(recent)
    if partnerships is not None:
        counts = counts.where(col(UndeliveredNotice.partnership).in_(partnerships))
    totals = session.execute(counts.group_by(col(UndeliveredNotice.partnership))).all()
    result = []
    for partnership, count in sorted(totals):
        entry: dict[str, Any] = {"partnership": partnership, "count": int(count)}
        if partnerships is not None:
            rows = session.exec(
                select(UndeliveredNotice)
                .where(col(UndeliveredNotice.partnership) == partnership, recent)
                .order_by(col(UndeliveredNotice.since)).limit(SHOWN)).all()
            entry["notices"] = [{"notification_id": r.notification_id,
                                 "case_reference": r.case_reference, "kind": r.kind,
                                 "reason_code": r.reason_code, "since": r.since.isoformat()}
                                for r in rows]
        result.append(entry)
    return result


def listed(summary: Mapping[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """The notices a summary shows by case reference, as audit_listed wants them."""
    return [(n["notification_id"], n["case_reference"], entry["partnership"])
            for entry in summary.get("undelivered_notices", [])
            for n in entry.get("notices", [])]


def audit_shown(ctx: ServiceContext, principal: Principal,
                shown: list[tuple[str, str | None, str | None]]) -> None:
    """Audit the case references shown to this caller (nothing shown, nothing written)."""
    if not shown:
        return
    with ctx.unit_of_work() as uow:
        audit_listed(uow.session, principal=principal, resource=RESOURCE, listed=shown,
                     at=ctx.clock.now())
        uow.commit()
