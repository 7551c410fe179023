"""``mash dlq list|show|replay`` against the real broker: codes and ids only, and a replay is
idempotent through the consumer's inbox (issue 13)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from devinfra.kafka import create_topics_async
from mash_app.cli import main
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine
from mashcore.kafka_bus import KafkaBus
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from mashcore.topics import INTAKE_CONTACTS
from tests.support import contact_received_event, eventually, service_context
from triage.handlers import event_handlers
from triage.models import TriageCase
from triage.service import SERVICE as TRIAGE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
REFERENCE = "MASH-2026-DLQ00001"
REASON = f"prerequisite not arrived: contact:{REFERENCE}"


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    yield engine
    engine.dispose()


def test_mash_dlq_lists_shows_and_replays_once_in_effect(
    kafka_broker: Any, engine: Engine, namespace: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MASH_BUS", "kafka")
    monkeypatch.setenv("MASH_KAFKA_BOOTSTRAP", kafka_broker.bootstrap_servers)
    monkeypatch.setenv("MASH_TOPIC_NAMESPACE", namespace)
    monkeypatch.setenv("MASH_JWT_DEV_KEY", "a-test-signing-key-of-sufficient-length")
    topic = f"{namespace}{INTAKE_CONTACTS}"
    event = contact_received_event(REFERENCE, first_name="Zebedee", summary="Zebedee's story")
    original = event.to_message(topic)

    async def dead_letter_it() -> None:
        bus = KafkaBus(kafka_broker.bootstrap_servers, client_id="test-dlq")
        await bus.start()
        try:
            await create_topics_async(bus.bootstrap_servers, [topic, f"{topic}.dlq"])
            consumer = EventConsumer(name="triage.contacts", engine=engine, bus=bus,
                                     registry=service_context(engine, bus, FrozenClock(NOW)
                                                              ).registry,
                                     clock=FrozenClock(NOW), handlers={})
            await consumer.dead_letter(Message(original.topic, original.key, original.value,
                                               original.headers, partition=1, offset=7), REASON)
        finally:
            await bus.stop()

    asyncio.run(dead_letter_it())
    capsys.readouterr()  # the consumer's own log lines

    assert main(["dlq", "list", INTAKE_CONTACTS]) == 0
    listed = capsys.readouterr().out
    assert event.id in listed and event.type in listed and REFERENCE in listed
    assert REASON in listed and "triage.contacts" in listed and f"{topic}:1:7" in listed
    assert NOW.isoformat() in listed
    assert "Zebedee" not in listed

    assert main(["dlq", "show", f"{INTAKE_CONTACTS}.dlq", "0"]) == 0
    shown = capsys.readouterr().out
    assert event.id in shown and REASON in shown and "bytes (not shown)" in shown
    assert "Zebedee" not in shown
    assert main(["dlq", "show", INTAKE_CONTACTS, "99"]) == 1

    delivered: list[Message] = []

    async def replay_twice_to_a_running_consumer() -> None:
        bus = KafkaBus(kafka_broker.bootstrap_servers, client_id="test-dlq")
        await bus.start()
        ctx = service_context(engine, bus, FrozenClock(NOW), namespace)
        consumer = EventConsumer(name="triage.contacts", engine=engine, bus=bus,
                                 registry=ctx.registry, clock=ctx.clock,
                                 handlers=event_handlers(ctx))

        async def counting(message: Message) -> None:
            await consumer(message)
            delivered.append(message)

        subscription = bus.subscribe(f"{namespace}triage", [topic], counting)
        await subscription.start()
        try:
            for _ in range(2):
                assert await asyncio.to_thread(
                    main, ["dlq", "replay", INTAKE_CONTACTS, "--all"]) == 0

            async def both_delivered() -> bool:
                return len(delivered) == 2

            await eventually(both_delivered, timeout=30, what="two replays delivered")
        finally:
            await subscription.stop()
            await bus.stop()

    asyncio.run(replay_twice_to_a_running_consumer())
    assert "replayed 1 event(s)" in capsys.readouterr().out
    for message in delivered:
        assert message.value == original.value
        assert dict(message.headers) == dict(original.headers)  # no dlq_* headers
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(TriageCase)).one() == 1
