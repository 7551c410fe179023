"""The timekeeper's timer racing with a stop (issue 13, one writer per case): while a
replica applies a threshold decision made within the time (it holds the case's lock and
has read the clock), the timer of another replica comes to the same clock, now due. The
timer leaves a case being changed for its next run, so the decision meets the clock and no
breach is ever published. Forced on the real PostgreSQL server: the decision's unit of work
is held open at the engine call while the timer runs.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import select

import sla_timekeeper.timekeeper as timekeeper_module
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import unit_of_work
from sla_timekeeper.models import ClockRow
from sla_timekeeper.timekeeper import event_handlers, fire_due_clocks
from tests.integration.sla_support import (
    replica,
    threshold_events,
    timekeeper_engine,  # noqa: F401  (the engine fixture)
)
from tests.support import contact_received_event

WAIT_S = 60.0


def test_the_timer_leaves_a_clock_whose_stop_is_being_applied_and_never_breaches_it(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    received = contact_received_event("MASH-2026-T1MER001")
    clock = FrozenClock(received.time)
    ctx = replica(engine, tmp_path, clock)
    handlers = event_handlers(ctx)
    consumer = EventConsumer(name="sla-timekeeper.pipeline", engine=engine, bus=ctx.bus,
                             registry=ctx.registry, clock=clock, handlers=handlers)
    consumer._apply(received, handlers[received.type])
    with unit_of_work(engine) as uow:
        [row] = uow.session.exec(select(ClockRow).where(
            ClockRow.case_reference == received.subject,
            ClockRow.clock == "threshold_decision")).all()
    due = row.due_at
    decided = due - timedelta(minutes=1)  # within the time
    decision = received.follow_up(
        type="mash.triage.threshold.decided.v1", source="/mash/test", time=decided,
        recordedtime=decided, data={"decided_at": decided.isoformat(), "route": "nfa"})
    clock.set(due + timedelta(seconds=1))  # the decision is applied just after the due time

    inside, go = threading.Event(), threading.Event()
    original = timekeeper_module.engine_on_event
    held = [False]

    def held_open(*args: Any, **kwargs: Any) -> Any:
        if not held[0]:  # the first attempt: case locked, clocks read; wait for the timer
            held[0] = True
            inside.set()
            assert go.wait(WAIT_S)
        return original(*args, **kwargs)

    monkeypatch.setattr(timekeeper_module, "engine_on_event", held_open)
    errors: list[BaseException] = []

    def apply_decision() -> None:
        for _attempt in range(3):  # as the consumer does: a stale clock is tried again
            try:
                consumer._apply(decision, handlers[decision.type])
                return
            except StaleDataError:
                continue
            except BaseException as error:  # reported to the test
                errors.append(error)
                return

    worker = threading.Thread(target=apply_decision)
    worker.start()
    try:
        assert inside.wait(WAIT_S)
        # Another replica's timer, at the same moment: the clock is due.
        fire_due_clocks(replica(engine, tmp_path, clock))
    finally:
        go.set()
        worker.join(WAIT_S)
    assert not errors
    assert threshold_events(engine, "breached") == []
    [met] = threshold_events(engine, "met")
    assert met["on_time"] is True
    # And the timer owes the case nothing afterwards.
    clock.set(due + timedelta(days=3))
    fire_due_clocks(replica(engine, tmp_path, clock))
    assert threshold_events(engine, "breached") == []
