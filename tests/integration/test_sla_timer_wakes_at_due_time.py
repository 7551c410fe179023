"""The timekeeper's timer wakes when a clock falls due, not on a poll (issue 17).

The service runs in this process on the real PostgreSQL server with its timer's fallback
poll set to an hour, so nothing here can be fired by a poll: a breach appears only if the
in-process schedule woke the timer (a clock committed by this replica, or time moved to the
due time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from mashcore.clock import FrozenClock
from mashcore.embedded_bus import EmbeddedBus
from mashcore.outbox import OutboxRecord
from mashcore.service import ServiceContext, create_app
from mashcore.settings import Settings
from sla_timekeeper.models import ClockRow
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.timekeeper import apply_event
from tests.support import contact_received_event, eventually

RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the sample contact's time, Monday
RUNS: list[int] = []  # the timer's finished runs


def counted(run: Callable[[ServiceContext], int]) -> Callable[[ServiceContext], int]:
    def counting(ctx: ServiceContext) -> int:
        done = run(ctx)
        RUNS.append(done)
        return done
    return counting


HOUR_POLL = replace(TIMEKEEPER, timers=[replace(t, interval=3600.0, run=counted(t.run))
                                        for t in TIMEKEEPER.timers])


@contextlib.asynccontextmanager
async def timekeeper_at(postgres_server: Any, tmp_path: Path,
                        now: datetime) -> AsyncIterator[ServiceContext]:
    """The timekeeper running in this process, its clock frozen at ``now``."""
    prefix = f"t_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(f"{prefix}_sla_timekeeper")
    settings = Settings(database_url_template=postgres_server.url(f"{prefix}_{{service}}"),
                        data_dir=tmp_path)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    app = create_app(HOUR_POLL, settings, bus=bus, clock=FrozenClock(now), manage_bus=False)
    try:
        async with app.router.lifespan_context(app):
            RUNS.clear()
            # The timer has looked once (nothing to do) and sleeps: only a wake-up runs it.
            await eventually(lambda: asyncio.sleep(0, len(RUNS)), what="the timer's first run")
            yield app.state.context
    finally:
        await bus.stop()


def start_clocks(ctx: ServiceContext, reference: str) -> datetime:
    """A contact received on Monday 09:00, its clocks committed by this replica; the
    threshold decision's due time."""
    with ctx.unit_of_work() as uow:
        apply_event(ctx, uow, contact_received_event(reference))
        uow.commit()
    with ctx.unit_of_work() as uow:
        [row] = uow.session.exec(select(ClockRow).where(
            ClockRow.case_reference == reference,
            ClockRow.clock == "threshold_decision")).all()
    return row.due_at


def breaches(ctx: ServiceContext, reference: str) -> Callable[[], Awaitable[list[Any]]]:
    """The threshold decision's breach events in the outbox (a check for eventually)."""
    def read() -> list[dict[str, Any]]:
        with ctx.unit_of_work() as uow:
            rows = uow.session.exec(select(OutboxRecord).where(
                OutboxRecord.event_type == "mash.sla.clock.breached.v1")
                .order_by(col(OutboxRecord.id))).all()
        return [d for d in (json.loads(r.payload) for r in rows)
                if d["case_reference"] == reference and d["clock"] == "threshold_decision"]

    async def check() -> list[Any]:
        return await asyncio.to_thread(read)
    return check


async def test_a_clock_is_breached_when_time_reaches_its_due_time_without_a_poll(
    postgres_server: Any, tmp_path: Path,
) -> None:
    async with timekeeper_at(postgres_server, tmp_path, RECEIVED) as ctx:
        clock = ctx.clock
        assert isinstance(clock, FrozenClock)
        due = await asyncio.to_thread(start_clocks, ctx, "MASH-2026-WAKE0001")
        clock.set(due)
        [breached] = await eventually(breaches(ctx, "MASH-2026-WAKE0001"),
                                      what="the breach at the due time")
    assert breached["breached_at"] == due.isoformat()


async def test_a_clock_committed_already_overdue_wakes_the_timer_at_once(
    postgres_server: Any, tmp_path: Path,
) -> None:
    # Recorded late: the service runs three days after the contact was received, so its
    # clocks are overdue when they start; time does not move, and the poll is an hour away.
    async with timekeeper_at(postgres_server, tmp_path, RECEIVED + timedelta(days=3)) as ctx:
        due = await asyncio.to_thread(start_clocks, ctx, "MASH-2026-WAKE0002")
        assert due < ctx.clock.now()
        [breached] = await eventually(breaches(ctx, "MASH-2026-WAKE0002"),
                                      what="the breach of a clock overdue when it started")
    assert breached["breached_at"] == due.isoformat()
