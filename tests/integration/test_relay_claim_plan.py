"""The relay's claim on PostgreSQL (issue 17): the first unsent outbox rows in id order,
found through ``ix_outbox_pending`` by a plain index scan that stops after a batch, not a
bitmap scan that visits again, on every claim, each row sent since the last vacuum. Real
PostgreSQL, migrated by a service's own migrations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from mashcore.db import make_engine, write_rows
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import OutboxRecord
from mashcore.relay import LOCK_RELAY, RELAY_LOCK_ID, claim_query
from triage.service import SERVICE as TRIAGE

OUTBOX = OutboxRecord.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
SENT, UNSENT, BATCH = 3_000, 2_000, 10  # a backlog: the claim still reads a batch


@pytest.fixture(name="engine")
def triage_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    with engine.begin() as connection:
        write_rows(connection, OUTBOX, [{
            "event_id": f"event-{n}", "event_type": "mash.test.v1", "topic": "mash.test",
            "key": f"MASH-2026-P{n:05d}", "headers": "[]", "payload": b"{}",
            "created_at": NOW} for n in range(SENT + UNSENT)])
        # The first SENT rows sent, as the relay marks them: each leaves a dead row version
        # behind, with its entry in the indexes, until a vacuum.
        connection.execute(text("UPDATE outbox SET published_at = :at WHERE id <= :last"),
                           {"at": NOW, "last": SENT})
    yield engine
    engine.dispose()


def claim_plan(connection: Connection) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the relay's claim, in a transaction that took the
    relay's lock with the relay's own statement."""
    assert connection.execute(LOCK_RELAY, {"id": RELAY_LOCK_ID}).one()[0]
    query = claim_query(BATCH, postgres=True).compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    [plan] = connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}")
                                ).scalar_one()
    return plan["Plan"]  # type: ignore[no-any-return]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def test_the_claim_walks_the_pending_index_in_id_order_and_stops_after_a_batch(
        engine: Engine) -> None:
    with engine.connect() as connection:
        with connection.begin():
            rows = connection.execute(
                text("SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id")).all()
        assert [r.id for r in rows][:BATCH] == list(range(SENT + 1, SENT + BATCH + 1))
        for _ in range(2):  # the first claim marks the sent rows' entries dead, if any
            with connection.begin():
                plan = claim_plan(connection)
                connection.rollback()
        kinds = [(n["Node Type"], n.get("Index Name")) for n in nodes(plan)]
        assert ("Index Scan", "ix_outbox_pending") in kinds, kinds
        assert not any(kind in ("Sort", "Bitmap Heap Scan", "Bitmap Index Scan")
                       for kind, _ in kinds), kinds
        assert plan["Actual Rows"] == BATCH
        # A batch's worth of pages, not one per row sent since the last vacuum (a bitmap
        # scan of ix_outbox_unpublished touched some hundreds here).
        assert plan["Shared Hit Blocks"] + plan.get("Shared Read Blocks", 0) < 40, json.dumps(
            plan)


def test_the_lock_turns_bitmap_scans_and_waiting_for_the_wal_off_for_its_own_transaction(
        engine: Engine) -> None:
    def settings(connection: Connection) -> tuple[str, str]:
        return (connection.execute(text("SHOW enable_bitmapscan")).scalar_one(),
                connection.execute(text("SHOW synchronous_commit")).scalar_one())

    with engine.connect() as connection:
        with connection.begin():
            before = settings(connection)
            connection.execute(LOCK_RELAY, {"id": RELAY_LOCK_ID})
            assert settings(connection) == ("off", "off")
        with connection.begin():
            assert settings(connection) == before
