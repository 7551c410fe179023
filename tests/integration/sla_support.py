"""Shared set-up of the timekeeper's integration tests on the real PostgreSQL server: the
migrated database, a replica's context on it, and the threshold-decision clock events its
outbox holds. Import ``timekeeper_engine`` into a test module to give it the ``engine``
fixture."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import OutboxRecord
from mashcore.service import ServiceContext
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from tests.support import service_context


@pytest.fixture(name="engine")
def timekeeper_engine(pg_url: str) -> Iterator[Engine]:
    """The timekeeper's database, migrated to head, on the test's PostgreSQL server."""
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TIMEKEEPER.migrations)
    yield engine
    engine.dispose()


def replica(engine: Engine, tmp_path: Path, clock: FrozenClock) -> ServiceContext:
    """One timekeeper replica's context: the shared database, an embedded bus, ``clock``."""
    return service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), clock,
                           name="sla-timekeeper")


def threshold_events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    """The ``mash.sla.clock.<kind>.v1`` events of threshold-decision clocks in the outbox,
    oldest first."""
    with unit_of_work(engine) as uow:
        rows = uow.session.exec(select(OutboxRecord).where(
            OutboxRecord.event_type == f"mash.sla.clock.{kind}.v1")
            .order_by(col(OutboxRecord.id))).all()
    return [d for d in (json.loads(r.payload) for r in rows)
            if d["clock"] == "threshold_decision"]
