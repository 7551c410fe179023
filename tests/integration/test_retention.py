"""Retention: sent outbox rows, inbox rows and idempotency keys are purged after
MASH_RETENTION_DAYS, in batches, on the real PostgreSQL server (issue 12 §5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from mashcore.clock import FrozenClock
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.idempotency import IdempotencyRecord
from mashcore.inbox import InboxRecord
from mashcore.metrics import render
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import OutboxRecord
from mashcore.retention import PurgeCounts, purge_batch, purge_expired, retention_metrics
from tests.support import service_context
from triage.service import SERVICE as TRIAGE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    yield engine
    engine.dispose()


def outbox_row(n: int, created: datetime, published: datetime | None) -> OutboxRecord:
    return OutboxRecord(event_id=f"e{n}", event_type="mash.test.v1", topic="t", key="k",
                        headers=json.dumps([]), payload=b'{"child": "Synthetic Name"}',
                        created_at=created, published_at=published)


def seed(engine: Engine) -> None:
    with Session(engine) as session:
        for n in range(5):
            session.add(outbox_row(n, OLD, OLD))  # sent long ago: purged
        session.add(outbox_row(10, OLD, None))  # never sent, however old: kept
        session.add(outbox_row(11, OLD, RECENT))  # sent recently: kept
        for n in range(3):
            session.add(InboxRecord(consumer="c", event_id=f"old{n}", event_type="t",
                                    processed_at=OLD))
        session.add(InboxRecord(consumer="c", event_id="recent", event_type="t",
                                processed_at=RECENT))
        for key, at in (("old", OLD), ("recent", RECENT)):
            session.add(IdempotencyRecord(client="school", key=key, request_hash="h",
                                          status_code=202, response_body="{}", created_at=at))
        session.commit()


def test_rows_older_than_the_retention_period_are_purged_in_batches_and_counted(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    counts = PurgeCounts()
    cutoff = NOW - timedelta(days=30)
    batches = []
    while deleted := purge_batch(engine, cutoff, batch_size=2, service="triage",
                                 counts=counts):
        batches.append(deleted)
    assert batches == [5, 3, 1]  # at most two per table a batch: 5 outbox, 3 inbox, 1 key
    with Session(engine) as session:
        assert sorted(r.event_id for r in session.exec(select(OutboxRecord))) == ["e10", "e11"]
        assert [r.event_id for r in session.exec(select(InboxRecord))] == ["recent"]
        assert [r.key for r in session.exec(select(IdempotencyRecord))] == ["recent"]
    assert counts.of("triage") == {"outbox": 5, "inbox": 3, "idempotency_key": 1}
    text = render([retention_metrics("triage", counts)]).decode()
    assert 'mash_retention_purged_rows_total{service="triage",table="outbox"} 5.0' in text


def test_the_timer_purges_by_the_injected_clock_and_the_configured_days(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    clock = FrozenClock(NOW - timedelta(days=2))  # two days ago nothing was 30 days old
    context = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), clock)
    assert purge_expired(context) == 0
    clock.set(NOW)
    assert purge_expired(context) == 9
    context.settings.retention_days = 60
    clock.advance(days=32)  # RECENT rows are now 61 days old
    assert purge_expired(context) == 3
    with Session(engine) as session:
        assert [r.event_id for r in session.exec(select(OutboxRecord))] == ["e10"]
        assert session.exec(select(col(OutboxRecord.published_at))).all() == [None]


def test_the_purged_columns_are_indexed(engine: Engine) -> None:
    indexes = {table: {tuple(ix["column_names"]) for ix in inspect(engine).get_indexes(table)}
               for table in ("outbox", "inbox", "idempotency_key")}
    assert ("published_at", "id") in indexes["outbox"]
    assert ("processed_at",) in indexes["inbox"]
    assert ("created_at",) in indexes["idempotency_key"]
