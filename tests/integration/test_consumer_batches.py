"""Batched application of a polled batch (issue 17, mashcore/consumer_batch.py) on the real
PostgreSQL server: one transaction per batch, with every per-event guarantee kept."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from mashcore import counters
from mashcore.bus import Bus
from mashcore.clock import FrozenClock
from mashcore.consumer import BatchHandler, EventConsumer, RetryPolicy
from mashcore.counters import EVENTS_HANDLED
from mashcore.db import UnitOfWork, make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.inbox import InboxRecord
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from mashcore.parking import NotYetKnown, ParkingLot, list_parked
from mashcore.schemas import default_registry
from mashcore.topics import INTAKE_CONTACTS, dead_letter_topic
from tests.support import contact_received_event
from triage.service import SERVICE as TRIAGE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONSUMER = "test.batches"
CONTACT = "mash.intake.contact.received.v1"
A, B, C, P, Q = (f"MASH-2026-0000000{x}" for x in "ABCPQ")


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    create_effect_tables(engine)
    yield engine
    engine.dispose()


def create_effect_tables(engine: Engine) -> None:
    """What the test handler writes: one row per effect; prerequisites that have arrived."""
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE batch_effect (seq BIGSERIAL PRIMARY KEY, case_ref TEXT NOT NULL,"
            " event_id TEXT NOT NULL)"))
        connection.execute(text("CREATE TABLE batch_prereq (case_ref TEXT PRIMARY KEY)"))


@pytest.fixture
async def bus(tmp_path: Path) -> Any:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    yield bus
    await bus.stop()


FAILED_ONCE: set[str] = set()


def apply_effect(event: Event, uow: UnitOfWork) -> None:
    """Writes one effect row; "poison" always fails; "wait" waits for batch_prereq."""
    summary = event.data["concern"]["summary"]
    if summary == "poison":
        raise ValueError("this event always fails")
    if summary == "flaky" and event.id not in FAILED_ONCE:
        FAILED_ONCE.add(event.id)
        raise ValueError("this event fails at its first attempt")
    if summary == "wait" and uow.session.execute(
            text("SELECT 1 FROM batch_prereq WHERE case_ref = :c"),
            {"c": event.subject}).first() is None:
        raise NotYetKnown(f"contact:{event.subject}")
    uow.session.execute(text("INSERT INTO batch_effect (case_ref, event_id) VALUES (:c, :e)"),
                        {"c": event.subject, "e": event.id})


@pytest.fixture(params=[False, True], ids=["event-by-event", "at-once"])
def at_once(request: pytest.FixtureRequest) -> bool:
    """Each test twice: without a BatchHandler (handlers in turn, one savepoint, event by
    event when anything fails) and with one (every guarantee the same)."""
    return bool(request.param)


def apply_effects(events: Sequence[Event], uow: UnitOfWork) -> None:
    """The test handler as a BatchHandler: each event in turn, no savepoint between."""
    for event in events:
        apply_effect(event, uow)


def consumer_on(engine: Engine, bus: Bus, at_once: bool = False,
                batch_size: int = 100) -> EventConsumer:
    return EventConsumer(name=CONSUMER, engine=engine, bus=bus, registry=default_registry(),
                         clock=FrozenClock(NOW), retry=RetryPolicy(attempts=2, first_delay=0),
                         handlers={CONTACT: apply_effect}, batch_size=batch_size,
                         batch_handler=(BatchHandler(types={CONTACT}, apply=apply_effects)
                                        if at_once else None))


def messages(*specs: tuple[str, str]) -> tuple[list[Event], list[Message]]:
    """Events (case, summary) as one partition's records, in offset order."""
    events = [contact_received_event(case, summary=summary) for case, summary in specs]
    return events, [dataclasses.replace(e.to_message(INTAKE_CONTACTS), partition=0, offset=n)
                    for n, e in enumerate(events)]


def effects(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [(r[0], r[1]) for r in connection.execute(
            text("SELECT case_ref, event_id FROM batch_effect ORDER BY seq"))]


@contextlib.contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on ``engine`` in the block."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa_event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", note)


def inbox_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(InboxRecord)
                            .where(InboxRecord.consumer == CONSUMER)).one()


async def test_a_poison_event_mid_batch_is_dead_lettered_and_the_others_applied_once(
    engine: Engine, bus: EmbeddedBus, at_once: bool
) -> None:
    events, batch = messages((A, "ok"), (B, "ok"), (B, "poison"),
                             (C, "ok"), (B, "ok"), (A, "ok"))
    await consumer_on(engine, bus, at_once).handle_batch(batch)

    expected = [(e.subject, e.id) for e in events if e.data["concern"]["summary"] == "ok"]
    assert sorted(effects(engine)) == sorted(expected)
    # Per case in delivery order: B's event after the poison waited for it to be dealt with.
    for case in (A, B, C):
        assert [e for c, e in effects(engine) if c == case] == [
            e for c, e in expected if c == case]
    [dead] = await bus.read_topic(dead_letter_topic(INTAKE_CONTACTS))
    assert dead.header("ce_id") == events[2].id
    assert dead.header("dlq_reason") == "handler failed after 2 attempts: ValueError"
    assert inbox_count(engine) == 5


async def test_an_event_failing_once_in_a_batch_keeps_its_case_order(
    engine: Engine, bus: EmbeddedBus, at_once: bool
) -> None:
    """The case's later events in the batch wait for the failed one's retry."""
    events, batch = messages((B, "ok"), (B, "flaky"), (C, "ok"), (B, "ok"))
    await consumer_on(engine, bus, at_once).handle_batch(batch)
    assert [e for c, e in effects(engine) if c == B] == [
        events[0].id, events[1].id, events[3].id]
    assert [e for c, e in effects(engine) if c == C] == [events[2].id]
    assert await bus.read_topic(dead_letter_topic(INTAKE_CONTACTS)) == []


class Crash(BaseException):
    """The process dies (not an exception the consumer may handle)."""


async def test_a_crash_before_the_commit_leaves_nothing_and_the_redelivery_applies_all_once(
    engine: Engine, bus: EmbeddedBus, at_once: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, batch = messages(*[(f"MASH-2026-0000000{n % 3}", "ok") for n in range(7)])

    def die(self: UnitOfWork) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(UnitOfWork, "commit", die)
        with pytest.raises(Crash):
            await consumer_on(engine, bus, at_once).handle_batch(batch)
    assert effects(engine) == []
    assert inbox_count(engine) == 0

    await consumer_on(engine, bus, at_once).handle_batch(batch)  # after the restart
    assert effects(engine) == [(e.subject, e.id) for e in events]
    assert inbox_count(engine) == 7


async def test_per_case_order_holds_across_batches_and_redelivery_has_no_second_effect(
    engine: Engine, bus: EmbeddedBus, at_once: bool
) -> None:
    events, batch = messages(*[(f"MASH-2026-0000000{n % 4}", "ok") for n in range(20)])
    consumer = consumer_on(engine, bus, at_once, batch_size=6)
    for start in range(0, 20, 6):
        await consumer.handle_batch(batch[start:start + 6])
    assert effects(engine) == [(e.subject, e.id) for e in events]

    # Redelivered after the commit (offsets lost), and a duplicate inside one batch.
    await consumer.handle_batch(batch[:6] + batch[:1])
    await consumer_on(engine, bus, at_once).handle_batch(batch)
    assert effects(engine) == [(e.subject, e.id) for e in events]
    assert inbox_count(engine) == 20


async def test_a_parked_event_and_its_successor_in_one_batch_stay_in_order(
    engine: Engine, bus: EmbeddedBus, at_once: bool
) -> None:
    events, batch = messages((P, "ok"), (P, "wait"), (Q, "ok"),
                             (P, "ok"))
    consumer = consumer_on(engine, bus, at_once)
    await consumer.handle_batch(batch)
    assert effects(engine) == [(P, events[0].id), (Q, events[2].id)]

    # Redelivered before the offsets were committed: the parked events stay parked, once.
    await consumer.handle_batch(batch)
    assert effects(engine) == [(P, events[0].id), (Q, events[2].id)]

    with engine.begin() as connection:
        connection.execute(text("INSERT INTO batch_prereq VALUES (:c)"), {"c": P})
    # (The redelivered applied event was parked behind them too: skipped by the inbox.)
    await consumer.parking.retry_case(P, expire=False)
    assert effects(engine) == [(P, events[0].id), (Q, events[2].id),
                               (P, events[1].id), (P, events[3].id)]


@pytest.mark.parametrize("batch_size", [1, 100], ids=["one-by-one", "batched"])
async def test_a_prerequisite_arriving_while_its_event_is_being_parked_releases_it_at_once(
    engine: Engine, bus: EmbeddedBus, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    """Another consumer commits the prerequisite between the handler's look and the parking,
    and its retry (run before the parked row existed) found nothing: the event must not wait
    for the parking timer (none runs here), it is retried right after it is parked."""
    events, batch = messages((P, "wait"), (Q, "ok"), (P, "ok"))
    real_park = ParkingLot.park

    def park_as_the_prerequisite_commits(self: ParkingLot, *args: Any) -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO batch_prereq VALUES (:c) ON CONFLICT DO "
                                    "NOTHING"), {"c": P})
        real_park(self, *args)

    monkeypatch.setattr(ParkingLot, "park", park_as_the_prerequisite_commits)
    consumer = consumer_on(engine, bus, batch_size=batch_size)
    await consumer.handle_batch(batch)

    assert [e for c, e in effects(engine) if c == P] == [events[0].id, events[2].id]
    assert list_parked(engine) == []


def lock_sql(case: str) -> Any:
    return text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))").bindparams(
        k=f"mash-case:{case}")


async def test_a_batch_chosen_as_deadlock_victim_falls_back_to_one_event_at_a_time(
    engine: Engine, bus: EmbeddedBus, at_once: bool
) -> None:
    """A command holding case B's lock, then wanting A's, while the batch holds A and waits for
    B: PostgreSQL breaks the cycle by failing the batch (it has waited longest); its events
    are then applied one by one, each once."""
    events, batch = messages((A, "ok"), (B, "ok"))
    command = engine.connect()
    command.execute(text("SET deadlock_timeout = '1h'"))  # the batch detects the deadlock
    command.execute(lock_sql(B))
    task = asyncio.create_task(consumer_on(engine, bus, at_once).handle_batch(batch))

    def batch_waits_for_a_lock() -> None:
        with engine.connect() as probe:
            while not probe.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND NOT granted")).scalar_one():
                probe.rollback()
                threading.Event().wait(0.05)

    await asyncio.to_thread(batch_waits_for_a_lock)
    await asyncio.to_thread(command.execute, lock_sql(A))  # granted once it gave up
    command.commit()
    command.close()
    await task
    assert effects(engine) == [(e.subject, e.id) for e in events]
    assert inbox_count(engine) == 2


async def test_a_batch_handler_applies_a_clean_batch_in_one_savepoint_and_counts_each_event(
    engine: Engine, bus: EmbeddedBus
) -> None:
    events, batch = messages((A, "ok"), (B, "ok"), (A, "ok"), (C, "ok"))
    with statements(engine) as seen:
        await consumer_on(engine, bus, at_once=True).handle_batch(batch)
    assert effects(engine) == [(e.subject, e.id) for e in events]
    assert sum(s.startswith("SAVEPOINT") for s in seen) == 1  # not one per event
    assert not any(s.startswith("INSERT INTO inbox") for s in seen)  # one COPY of them all
    assert inbox_count(engine) == 4
    with Session(engine) as session:
        assert counters.read(session, EVENTS_HANDLED) == [((CONSUMER, CONTACT), 4)]


async def test_a_clean_batch_without_a_batch_handler_takes_one_savepoint_and_keeps_order(
    engine: Engine, bus: EmbeddedBus
) -> None:
    """Each handler still runs after the rows of the events before it are written (a flush
    per event, as event by event), but the batch takes one savepoint, not one per event."""
    events, batch = messages((A, "ok"), (B, "ok"), (A, "ok"), (C, "ok"))
    with statements(engine) as seen:
        await consumer_on(engine, bus).handle_batch(batch)
    assert effects(engine) == [(e.subject, e.id) for e in events]
    assert sum(s.startswith("SAVEPOINT") for s in seen) == 1
    assert inbox_count(engine) == 4
    with Session(engine) as session:
        assert counters.read(session, EVENTS_HANDLED) == [((CONSUMER, CONTACT), 4)]


async def test_batches_of_any_size_read_the_inbox_and_parking_with_the_same_statements(
    engine: Engine, bus: EmbeddedBus, at_once: bool
) -> None:
    """An array parameter, not an IN list of one parameter per event or case: one statement
    that psycopg prepares once and PostgreSQL plans once (issue 17). Duplicates are still
    found by it."""
    reads: list[set[str]] = []
    for specs in (((A, "ok"), (B, "ok")),
                  ((B, "ok"), (C, "ok"), (B, "ok"), (A, "ok"), (C, "ok"))):
        _events, batch = messages(*specs)
        with statements(engine) as seen:
            await consumer_on(engine, bus, at_once).handle_batch(batch)
        reads.append({s for s in seen if s.startswith("SELECT") and (
            "FROM inbox" in s or "FROM parked_event" in s)})
    assert reads[0] and reads[0] == reads[1], reads
    assert all("= ANY (" in s for s in reads[0]), reads[0]
    before = effects(engine)
    await consumer_on(engine, bus, at_once).handle_batch(batch)  # redelivered
    assert effects(engine) == before
