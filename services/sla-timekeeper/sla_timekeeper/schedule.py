"""The timer's in-process schedule: when the next clock falls due, so the timer sleeps until
then instead of polling (issue 17).

The durable table stays the truth (``sla_clock.next_wake_at``, claimed with SKIP LOCKED and
the version column): this only says *when* to look. After each run the timer reads the
earliest ``next_wake_at`` (one indexed row); a clock started, moved or extended in this
process tells the schedule its new wake time once its transaction has committed, and an
earlier one wakes the timer at once; a move of an injected clock (tests) wakes it too.
Changes committed by another replica are seen at the timer's fallback poll (its interval).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event, func
from sqlmodel import Session, col, select

from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext
from sla_timekeeper.clocks import RUNNING
from sla_timekeeper.models import ClockRow


class NextWake:
    """The earliest known wake time of this service's clocks (thread-safe)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._clock = ctx.clock
        self._lock = threading.Lock()
        self._next: datetime | None = None
        self._noted: datetime | None = None  # noted while a refresh reads the table
        self._refreshing = False
        self._wake: Callable[[], None] = lambda: None
        subscribe = getattr(ctx.clock, "subscribe", None)
        if subscribe is not None:  # an injected clock that moves (tests): look when it does
            subscribe(lambda: self._wake())

    def bind(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def seconds_left(self) -> float | None:
        with self._lock:
            due = self._next
        return None if due is None else (due - self._clock.now()).total_seconds()

    def note(self, due: datetime) -> None:
        """A committed clock is next owed something at ``due``: wake the timer if sooner."""
        with self._lock:
            if self._refreshing:
                self._noted = due if self._noted is None else min(self._noted, due)
            sooner = self._next is None or due < self._next
            if sooner:
                self._next = due
        if sooner:
            self._wake()

    def refresh(self, ctx: ServiceContext) -> None:
        """Re-read the earliest wake time from the table (after the timer's run). A change
        committed while it reads is kept too (noted meanwhile), so none is lost."""
        with self._lock:
            self._refreshing, self._noted = True, None
        try:
            with Session(ctx.engine) as session:
                earliest = session.exec(select(func.min(col(ClockRow.next_wake_at)))
                                        .where(col(ClockRow.status) == RUNNING)).one()
        except BaseException:
            with self._lock:
                self._refreshing = False
            raise
        with self._lock:
            self._refreshing = False
            candidates = [d for d in (earliest, self._noted) if d is not None]
            self._next = min(candidates) if candidates else None


_SCHEDULES: dict[int, NextWake] = {}
_GUARD = threading.Lock()


def schedule_for(ctx: ServiceContext) -> NextWake:
    """The schedule of this service context (one per replica), created on first use."""
    key = id(ctx)
    with _GUARD:
        found = _SCHEDULES.get(key)
        if found is None:
            found = _SCHEDULES[key] = NextWake(ctx)
            weakref.finalize(ctx, _SCHEDULES.pop, key, None)
    return found


def after_commit(ctx: ServiceContext, uow: UnitOfWork, due: datetime | None) -> None:
    """Tell the schedule about ``due`` once ``uow`` has committed (not if it rolls back)."""
    if due is None:
        return
    schedule = schedule_for(ctx)
    pending: list[datetime] = uow.session.info.setdefault("sla_next_wake", [])
    first = not pending
    pending.append(due)
    if first:
        def committed(_session: object) -> None:
            times = uow.session.info.pop("sla_next_wake", [])
            if times:
                schedule.note(min(times))

        # Rolled back: never called (the session of a unit of work ends with it).
        event.listen(uow.session, "after_commit", committed, once=True)
