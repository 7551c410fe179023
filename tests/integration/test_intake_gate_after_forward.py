"""Hub staff forward a contact to the open case's allocated worker while triage's consent gate
returns it to the referrer (the two decisions cross; issue 13, one writer per case and a
guarded status). Intake applies whichever comes second as a no-op: the contact stays
forwarded, nothing announces a return, and the gate's event is handled, never retried
until dead-lettered. On the real PostgreSQL server, through intake's real consumer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from intake import events, lifecycle
from intake.contacts import consumers
from intake.contacts.models import Contact
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.outbox import OutboxRecord
from mashcore.settings import Settings
from tests.support import auth, running_services, service_context, synthetic_referral

OFFICER = auth("information_officer", "local-authority", subject="io-7")
SCHOOL = auth("referrer", "education", subject="school-mis")
CASE_SYSTEM = auth("service", "local-authority", subject="case-management-system")
CHILD = {"first_name": "Casey", "last_name": "Openfile", "date_of_birth": "2014-02-02"}
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def intake(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path)
    engine = make_engine(postgres_server.url(name))
    try:
        async with running_services(settings, ["intake"], bus) as clients:
            yield {"client": clients["intake"], "engine": engine, "bus": bus}
    finally:
        engine.dispose()
        await bus.stop()


def published(intake: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    with unit_of_work(intake["engine"]) as uow:
        return [json.loads(r.payload) for r in uow.session.exec(
            select(OutboxRecord).where(OutboxRecord.event_type == event_type)
            .order_by(col(OutboxRecord.id)))]


async def test_a_consent_gate_return_after_the_contact_was_forwarded_changes_nothing(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    loaded = await client.put(
        "/v1/open-cases/MASH-2025-OPENCASE", headers=CASE_SYSTEM,
        json={"child": CHILD, "status": "open", "allocated_worker_id": "sw-12",
              "allocated_manager_id": "tm-3", "opened_on": "2025-06-01"})
    assert loaded.status_code in (200, 201), loaded.text
    response = await client.post("/v1/contacts", json=synthetic_referral(children=[CHILD]),
                                 headers=SCHOOL)
    assert response.status_code == 202, response.text
    contact_id, reference = response.json()["contact_id"], response.json()["case_reference"]
    forwarded = await client.post(f"/v1/contacts/{contact_id}/forward", headers=OFFICER)
    assert forwarded.status_code == 200, forwarded.text

    # Triage's gate decision about the same case, made before it heard of the forwarding.
    gate = Event(
        type=consumers.CONSENT_GATE_APPLIED, source="/mash/triage", subject=reference,
        time=NOW, recordedtime=NOW, partnership="default",
        data={"case_reference": reference, "outcome": "returned_to_referrer",
              "applied_at": NOW.isoformat(), "consent_to_referral": "not_sought",
              "rationale": "Synthetic: discuss with mum.",
              "agreed_by": {"information_officer_id": "io-7", "team_manager_id": None}})
    ctx = service_context(intake["engine"], intake["bus"], FrozenClock(NOW), name="intake")
    handlers = consumers.event_handlers(ctx)
    consumer = EventConsumer(name="intake.triage-decisions", engine=ctx.engine, bus=ctx.bus,
                             registry=ctx.registry, clock=ctx.clock, handlers=handlers)
    consumer._apply(gate, handlers[gate.type])  # handled: no error to retry or dead-letter

    with unit_of_work(intake["engine"]) as uow:
        contact = uow.session.get(Contact, contact_id)
        assert contact is not None
        assert contact.status == lifecycle.FORWARDED
    assert published(intake, events.RETURNED_FOR_CONSENT) == []
    assert len(published(intake, events.FORWARDED_TO_ALLOCATED_WORKER)) == 1
