"""The outbox relay and the inbox under concurrency, on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, select

from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.inbox import InboxRecord
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import Outbox, OutboxRecord
from mashcore.relay import OutboxRelay
from mashcore.schemas import SchemaRegistry
from mashcore.topics import INTAKE_CONTACTS, TRIAGE_CASES, TopicNamer
from tests.support import case_opened_event, contact_received_event, service_context
from triage.handlers import event_handlers
from triage.models import TriageCase
from triage.service import SERVICE as TRIAGE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    yield engine
    engine.dispose()


def test_every_service_migrates_on_postgres_and_again_harmlessly(postgres_server: Any) -> None:
    for definition in iter_definitions(list(SERVICE_MODULES)):
        name = f"mig_{definition.name.replace('-', '_')}"
        postgres_server.create_database(name)
        engine = make_engine(postgres_server.url(name))
        upgrade_to_head(engine, definition.migrations)
        upgrade_to_head(engine, definition.migrations)
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(OutboxRecord)).one() == 0
        engine.dispose()


def case_opened(n: int) -> Event:
    return case_opened_event(f"MASH-2026-{n:08d}")


async def test_two_relay_replicas_publish_each_event_exactly_once_in_order(
    engine: Engine, tmp_path: Path
) -> None:
    outbox = Outbox(SchemaRegistry(), TopicNamer())
    events = [case_opened(n) for n in range(300)]
    for chunk in range(0, len(events), 50):
        with unit_of_work(engine) as uow:
            for event in events[chunk:chunk + 50]:
                outbox.add(uow, event, TRIAGE_CASES)
            uow.commit()
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    replicas = [OutboxRelay(make_engine(url_of(engine)), bus,
                            FrozenClock(NOW), batch_size=20) for _ in range(2)]

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        for _ in range(100):
            total += await relay.publish_pending()
        return total

    counts = await asyncio.gather(*(drain(r) for r in replicas))
    published = await asyncio.to_thread(bus._read, "inspector", [TRIAGE_CASES], 10_000)
    assert sum(counts) == 300
    assert [m.header("ce_id") for m in published] == [e.id for e in events]
    await bus.stop()


async def test_a_duplicate_delivered_concurrently_to_two_replicas_has_one_effect(
    engine: Engine, tmp_path: Path
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    registry = SchemaRegistry()
    event = contact_received_event("MASH-2026-DUPL1CAT")

    def replica() -> EventConsumer:
        replica_engine = make_engine(url_of(engine))
        ctx = service_context(replica_engine, bus, FrozenClock(NOW))
        return EventConsumer(name="triage.contacts", engine=replica_engine, bus=bus,
                             registry=registry, clock=ctx.clock, handlers=event_handlers(ctx))

    consumers = [replica(), replica()]
    message = event.to_message(INTAKE_CONTACTS)
    await asyncio.gather(*(c(message) for c in consumers for _ in range(3)))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(TriageCase)).one() == 1
        assert session.exec(select(func.count()).select_from(InboxRecord)).one() == 1
        assert session.exec(select(func.count()).select_from(OutboxRecord)).one() == 1
    dead = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS + ".dlq"], 10)
    assert dead == []
    await bus.stop()


async def test_a_batch_whose_published_marker_is_lost_is_sent_again_and_applied_once(
    engine: Engine, tmp_path: Path
) -> None:
    # The relay commits its "published" marker without waiting for the flush: a crash may
    # lose it. Then the batch goes out again, and the consumer's inbox makes that harmless.
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    registry = SchemaRegistry()
    outbox = Outbox(registry, TopicNamer())
    event = contact_received_event("MASH-2026-L0STMARK")
    with unit_of_work(engine) as uow:
        outbox.add(uow, event, INTAKE_CONTACTS)
        uow.commit()
    relay = OutboxRelay(engine, bus, FrozenClock(NOW))
    marker = relay._mark_published

    def crash(session: Session, rows: list[OutboxRecord]) -> None:
        raise ConnectionError("server gone before the marker committed")

    relay._mark_published = crash  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    relay._mark_published = marker  # type: ignore[method-assign]
    assert await relay.publish_pending() == 1
    assert await relay.publish_pending() == 0

    delivered = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS], 10)
    assert [m.header("ce_id") for m in delivered] == [event.id, event.id]
    ctx = service_context(engine, bus, FrozenClock(NOW))
    consumer = EventConsumer(name="triage.contacts", engine=engine, bus=bus, registry=registry,
                             clock=ctx.clock, handlers=event_handlers(ctx))
    for message in delivered:
        await consumer(message)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(TriageCase)).one() == 1
        assert session.exec(select(func.count()).select_from(InboxRecord)).one() == 1
    await bus.stop()


async def test_the_relay_s_asynchronous_marker_leaves_later_transactions_synchronous(
    pg_url: str, tmp_path: Path
) -> None:
    # One pooled connection, synchronous by default as in production (the test server's
    # default is off): the relay's batch and the next unit of work share it.
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    engine.dispose()
    single = create_engine(pg_url, poolclass=QueuePool, pool_size=1, max_overflow=0,
                           connect_args={"options": "-c synchronous_commit=on"})
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    outbox = Outbox(SchemaRegistry(), TopicNamer())
    with unit_of_work(single) as uow:
        outbox.add(uow, case_opened(1), TRIAGE_CASES)
        uow.commit()
    assert await OutboxRelay(single, bus, FrozenClock(NOW)).publish_pending() == 1
    with single.connect() as connection:
        assert connection.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
        assert connection.execute(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one() == 0
    single.dispose()
    await bus.stop()
