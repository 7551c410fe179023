"""Batched application (issue 17) through the real Kafka broker: a subscription hands a
partition's polled records to the consumer in batches, one transaction each, and commits the
offsets only after them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devinfra.kafka import create_topics_async
from mashcore.bus import Subscription
from mashcore.db import make_engine
from mashcore.kafka_bus import KafkaBus
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from mashcore.topics import INTAKE_CONTACTS
from tests.integration.test_consumer_batches import (
    consumer_on,
    create_effect_tables,
    effects,
    inbox_count,
)
from tests.kafka.test_kafka_bus import read_topic
from tests.support import contact_received_event, eventually
from triage.service import SERVICE as TRIAGE


@pytest.fixture
async def bus(kafka_broker: Any) -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(kafka_broker.bootstrap_servers, client_id="test-batches")
    await bus.start()
    yield bus
    await bus.stop()


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    create_effect_tables(engine)
    yield engine
    engine.dispose()


async def consume_until(subscription: Subscription, check: Callable[[], Awaitable[bool]],
                        what: str) -> None:
    """Run the subscription until ``check`` holds (60 s at most), then stop it."""
    await subscription.start()
    try:
        await eventually(check, timeout=60, what=what)
    finally:
        await subscription.stop()


async def test_polled_batches_apply_once_in_case_order_with_the_poison_dead_lettered(
    bus: KafkaBus, kafka_broker: Any, namespace: str, engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = f"{namespace}{INTAKE_CONTACTS}"
    await create_topics_async(bus.bootstrap_servers, [topic, topic + ".dlq"])
    cases = [f"MASH-2026-BATCH00{n}" for n in range(3)]
    events = [contact_received_event(cases[n % 3], summary="poison" if n == 10 else "ok")
              for n in range(30)]
    # All on the topic before the group starts: the first poll brings them together.
    await bus.publish([e.to_message(topic) for e in events])

    consumer = consumer_on(engine, bus)
    real_handle_batch = consumer.handle_batch
    sizes: list[int] = []

    async def first_call_fails(messages: Sequence[Message]) -> None:
        sizes.append(len(messages))
        if len(sizes) == 1:  # nothing applied: the subscription must deliver them again
            raise ConnectionError("injected: the database went away")
        await real_handle_batch(messages)

    monkeypatch.setattr(consumer, "handle_batch", first_call_fails)
    good = [(e.subject, e.id) for e in events if e.data["concern"]["summary"] == "ok"]

    async def all_applied() -> bool:
        return len(effects(engine)) >= len(good)

    await consume_until(bus.subscribe(f"{namespace}group", [topic], consumer), all_applied,
                        "every good event applied")
    assert max(sizes) > 1  # batches, not single events
    for case in cases:
        assert [e for c, e in effects(engine) if c == case] == [
            e for c, e in good if c == case]
    assert sorted(effects(engine)) == sorted(good)
    [dead] = await read_topic(kafka_broker.bootstrap_servers, topic + ".dlq", 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["ce_id"] == events[10].id
    assert headers["dlq_reason"] == "handler failed after 2 attempts: ValueError"

    # The offsets were committed after the batches: the group resumes past them.
    calls = len(sizes)
    again = bus.subscribe(f"{namespace}group", [topic], consumer)
    await again.start()
    await bus.publish([contact_received_event(cases[0]).to_message(topic)])
    try:
        async def the_new_one_applied() -> bool:
            return len(effects(engine)) == len(good) + 1

        await eventually(the_new_one_applied, timeout=60, what="the next event applied")
    finally:
        await again.stop()
    assert sum(sizes[calls:]) == 1
    assert inbox_count(engine) == len(good) + 1


async def test_a_poll_is_one_batch_across_partitions_and_a_failed_batch_rewinds_every_one(
    bus: KafkaBus, namespace: str, engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A poll's records go to the consumer partition after partition in calls of up to its
    batch size (each call one transaction), not one call per partition; when a call fails,
    every partition is fetched again from its first record not yet handled, those of the
    later calls included, so nothing polled is skipped and nothing applied twice."""
    topic = f"{namespace}{INTAKE_CONTACTS}"
    await create_topics_async(bus.bootstrap_servers, [topic, topic + ".dlq"], partitions=3)
    cases = [f"MASH-2026-POLL{n:04d}" for n in range(12)]
    events = [contact_received_event(cases[n % len(cases)]) for n in range(48)]
    await bus.publish([e.to_message(topic) for e in events])  # before the group starts

    consumer = consumer_on(engine, bus, batch_size=5)
    real_handle_batch = consumer.handle_batch
    calls: list[list[tuple[int, int]]] = []

    async def second_call_fails(messages: Sequence[Message]) -> None:
        calls.append([(m.partition, m.offset) for m in messages])
        if len(calls) == 2:  # nothing of it applied; later calls of the poll not made
            raise ConnectionError("injected: the database went away")
        await real_handle_batch(messages)

    monkeypatch.setattr(consumer, "handle_batch", second_call_fails)

    async def all_applied() -> bool:
        return len(effects(engine)) >= len(events)

    await consume_until(bus.subscribe(f"{namespace}poll-group", [topic], consumer),
                        all_applied, "every event applied")

    assert max(len(call) for call in calls) == 5
    assert any(len({partition for partition, _ in call}) > 1 for call in calls)
    for call in calls:  # each partition's records in offset order within a call
        for partition in {p for p, _ in call}:
            offsets = [o for p, o in call if p == partition]
            assert offsets == sorted(offsets)
    applied = effects(engine)
    assert sorted(e for _c, e in applied) == sorted(e.id for e in events)  # once each
    for case in cases:
        assert [e for c, e in applied if c == case] == [
            e.id for e in events if e.subject == case]
    assert inbox_count(engine) == len(events)
