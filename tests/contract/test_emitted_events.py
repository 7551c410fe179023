"""Every event the services published during this test session matches its contract.

The events are collected at the bus (``mashcore.tap``), from in-process services and from
service processes alike; none is built here. Run as part of the whole suite (the contract
tier runs last), this covers what the other tiers made the services do. The first test
drives the walking skeleton too, so the check never passes on an empty collection.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mash_app.services import SERVICE_MODULES
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event, InvalidEnvelope
from mashcore.messages import Message
from mashcore.schemas import SchemaRegistry, SchemaViolation
from mashcore.settings import Settings
from mashcore.tap import TAP_ENV, read_published
from tests.support import auth, eventually, running_services, synthetic_referral

SERVICE_SOURCES = {f"/mash/{name}" for name in SERVICE_MODULES}


def service_events(folder: Path) -> list[Message]:
    """Messages a MASH service published (tests' own hand-made messages are left out)."""
    return [
        m for m in read_published(folder)
        if not m.topic.endswith(".dlq") and m.header("ce_source") in SERVICE_SOURCES
    ]


def problems_with(message: Message, registry: SchemaRegistry) -> list[str]:
    """Why a published message breaks its contract (empty when it does not)."""
    try:
        event = Event.from_message(message)
    except InvalidEnvelope as exc:
        return [f"{message.topic}: envelope: {exc}"]
    problems = []
    if event.type not in registry.event_types:
        problems.append(f"{event.type}: emitted but has no schema")
    else:
        try:
            registry.validate(event.type, event.data)
        except SchemaViolation as exc:
            problems.append(str(exc))
    if message.key != event.subject.encode():
        problems.append(f"{event.type}: key is not the case reference")
    return problems


@pytest.fixture(scope="module")
def tap() -> Path:
    return Path(os.environ[TAP_ENV])


async def test_the_walking_skeleton_emits_its_events_at_the_bus(tap: Path, tmp_path: Path) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    async with running_services(Settings(data_dir=tmp_path), ["intake", "triage"], bus) as apps:
        response = await apps["intake"].post("/v1/contacts", json=synthetic_referral(),
                                             headers=auth("referrer", "probation"))
        reference = response.json()["case_reference"]

        async def case_opened_published() -> bool:
            return any(m.header("ce_type") == "mash.triage.case.opened.v1"
                       and m.key == reference.encode() for m in service_events(tap))

        await eventually(case_opened_published, what="triage's event at the bus")
    await bus.stop()


def test_every_event_the_services_emitted_matches_its_schema(tap: Path) -> None:
    events = service_events(tap)
    assert events, "no service events were collected at the bus"
    registry = SchemaRegistry()
    problems = [p for m in events for p in problems_with(m, registry)]
    assert problems == []
    emitted = Counter(m.header("ce_type") for m in events)
    print(f"\ncontract-checked {sum(emitted.values())} emitted events: {dict(emitted)}")


def test_an_emitted_type_without_a_schema_is_reported() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    unknown = Event(type="mash.intake.contact.vanished.v1", source="/mash/intake",
                    subject="MASH-2026-AAAAAAAA", time=when, recordedtime=when,
                    partnership="default", data={})
    assert problems_with(unknown.to_message("t"), SchemaRegistry()) == [
        "mash.intake.contact.vanished.v1: emitted but has no schema"]


def test_a_message_keyed_by_anything_but_the_case_reference_is_reported() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    event = Event(type="mash.triage.case.opened.v1", source="/mash/triage",
                  subject="MASH-2026-AAAAAAAA", time=when, recordedtime=when,
                  partnership="default", data={})
    message = event.to_message("t")
    rekeyed = Message(message.topic, b"other", message.value, message.headers)
    assert "key is not the case reference" in " ".join(problems_with(rekeyed, SchemaRegistry()))
