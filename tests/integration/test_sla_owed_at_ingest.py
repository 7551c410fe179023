"""Warnings and breaches a clock already owes when the events that start it are applied
(issue 17): a consumer batch applied at once fires them in its own transaction, from each
clock's state at the end of the batch, exactly as the timer would fire them the moment the
batch committed. Event by event, the timer fires them. Either way the same SLA events, the
same transitions, the same clocks; and a late start whose on-time stop is in the same
batch owes nothing: no breach is published for a clock that ended on time.
Real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.outbox import OutboxRecord
from mashcore.service import ServiceContext
from mashcore.topics import TRIAGE_CASES
from sla_timekeeper.models import ClockRow, TransitionRow
from sla_timekeeper.timekeeper import batch_handler, event_handlers, fire_due_clocks
from tests.integration.sla_support import (
    red_decision,
    timekeeper_engine,  # noqa: F401  (the engine fixture)
)
from tests.support import service_context

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday
H = timedelta(hours=1)


def _completed(case: str, at: datetime) -> Event:
    data = {"episode_id": str(uuid.uuid4()), "case_reference": case,
            "completed_at": at.isoformat(),
            "completed_by": {"user_id": "sw-1", "role": "social_worker"},
            "closed_early": False, "closed_early_reason": None,
            "requests": {"total": 1, "provided": 1, "declined": 0, "outstanding": 0}}
    return Event(type="mash.enquiries.enquiries.completed.v1", source="/mash/enquiries",
                 subject=case, time=at, recordedtime=NOW, partnership="default", data=data,
                 correlationid=case)


def _decided_at(case: str, decided: datetime, due: datetime) -> Event:
    return red_decision(case, decided, due, recorded=NOW)


def _events(tag: str) -> list[Event]:
    """One batch (a backlog read late): five red decisions, two completed in it too."""
    def case(n: int) -> str:
        return f"MASH-2026-{tag}{n:07d}"
    return [
        _decided_at(case(1), NOW - 3.5 * H, NOW + 0.5 * H),  # both warnings owed
        _decided_at(case(2), NOW - 5 * H, NOW - H),  # due an hour ago: breached
        _decided_at(case(3), NOW - 5 * H, NOW - H),  # ... but completed on time
        _decided_at(case(4), NOW - 5 * H, NOW - H),  # ... completed late
        _decided_at(case(5), NOW + H, NOW + 5 * H),  # nothing owed yet
        _completed(case(3), NOW - 2 * H),
        _completed(case(4), NOW - 0.5 * H),
    ]


def _context(engine: Engine, tmp_path: Path, clock: FrozenClock, tag: str) -> ServiceContext:
    return service_context(engine, EmbeddedBus(tmp_path / f"bus-{tag}.sqlite"), clock,
                           name="sla-timekeeper")


def _apply(engine: Engine, ctx: ServiceContext, clock: FrozenClock, events: list[Event], *,
           at_once: bool) -> None:
    consumer = EventConsumer(name="sla-timekeeper", engine=engine, bus=ctx.bus,
                             registry=ctx.registry, clock=clock, handlers=event_handlers(ctx),
                             batch_size=len(events),
                             batch_handler=batch_handler(ctx) if at_once else None)
    asyncio.run(consumer.handle_batch([e.to_message(TRIAGE_CASES) for e in events]))


def _written(engine: Engine, tag: str) -> dict[str, Any]:
    """Per case (by number): its clocks, its transitions and its SLA events in order,
    without ids and references."""
    prefix = f"MASH-2026-{tag}"
    out: dict[str, Any] = {}
    with unit_of_work(engine) as uow:
        for r in uow.session.exec(select(ClockRow).where(
                col(ClockRow.case_reference).startswith(prefix))
                .order_by(col(ClockRow.clock))):
            out.setdefault(r.case_reference[-1], {}).setdefault("clocks", []).append(
                (r.clock, r.status, r.due_at, r.next_wake_at, r.warned, r.breached,
                 r.ended_at))
        for t in uow.session.exec(select(TransitionRow).where(
                col(TransitionRow.case_reference).startswith(prefix))
                .order_by(col(TransitionRow.id))):
            out.setdefault(t.case_reference[-1], {}).setdefault("transitions", []).append(
                (t.kind, t.clock, t.on_time, t.at))
        for o in uow.session.exec(select(OutboxRecord).where(
                col(OutboxRecord.key).startswith(prefix)).order_by(col(OutboxRecord.id))):
            data = {k: v for k, v in json.loads(o.payload).items()
                    if k not in ("clock_id", "case_reference")}
            caused = "ce_causationid" in dict(json.loads(o.headers))
            out.setdefault(o.key[-1], {}).setdefault("events", []).append(
                (o.event_type, caused, data))
    return out


def test_what_a_batch_owes_at_ingest_is_fired_with_it_as_the_timer_would(
    engine: Engine, tmp_path: Path,
) -> None:
    clock = FrozenClock(NOW)
    # Event by event: the timer fires what is owed once the events are applied.
    by_timer = _context(engine, tmp_path, clock, "E")
    _apply(engine, by_timer, clock, _events("E"), at_once=False)
    fired_by_timer = fire_due_clocks(by_timer, NOW)
    # At once: fired in the batch's transaction; the timer then finds nothing owed.
    at_once = _context(engine, tmp_path, clock, "B")
    _apply(engine, at_once, clock, _events("B"), at_once=True)
    assert fire_due_clocks(at_once, NOW) == 0
    assert fired_by_timer == 3  # case 1's two warnings, case 2's breach

    written = _written(engine, "B")
    assert written == _written(engine, "E")
    kinds = {case: [e[0].rsplit(".", 2)[-2] for e in w["events"]]
             for case, w in written.items()}
    assert kinds == {"1": ["started", "warned", "warned"], "2": ["started", "breached"],
                     "3": ["started", "met"], "4": ["started", "breached", "met"],
                     "5": ["started"]}
    met = {case: w["transitions"][-1][2] for case, w in written.items() if case in "34"}
    assert met == {"3": True, "4": False}
    # Fired by the clock, not caused by an event, as the timer's are; case 4's breach is
    # its late stop's (the clocks engine: a stop after the due time is a breach first).
    assert [e[1] for e in written["1"]["events"]] == [True, False, False]
    assert [e[1] for e in written["4"]["events"]] == [True, True, True]


def test_a_clock_owing_nothing_at_the_end_of_the_batch_wakes_the_timer_later(
    engine: Engine, tmp_path: Path,
) -> None:
    """Case 1's next wake is its due time (both warnings fired), not now."""
    clock = FrozenClock(NOW)
    ctx = _context(engine, tmp_path, clock, "W")
    _apply(engine, ctx, clock, _events("W"), at_once=True)
    clocks = _written(engine, "W")["1"]["clocks"]
    assert [(c[0], c[3]) for c in clocks if c[0] == "mash_enquiries"] == [
        ("mash_enquiries", NOW + 0.5 * H)]
    clock.advance(0.5 * H)
    assert fire_due_clocks(ctx) == 1  # the breach, on the dot
