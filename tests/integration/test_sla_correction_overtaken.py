"""A contact's time corrected while its threshold decision was still owed, but applied by
the timekeeper after the decision (intake's and triage's topics are not ordered with each
other; two replicas take them as they come): the decision is judged from the corrected
time, as if the two had arrived in order (issue 13, clocks follow every change). On the
real PostgreSQL server, through two replicas' consumers and the durable timer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import unit_of_work
from sla_timekeeper.models import ClockRow
from sla_timekeeper.timekeeper import event_handlers, fire_due_clocks
from tests.integration.sla_support import (
    replica,
    timekeeper_engine,  # noqa: F401  (the engine fixture)
)
from tests.integration.sla_support import threshold_events as sla_events
from tests.support import contact_received_event

WRONG = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # Friday, entered by mistake
REALLY = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday: when the call came in
CORRECTED_AT = REALLY + timedelta(minutes=30)
DECIDED = REALLY + timedelta(hours=2)  # within a working day of the real time


def test_a_correction_applied_after_the_decision_it_preceded_leaves_no_breach(
    engine: Engine, tmp_path: Path,
) -> None:
    clock = FrozenClock(DECIDED + timedelta(minutes=1))
    consumers = []
    for _ in range(2):
        ctx = replica(engine, tmp_path, clock)
        consumers.append((EventConsumer(
            name="sla-timekeeper.pipeline", engine=ctx.engine, bus=ctx.bus,
            registry=ctx.registry, clock=ctx.clock, handlers=event_handlers(ctx)),
            event_handlers(ctx)))
    reference = "MASH-2026-C0RR0001"
    sample = contact_received_event(reference)
    received = replace(sample, time=WRONG, recordedtime=WRONG,
                       data={**sample.data, "received_at": WRONG.isoformat()})
    correction = received.follow_up(
        type="mash.intake.contact.time-corrected.v1", source="/mash/test", time=CORRECTED_AT,
        recordedtime=CORRECTED_AT,
        data={"contact_id": sample.data["contact_id"], "case_reference": reference,
              "previous_received_at": WRONG.isoformat(), "received_at": REALLY.isoformat(),
              "corrected_at": CORRECTED_AT.isoformat(),
              "corrected_by": {"user_id": "tm-1", "role": "team_manager"},
              "reason_code": "wrong_time_entered"})
    decision = received.follow_up(
        type="mash.triage.threshold.decided.v1", source="/mash/test", time=DECIDED,
        recordedtime=DECIDED, data={"decided_at": DECIDED.isoformat(), "route": "nfa"})
    # The correction's topic lags: the decision reaches one replica first, the correction
    # the other replica afterwards.
    first, second = consumers
    first[0]._apply(received, first[1][received.type])
    first[0]._apply(decision, first[1][decision.type])
    second[0]._apply(correction, second[1][correction.type])

    with unit_of_work(engine) as uow:
        [row] = uow.session.exec(select(ClockRow).where(
            ClockRow.case_reference == reference,
            ClockRow.clock == "threshold_decision")).all()
    assert (row.status, row.started_at, row.ended_at, row.breached) == (
        "met", REALLY, DECIDED, False)
    assert row.due_at > DECIDED
    # The last word on the decision is on time, and the timer owes it nothing later.
    assert sla_events(engine, "met")[-1]["on_time"] is True
    clock.set(DECIDED + timedelta(days=3))
    breaches = len(sla_events(engine, "breached"))
    fire_due_clocks(replica(engine, tmp_path, clock))
    assert len(sla_events(engine, "breached")) == breaches
