"""Shared set-up of the timekeeper's integration tests on the real PostgreSQL server: the
migrated database, a replica's context on it, a red MASH-enquiries decision to feed it, and
the threshold-decision clock events its outbox holds. Import ``timekeeper_engine`` into a
test module to give it the ``engine`` fixture."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
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


def red_decision(case: str, decided: datetime, due: datetime, recorded: datetime) -> Event:
    """A valid red ``mash.triage.threshold.decided.v1`` (route MASH enquiries, synthetic):
    made at ``decided``, its enquiries due at ``due``, recorded at ``recorded``."""
    data = {"case_reference": case, "decided_at": decided.isoformat(),
            "decided_by": {"user_id": "tm-1", "role": "team_manager"},
            "level_of_need": {"code": "L4", "name": "L4 Statutory"},
            "suggested_level_of_need": None, "brag": "red", "route": "mash_enquiries",
            "rationale": "Synthetic decision.", "proceeding_without_consent": False,
            "proceeding_without_consent_reason": None, "without_consent_basis": None,
            "consent_revisit_due_at": None, "enquiries_due_at": due.isoformat()}
    return Event(type="mash.triage.threshold.decided.v1", source="/mash/triage",
                 subject=case, time=decided, recordedtime=recorded, partnership="default",
                 data=data, correlationid=case)


def threshold_events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    """The ``mash.sla.clock.<kind>.v1`` events of threshold-decision clocks in the outbox,
    oldest first."""
    with unit_of_work(engine) as uow:
        rows = uow.session.exec(select(OutboxRecord).where(
            OutboxRecord.event_type == f"mash.sla.clock.{kind}.v1")
            .order_by(col(OutboxRecord.id))).all()
    return [d for d in (json.loads(r.payload) for r in rows)
            if d["clock"] == "threshold_decision"]
