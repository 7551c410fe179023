"""The SLA timekeeper's cost per event and per fired clock, as counts of SQL statements on the
real PostgreSQL server (issue 17): deterministic, unlike a time. A batch of clock-starting
events is applied in one transaction by the batched consumer; a storm of due clocks is fired
in one batch. The bounds are what the code does today; a change that goes back to a
statement per row fails them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from mashcore import counters
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.counters import EVENTS_HANDLED
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.inbox import InboxRecord
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import OutboxRecord
from mashcore.topics import INTAKE_CONTACTS
from sla_timekeeper.models import ClockRow, TransitionRow
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.timekeeper import batch_handler, event_handlers, fire_due_clocks
from tests.integration.sla_support import red_decision
from tests.support import contact_received_event, service_context

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FIRED = ["mash.sla.clock.warned.v1", "mash.sla.clock.breached.v1"]  # Tuesday 09:00
CASES = 100


@pytest.fixture(name="engine")
def timekeeper_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TIMEKEEPER.migrations)
    yield engine
    engine.dispose()


class Statements:
    """Counts the SQL statements sent on an engine (an executemany counts once)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.texts: list[str] = []
        self._engine = engine

    def __enter__(self) -> Statements:
        sa_event.listen(self._engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: Any) -> None:
        sa_event.remove(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.count += 1
        self.texts.append(statement.split("\n", 1)[0][:80])


def _consumer(engine: Engine, tmp_path: Path, clock: FrozenClock, *,
              at_once: bool = False) -> EventConsumer:
    bus = EmbeddedBus(tmp_path / f"bus-{at_once}.sqlite")
    ctx = service_context(engine, bus, clock, name="sla-timekeeper")
    return EventConsumer(name="sla-timekeeper", engine=engine, bus=bus,
                         registry=ctx.registry, clock=clock, handlers=event_handlers(ctx),
                         batch_size=CASES,
                         batch_handler=batch_handler(ctx) if at_once else None)


def _consume_batch(engine: Engine, tmp_path: Path, clock: FrozenClock, *,
                   at_once: bool = False) -> Statements:
    consumer = _consumer(engine, tmp_path, clock, at_once=at_once)
    events = [contact_received_event(f"MASH-2026-STMT{i:04d}",
                                     contact_id=str(uuid.UUID(int=i + 1)))
              for i in range(CASES)]
    messages = [e.to_message(INTAKE_CONTACTS) for e in events]

    with Statements(engine) as seen:
        asyncio.run(consumer.handle_batch(messages))
    return seen


def test_a_batch_of_clock_starting_events_costs_a_bounded_number_of_statements(
    engine: Engine, tmp_path: Path,
) -> None:
    seen = _consume_batch(engine, tmp_path, FrozenClock(NOW))
    with unit_of_work(engine) as uow:
        clocks = uow.session.exec(select(func.count()).select_from(ClockRow)).one()
        started = uow.session.exec(select(func.count()).select_from(OutboxRecord).where(
            col(OutboxRecord.event_type) == "mash.sla.clock.started.v1")).one()
    assert clocks == started and clocks >= 3 * CASES  # every clock of every case, applied
    print(f"\n{seen.count} statements for {CASES} events, {clocks} clocks")
    # Per event: its savepoint and release, its inbox row, its clocks, their transitions,
    # their outbox rows (each one INSERT of several rows). Per batch: the parked-event and
    # inbox look-ups, the cases' locks (one statement), the clocks of all its cases (one
    # query), the commit's few. Before issue 17's batching: a lock and a clock query per
    # event as well (805 for these 100 events).
    assert seen.count <= 6 * CASES + 10, seen.texts[:40]
    assert sum("pg_advisory_xact_lock" in t for t in seen.texts) == 1
    assert sum(t.startswith("SELECT sla_clock") for t in seen.texts) == 1


def test_a_batch_of_clock_starting_events_applied_at_once_costs_a_few_statements_in_all(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    copies = _spy_copies(monkeypatch)
    seen = _consume_batch(engine, tmp_path, FrozenClock(NOW), at_once=True)
    with unit_of_work(engine) as uow:
        clocks = uow.session.exec(select(func.count()).select_from(ClockRow)).one()
        started = uow.session.exec(select(func.count()).select_from(OutboxRecord).where(
            col(OutboxRecord.event_type) == "mash.sla.clock.started.v1")).one()
        recorded = uow.session.exec(select(func.count()).select_from(TransitionRow).where(
            col(TransitionRow.kind) == "started")).one()
        warned = uow.session.exec(select(func.count()).select_from(OutboxRecord).where(
            col(OutboxRecord.event_type) == "mash.sla.clock.warned.v1")).one()
        inbox = uow.session.exec(select(func.count()).select_from(InboxRecord)).one()
        handled = counters.read(uow.session, EVENTS_HANDLED)
    assert clocks == started == recorded and clocks >= 3 * CASES
    # The contacts came in a day ago: the warnings their clocks already owe are fired with
    # them, in the same statements (timekeeper.apply_events).
    assert warned >= CASES
    assert inbox == CASES
    assert handled == [(("sla-timekeeper", "mash.intake.contact.received.v1"), CASES)]
    print(f"\n{seen.count} statements for {CASES} events, {clocks} clocks")
    # The batch's handler (issue 17, SLA ingest): per batch, the parked-event and inbox
    # look-ups, the cases' locks, one savepoint and its release, the clocks of all its
    # cases (one query), the commit's counters: no savepoint, flush or INSERT per event
    # (607 statements for these 100 events event by event). The inbox rows, the clocks,
    # the transitions and the outbox rows go as one COPY each (below the engine's events).
    assert seen.count <= 12, seen.texts
    assert sum("SAVEPOINT" in t for t in seen.texts) == 2  # SAVEPOINT and its RELEASE
    assert not any(t.startswith(("INSERT INTO inbox", "INSERT INTO sla_", "INSERT INTO outbox"))
                   for t in seen.texts), seen.texts
    assert [c.split(" (", 1)[0] for c in copies] == [
        "COPY inbox", "COPY sla_clock", "COPY sla_transition", "COPY outbox"], copies


def test_a_batch_applied_at_once_writes_what_it_writes_event_by_event(
    engine: Engine, tmp_path: Path,
) -> None:
    """The same events (contacts, then red decisions, interleaved, one delivered twice)
    for two sets of cases: each event's handler in turn, and the batch handler at once;
    the clocks, the transitions and the outbox rows are the same, in the same order per
    case. The contacts came in a day before NOW: their clocks already owe warnings, which
    the timer fires after the events applied one by one, and the batch fires with them."""
    clock = FrozenClock(NOW)
    for at_once, tag in ((False, "E"), (True, "B")):
        events = []
        for i in range(10):
            case = f"MASH-2026-{tag}{i:07d}"
            events.append(contact_received_event(case, contact_id=str(uuid.uuid4())))
        for i in range(0, 10, 2):  # half the cases decided red in the same batch
            events.append(_decided_red(f"MASH-2026-{tag}{i:07d}"))
        events.insert(3, events[1])  # a duplicate delivery inside the batch
        consumer = _consumer(engine, tmp_path, clock, at_once=at_once)
        with Statements(engine) as seen:
            asyncio.run(consumer.handle_batch([e.to_message(INTAKE_CONTACTS)
                                               for e in events]))
        # One savepoint for the batch, not one per event, either way: without the batch
        # handler, each event's handler in turn with a flush after each. The inbox rows go
        # in one COPY either way, not an INSERT each.
        assert sum(t.startswith("SAVEPOINT") for t in seen.texts) == 1
        assert not any(t.startswith("INSERT INTO inbox") for t in seen.texts)
        # Delivered again (the offsets lost): nothing more.
        asyncio.run(consumer.handle_batch([e.to_message(INTAKE_CONTACTS) for e in events]))
        timer = service_context(engine, EmbeddedBus(tmp_path / f"timer-{tag}.sqlite"), clock,
                                name="sla-timekeeper")
        fired = fire_due_clocks(timer, NOW)
        assert (fired == 0) if at_once else (fired > 0)
    assert _written(engine, "B") == _written(engine, "E")
    assert len(_written(engine, "B")["outbox"]) > 30


def _decided_red(case: str) -> Event:
    decided = NOW + timedelta(hours=1)
    return red_decision(case, decided, decided + timedelta(hours=4), recorded=decided)


def _written(engine: Engine, tag: str) -> dict[str, Any]:
    """What the timekeeper wrote for the cases of one tag, by case number (ids left out, and
    the version: a clock started and changed in one batch is written once at once); the
    transitions and outbox rows in order per clock (the timer fires due clocks in due order,
    a batch in its events' order; two clocks due at one instant in either order)."""
    prefix = f"MASH-2026-{tag}"
    with unit_of_work(engine) as uow:
        clocks = sorted(
            (r.case_reference[-7:], r.clock, r.instance, r.status, r.brag, r.due_at,
             r.next_wake_at, r.warned, r.breached, r.ended_at, r.duration)
            for r in uow.session.exec(select(ClockRow).where(
                col(ClockRow.case_reference).startswith(prefix))))
        transitions = [(r.case_reference[-7:], r.kind, r.clock, r.on_time, r.at)
                       for r in uow.session.exec(select(TransitionRow).where(
                           col(TransitionRow.case_reference).startswith(prefix))
                           .order_by(col(TransitionRow.id)))]
        transitions.sort(key=lambda t: (t[0], t[2]))  # stable: each clock's order kept
        outbox = [(r.key[-7:], r.event_type, json.loads(r.payload)["clock"])
                  for r in uow.session.exec(select(OutboxRecord).where(
                      col(OutboxRecord.key).startswith(prefix))
                      .order_by(col(OutboxRecord.id)))]
        outbox.sort(key=lambda o: (o[0], o[2]))
    return {"clocks": clocks, "transitions": transitions, "outbox": outbox}


def _spy_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    copies: list[str] = []
    copy = psycopg.Cursor.copy

    def spy(cursor: psycopg.Cursor[Any], statement: str, *args: Any, **kwargs: Any) -> Any:
        copies.append(statement)
        return copy(cursor, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    return copies


def test_a_storm_batch_with_a_clock_that_cannot_fire_fires_every_other_clock_once(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FrozenClock(NOW)
    _consume_batch(engine, tmp_path, clock)
    with unit_of_work(engine) as uow:
        # A clock no rule knows any more (say, a pack edited wrongly), in the middle of the
        # storm: due with the others.
        uow.session.add(ClockRow(
            clock_id=str(uuid.uuid4()), clock="retired_clock", case_reference="MASH-2026-BADCL0CK",
            partnership="default", started_at=NOW - timedelta(days=9),
            due_at=NOW - timedelta(days=8), duration="{}", status="running",
            next_wake_at=NOW + timedelta(days=1)))
        uow.commit()
    clock.set(NOW + timedelta(days=3))
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus2.sqlite"), clock,
                          name="sla-timekeeper")
    copies = _spy_copies(monkeypatch)
    with Statements(engine) as seen:
        fired = fire_due_clocks(ctx)
    # The claim, the case locks, one UPDATE (executemany) of the clocks, the failing
    # clock's retry, the commit's metric (and a COPY of the transitions, one of the outbox
    # rows, below the engine's events):
    # not a statement (nor a savepoint) per clock (1,507 for this batch before issue 17).
    assert seen.count <= 10, seen.texts
    assert not any("SAVEPOINT" in t for t in seen.texts)
    # The outbox rows and the transitions go as one COPY each (issue 17, storm): no ORM
    # flush with a RETURNING of every id (one statement of thousands of placeholders that
    # psycopg parsed afresh each batch), no INSERT of one row per Bind/Execute.
    assert not any(t.startswith(("INSERT INTO outbox", "INSERT INTO sla_transition"))
                   for t in seen.texts), seen.texts
    # (In either order: one transaction. The outbox's rows are written at its commit.)
    assert sorted(c.split(" (", 1)[0] for c in copies) == [
        "COPY outbox", "COPY sla_transition"], copies
    # Each case: two breaches (decision, acknowledgement) and the outcome's warning.
    assert fired == 3 * CASES
    assert fire_due_clocks(ctx) == 0
    with unit_of_work(engine) as uow:
        breaches = [r.payload for r in uow.session.exec(select(OutboxRecord).where(
            OutboxRecord.event_type == "mash.sla.clock.breached.v1"))]
        [bad] = uow.session.exec(select(ClockRow).where(ClockRow.clock == "retired_clock"))
    ids = [json.loads(b)["clock_id"] for b in breaches]
    assert len(ids) == len(set(ids)) == 2 * CASES  # each breach written exactly once
    with unit_of_work(engine) as uow:
        events = [(json.loads(r.payload)["clock_id"], r.event_type.split(".")[3])
                  for r in uow.session.exec(select(OutboxRecord).where(col(
                      OutboxRecord.event_type).in_(FIRED)).order_by(col(OutboxRecord.id)))]
        transitions = [(r.clock_id, r.kind) for r in uow.session.exec(
            select(TransitionRow).where(col(TransitionRow.kind).in_(["warned", "breached"]))
            .order_by(col(TransitionRow.id)))]
    assert events == transitions and len(events) == 3 * CASES  # both in firing order
    assert bad.next_wake_at == NOW + timedelta(days=3, minutes=1)  # tried again later
