"""Outbox, relay, inbox, consumer and the embedded bus working together on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, select

from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer, RetryPolicy
from mashcore.counters import MetricCounter
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.inbox import InboxRecord
from mashcore.messages import Message
from mashcore.outbox import Outbox, OutboxRecord
from mashcore.parking import ParkedEvent
from mashcore.relay import OutboxRelay
from mashcore.schemas import SchemaRegistry, SchemaViolation
from mashcore.topics import TopicNamer
from tests.support import case_opened_event as case_opened
from tests.support import eventually

pytestmark = pytest.mark.unit

TOPIC = "mash.triage.cases.v1"
CASE_OPENED = "mash.triage.case.opened.v1"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Effect(SQLModel, table=True):
    """What the test consumer does: one row per handled event."""

    __tablename__ = "test_effect"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}")
    SQLModel.metadata.create_all(
        engine, tables=[OutboxRecord.__table__, InboxRecord.__table__,  # type: ignore[list-item]
                        ParkedEvent.__table__,  # type: ignore[list-item]
                        MetricCounter.__table__,  # type: ignore[list-item]  # the inbox counts
                        Effect.__table__]  # type: ignore[list-item]
    )
    yield engine
    engine.dispose()


@pytest.fixture
async def bus(tmp_path: Path) -> Any:
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    yield bus
    await bus.stop()


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(SchemaRegistry(), TopicNamer())


def count(engine: Engine, table: type[SQLModel]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_an_invalid_event_is_refused_and_nothing_is_written(engine: Engine,
                                                            outbox: Outbox) -> None:
    with pytest.raises(SchemaViolation), unit_of_work(engine) as uow:
        outbox.add(uow, case_opened(status="decided"), TOPIC)
        uow.commit()
    assert count(engine, OutboxRecord) == 0


def test_state_and_event_commit_together_or_not_at_all(engine: Engine, outbox: Outbox) -> None:
    with pytest.raises(RuntimeError), unit_of_work(engine) as uow:
        uow.session.add(Effect(event_id="state"))
        outbox.add(uow, case_opened(), TOPIC)
        raise RuntimeError("crash before commit")
    assert count(engine, OutboxRecord) == 0
    assert count(engine, Effect) == 0


async def read_all(bus: EmbeddedBus, topic: str) -> list[Message]:
    return await asyncio.to_thread(bus._read, "inspector", [topic], 10_000)


async def test_the_relay_publishes_in_commit_order_and_marks_rows_published(
    engine: Engine, bus: EmbeddedBus, outbox: Outbox
) -> None:
    events = [case_opened(f"MASH-2026-AAAAAAA{n}") for n in range(1, 8)]
    for event in events:
        with unit_of_work(engine) as uow:
            outbox.add(uow, event, TOPIC)
            uow.commit()
    relay = OutboxRelay(engine, bus, FrozenClock(NOW), batch_size=3)
    published = [await relay.publish_pending() for _ in range(4)]
    assert published == [3, 3, 1, 0]
    on_topic = await read_all(bus, TOPIC)
    assert [m.header("ce_id") for m in on_topic] == [e.id for e in events]
    with Session(engine) as session:
        assert all(r.published_at == NOW for r in session.exec(select(OutboxRecord)))


class FailingOnceBus(EmbeddedBus):
    """The embedded bus with one injected publish failure."""

    failures = 1

    async def publish(self, messages: Sequence[Message]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unavailable")
        await super().publish(messages)


async def test_a_failed_publish_leaves_rows_for_the_next_attempt(
    engine: Engine, outbox: Outbox, tmp_path: Path
) -> None:
    bus = FailingOnceBus(tmp_path / "flaky.sqlite")
    await bus.start()
    with unit_of_work(engine) as uow:
        outbox.add(uow, case_opened(), TOPIC)
        uow.commit()
    relay = OutboxRelay(engine, bus, FrozenClock(NOW))
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    assert await relay.publish_pending() == 1
    assert len(await read_all(bus, TOPIC)) == 1
    await bus.stop()


async def test_the_relay_wakes_on_commit_without_waiting_for_its_poll(
    engine: Engine, bus: EmbeddedBus, outbox: Outbox
) -> None:
    relay = OutboxRelay(engine, bus, FrozenClock(NOW), poll_interval=3600)
    await relay.start()
    try:
        with unit_of_work(engine, relay.notify) as uow:
            outbox.add(uow, case_opened(), TOPIC)
            uow.commit()

        async def published() -> list[Message]:
            return await read_all(bus, TOPIC)

        await eventually(published, timeout=10, what="relay to publish")
    finally:
        await relay.stop()


def make_consumer(engine: Engine, bus: EmbeddedBus, handler: Any,
                  attempts: int = 3) -> EventConsumer:
    return EventConsumer(
        name="test.consumer", engine=engine, bus=bus, registry=SchemaRegistry(),
        clock=FrozenClock(NOW), handlers={CASE_OPENED: handler},
        retry=RetryPolicy(attempts=attempts, first_delay=0.01, max_delay=0.02),
    )


def record_effect(event: Event, uow: UnitOfWork) -> None:
    uow.session.add(Effect(event_id=event.id))


async def test_a_redelivered_event_has_its_effect_once(engine: Engine, bus: EmbeddedBus) -> None:
    consumer = make_consumer(engine, bus, record_effect)
    message = case_opened().to_message(TOPIC)
    for _ in range(3):
        await consumer(message)
    assert count(engine, Effect) == 1
    assert count(engine, InboxRecord) == 1


async def test_a_malformed_message_is_dead_lettered_with_its_reason_and_origin(
    engine: Engine, bus: EmbeddedBus
) -> None:
    consumer = make_consumer(engine, bus, record_effect)
    await consumer(Message(TOPIC, b"k", b"garbage", (), partition=2, offset=41))
    [dead] = await read_all(bus, TOPIC + ".dlq")
    assert dead.value == b"garbage"
    assert "invalid event" in (dead.header("dlq_reason") or "")
    assert (dead.header("dlq_original_topic"), dead.header("dlq_original_partition"),
            dead.header("dlq_original_offset")) == (TOPIC, "2", "41")
    assert count(engine, Effect) == 0


async def test_an_event_that_breaks_its_schema_is_dead_lettered(
    engine: Engine, bus: EmbeddedBus
) -> None:
    consumer = make_consumer(engine, bus, record_effect)
    bad = Event(type=CASE_OPENED, source="/x", subject="MASH-2026-AAAAAAAA", time=NOW,
                recordedtime=NOW, partnership="default", data={"case_reference": 7})
    await consumer(bad.to_message(TOPIC))
    [dead] = await read_all(bus, TOPIC + ".dlq")
    assert CASE_OPENED in (dead.header("dlq_reason") or "")


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(
    engine: Engine, bus: EmbeddedBus
) -> None:
    calls: list[str] = []

    def always_fails(event: Event, uow: UnitOfWork) -> None:
        calls.append(event.id)
        uow.session.add(Effect(event_id=event.id))
        raise LookupError("no such thing")

    consumer = make_consumer(engine, bus, always_fails, attempts=3)
    await consumer(case_opened().to_message(TOPIC))
    assert len(calls) == 3
    [dead] = await read_all(bus, TOPIC + ".dlq")
    assert "after 3 attempts: LookupError" in (dead.header("dlq_reason") or "")
    assert count(engine, Effect) == 0 and count(engine, InboxRecord) == 0


async def test_a_transient_failure_is_retried_and_then_succeeds(
    engine: Engine, bus: EmbeddedBus
) -> None:
    failures = [OSError("database blip")]

    def flaky(event: Event, uow: UnitOfWork) -> None:
        if failures:
            raise failures.pop()
        record_effect(event, uow)

    await make_consumer(engine, bus, flaky)(case_opened().to_message(TOPIC))
    assert count(engine, Effect) == 1
    assert await read_all(bus, TOPIC + ".dlq") == []


async def test_consumption_continues_after_a_poison_message(
    engine: Engine, bus: EmbeddedBus
) -> None:
    consumer = make_consumer(engine, bus, record_effect)
    subscription = bus.subscribe("group", [TOPIC], consumer)
    await subscription.start()
    try:
        await bus.publish([Message(TOPIC, b"k", b"\xff\xfe", ()),
                           case_opened().to_message(TOPIC)])

        async def handled() -> bool:
            return await asyncio.to_thread(count, engine, Effect) == 1

        await eventually(handled, timeout=10, what="the good message after the poison one")
        assert len(await read_all(bus, TOPIC + ".dlq")) == 1
    finally:
        await subscription.stop()


async def test_the_embedded_log_and_its_offsets_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite"
    received: list[bytes] = []

    async def handler(message: Message) -> None:
        received.append(message.value)

    first = EmbeddedBus(path, poll_interval=0.05)
    await first.start()
    await first.publish([Message(TOPIC, b"k", b"one", ())])
    subscription = first.subscribe("g", [TOPIC], handler)
    await subscription.start()

    async def got_one() -> bool:
        return received == [b"one"]

    await eventually(got_one, timeout=10, what="first message")
    await subscription.stop()
    await first.publish([Message(TOPIC, b"k", b"two", ())])
    await first.stop()
    received.clear()

    second = EmbeddedBus(path, poll_interval=0.05)
    await second.start()
    await second.subscribe("g", [TOPIC], handler).start()

    async def got_two() -> bool:
        return b"two" in received

    await eventually(got_two, timeout=10, what="the message published before the restart")
    assert received == [b"two"]  # "one" was committed and is not delivered again
    await second.stop()


def test_a_database_error_reason_never_carries_the_statement_parameters() -> None:
    from sqlalchemy.exc import IntegrityError

    from mashcore.consumer import safe_reason

    error = IntegrityError("INSERT INTO child (name) VALUES (?)", ("Synthetic Childname",),
                           Exception("UNIQUE constraint failed: child.name\nDETAIL: Key (name)"
                                     "=(Synthetic Childname)"))
    reason = safe_reason(error)
    assert "Childname" not in reason
    assert reason == "IntegrityError: Exception"


def test_a_library_error_message_is_reduced_to_its_class() -> None:
    from mashcore.consumer import safe_reason

    assert safe_reason(ValueError("bad child Sam Example")) == "ValueError"


async def test_a_header_that_is_not_utf8_is_dead_lettered_not_retried_forever(
    engine: Engine, bus: EmbeddedBus
) -> None:
    consumer = make_consumer(engine, bus, record_effect)
    headers = tuple((k, b"\xff\xfe") if k == "ce_id" else (k, v)
                    for k, v in case_opened().headers())
    await consumer(Message(TOPIC, b"k", case_opened().encode_data(), headers))
    [dead] = await read_all(bus, TOPIC + ".dlq")
    assert "not UTF-8" in (dead.header("dlq_reason") or "")


async def test_a_database_outage_longer_than_the_retry_budget_is_waited_out(
    engine: Engine, bus: EmbeddedBus
) -> None:
    from sqlalchemy.exc import OperationalError

    outage = [OperationalError("SELECT 1", {}, Exception("server closed the connection"))] * 7

    def during_outage(event: Event, uow: UnitOfWork) -> None:
        if outage:
            raise outage.pop()
        record_effect(event, uow)

    await make_consumer(engine, bus, during_outage, attempts=3)(case_opened().to_message(TOPIC))
    assert count(engine, Effect) == 1
    assert await read_all(bus, TOPIC + ".dlq") == []


async def test_a_live_view_sees_only_what_is_published_from_now(tmp_path: Path) -> None:
    bus = EmbeddedBus(tmp_path / "live.sqlite", poll_interval=0.05)
    await bus.start()
    await bus.publish([Message(TOPIC, b"k", b"history", ())])
    received: list[bytes] = []

    async def handler(message: Message) -> None:
        received.append(message.value)

    await bus.subscribe("live-1", [TOPIC], handler, from_now=True).start()
    await bus.publish([Message(TOPIC, b"k", b"news", ())])

    async def got_news() -> bool:
        return b"news" in received

    await eventually(got_news, timeout=10, what="the message published after subscribing")
    assert received == [b"news"]
    await bus.stop()
