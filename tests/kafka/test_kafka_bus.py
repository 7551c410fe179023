"""The Kafka bus and the event consumer against the real Apache Kafka broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from devinfra.kafka import create_topics_async
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer, RetryPolicy
from mashcore.db import UnitOfWork, make_engine
from mashcore.envelope import Event
from mashcore.kafka_bus import KafkaBus
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from mashcore.schemas import SchemaRegistry
from mashcore.topics import INTAKE_CONTACTS, TRIAGE_CASES
from tests.support import (
    case_opened_event,
    contact_received_event,
    eventually,
    service_context,
)
from triage.handlers import event_handlers
from triage.models import TriageCase
from triage.service import SERVICE as TRIAGE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CASE_OPENED = "mash.triage.case.opened.v1"


@pytest.fixture
async def bus(kafka_broker: Any) -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(kafka_broker.bootstrap_servers, client_id="test")
    await bus.start()
    yield bus
    await bus.stop()


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    yield engine
    engine.dispose()


def case_opened(n: int, case_reference: str | None = None) -> Event:
    return case_opened_event(case_reference or f"MASH-2026-{n:08d}")


async def read_topic(bootstrap: str, topic: str, expected: int) -> list[Any]:
    """Everything on a topic, read by an independent plain consumer."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        async def enough() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            return len(records) >= expected

        await eventually(enough, timeout=30, what=f"{expected} records on {topic}")
    finally:
        await consumer.stop()
    return records


async def test_events_of_one_case_arrive_in_order_with_their_cloudevents_headers(
    bus: KafkaBus, kafka_broker: Any, namespace: str
) -> None:
    topic = f"{namespace}{TRIAGE_CASES}"
    await create_topics_async(bus.bootstrap_servers, [topic])
    events = [case_opened(n, "MASH-2026-SAMECASE") for n in range(50)]
    await bus.publish([e.to_message(topic) for e in events])
    records = await read_topic(kafka_broker.bootstrap_servers, topic, 50)
    assert {r.partition for r in records} == {records[0].partition}
    assert [Event.from_message(Message(topic, r.key, r.value, tuple(r.headers))).id
            for r in records] == [e.id for e in events]
    assert records[0].key == b"MASH-2026-SAMECASE"
    assert dict(records[0].headers)["ce_type"] == CASE_OPENED.encode()


async def test_a_poison_message_is_dead_lettered_and_the_next_good_one_is_processed(
    bus: KafkaBus, kafka_broker: Any, namespace: str, engine: Engine
) -> None:
    topic = f"{namespace}{TRIAGE_CASES}"
    await create_topics_async(bus.bootstrap_servers, [topic, topic + ".dlq"])
    handled: list[str] = []

    def handle(event: Event, uow: UnitOfWork) -> None:
        handled.append(event.subject)

    consumer = EventConsumer(name="test.poison", engine=engine, bus=bus,
                             registry=SchemaRegistry(), clock=FrozenClock(NOW),
                             handlers={CASE_OPENED: handle})
    subscription = bus.subscribe(f"{namespace}group", [topic], consumer)
    await subscription.start()
    try:
        key = b"MASH-2026-POISONED"
        await bus.publish([Message(topic, key, b"{not json", (("ce_id", b"x"),)),
                           case_opened(1, "MASH-2026-POISONED").to_message(topic)])

        async def good_one_handled() -> bool:
            return handled == ["MASH-2026-POISONED"]

        await eventually(good_one_handled, timeout=30, what="the good message")
    finally:
        await subscription.stop()
    [dead] = await read_topic(kafka_broker.bootstrap_servers, topic + ".dlq", 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.value == b"{not json"
    assert headers["dlq_reason"].startswith("invalid event")
    assert headers["dlq_original_topic"] == topic
    assert headers["dlq_original_offset"] == "0"
    assert headers["dlq_original_partition"].isdigit()


async def test_a_message_whose_handler_raises_is_delivered_again(
    bus: KafkaBus, namespace: str
) -> None:
    topic = f"{namespace}redelivery"
    await create_topics_async(bus.bootstrap_servers, [topic])
    attempts: list[bytes] = []

    async def fails_first_time(message: Message) -> None:
        attempts.append(message.value)
        if len(attempts) == 1:
            raise ConnectionError("database unavailable")

    subscription = bus.subscribe(f"{namespace}group", [topic], fails_first_time)
    await subscription.start()
    try:
        await bus.publish([Message(topic, b"k", b"only", ())])

        async def delivered_twice() -> bool:
            return attempts == [b"only", b"only"]

        await eventually(delivered_twice, timeout=30, what="redelivery")
    finally:
        await subscription.stop()


async def test_committed_messages_are_not_delivered_again_to_the_group(
    bus: KafkaBus, namespace: str
) -> None:
    topic = f"{namespace}offsets"
    await create_topics_async(bus.bootstrap_servers, [topic])
    seen: list[bytes] = []

    async def record(message: Message) -> None:
        seen.append(message.value)

    await bus.publish([Message(topic, b"k", b"first", ())])
    first = bus.subscribe(f"{namespace}group", [topic], record)
    await first.start()

    async def got_first() -> bool:
        return seen == [b"first"]

    await eventually(got_first, timeout=30, what="first message")
    await first.stop()

    await bus.publish([Message(topic, b"k", b"second", ())])
    second = bus.subscribe(f"{namespace}group", [topic], record)
    await second.start()

    async def got_second() -> bool:
        return b"second" in seen

    await eventually(got_second, timeout=30, what="second message")
    await second.stop()
    assert seen == [b"first", b"second"]


async def test_a_live_view_starts_from_now_without_replaying_the_topic(
    bus: KafkaBus, namespace: str
) -> None:
    topic = f"{namespace}live"
    await create_topics_async(bus.bootstrap_servers, [topic])
    await bus.publish([Message(topic, b"k", b"history", ())])
    seen: list[bytes] = []

    async def record(message: Message) -> None:
        seen.append(message.value)

    live = bus.subscribe(f"{namespace}live-view", [topic], record, from_now=True)
    await live.start()
    sent = 0

    async def news_arrived() -> bool:  # published until the view, once assigned, sees one
        nonlocal sent
        sent += 1
        await bus.publish([Message(topic, b"k", f"news-{sent}".encode(), ())])
        return any(value.startswith(b"news") for value in seen)

    await eventually(news_arrived, timeout=30, what="news on the live view")
    await live.stop()
    assert b"history" not in seen


async def test_the_consumer_keeps_effects_exactly_once_over_the_broker(
    bus: KafkaBus, namespace: str, engine: Engine
) -> None:
    """The same contact event published three times opens one triage case."""
    topic = f"{namespace}{INTAKE_CONTACTS}"
    await create_topics_async(bus.bootstrap_servers, [topic, f"{namespace}{TRIAGE_CASES}"])
    registry = SchemaRegistry()
    ctx = service_context(engine, bus, FrozenClock(NOW), namespace)
    consumer = EventConsumer(name="triage.contacts", engine=engine, bus=bus, registry=registry,
                             clock=ctx.clock, handlers=event_handlers(ctx),
                             retry=RetryPolicy(attempts=2, first_delay=0.01))
    event = contact_received_event("MASH-2026-ONCEONLY", identity_unknown=True)
    await bus.publish([event.to_message(topic)] * 3)
    delivered: list[int | None] = []

    async def counting(message: Message) -> None:
        await consumer(message)
        delivered.append(message.offset)

    subscription = bus.subscribe(f"{namespace}triage", [topic], counting)
    await subscription.start()
    try:
        async def all_three_delivered() -> bool:
            return len(delivered) == 3

        await eventually(all_three_delivered, timeout=30, what="three deliveries")
    finally:
        await subscription.stop()
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(TriageCase)).one() == 1
