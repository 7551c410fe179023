"""The consumer's inbox costs one statement per event on PostgreSQL, and still dedups."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.inbox import InboxRecord
from mashcore.migrations import upgrade_to_head
from mashcore.schemas import SchemaRegistry
from mashcore.topics import INTAKE_CONTACTS
from tests.support import contact_received_event, service_context
from triage.handlers import event_handlers
from triage.models import TriageCase
from triage.service import SERVICE as TRIAGE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    yield engine
    engine.dispose()


async def test_a_new_event_is_claimed_by_its_insert_without_a_look_up_and_applied_once(
    engine: Engine, tmp_path: Path
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    ctx = service_context(engine, bus, FrozenClock(NOW))
    consumer = EventConsumer(name="triage.contacts", engine=engine, bus=bus,
                             registry=SchemaRegistry(), clock=ctx.clock,
                             handlers=event_handlers(ctx))
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    sa_event.listen(engine, "before_cursor_execute", note)
    message = contact_received_event("MASH-2026-0NEL00KS").to_message(INTAKE_CONTACTS)
    await consumer(message)
    first = list(statements)
    await consumer(message)  # redelivered: the insert meets the primary key
    await asyncio.gather(consumer(message), consumer(message))
    sa_event.remove(engine, "before_cursor_execute", note)

    inbox_reads = [s for s in first if s.startswith("select") and "from inbox" in s]
    assert inbox_reads == []
    assert any(s.startswith("insert into inbox") for s in first)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(TriageCase)).one() == 1
        assert session.exec(select(func.count()).select_from(InboxRecord)).one() == 1
    dead = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS + ".dlq"], 10)
    assert dead == []
    await bus.stop()
