"""``mash dlq`` on the embedded bus (``make run``): list and replay without a broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mash_app.cli import main
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.messages import Message
from mashcore.schemas import SchemaRegistry
from mashcore.topics import INTAKE_CONTACTS
from tests.support import contact_received_event

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_mash_dlq_on_the_embedded_bus_lists_and_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MASH_BUS", "embedded")
    event = contact_received_event("MASH-2026-EMBEDDED", first_name="Zebedee")
    original = event.to_message(INTAKE_CONTACTS)
    bus = EmbeddedBus(tmp_path / "bus.sqlite")

    async def dead_letter_it() -> None:
        await bus.start()
        engine = make_engine(f"sqlite:///{tmp_path / 'triage.sqlite'}")
        consumer = EventConsumer(name="triage.contacts", engine=engine, bus=bus,
                                 registry=SchemaRegistry(), clock=FrozenClock(NOW), handlers={})
        await consumer.dead_letter(Message(original.topic, original.key, original.value,
                                           original.headers, partition=0, offset=3),
                                   "handler failed after 5 attempts: LookupError")
        await bus.stop()
        engine.dispose()

    asyncio.run(dead_letter_it())
    capsys.readouterr()
    assert main(["dlq", "list", INTAKE_CONTACTS]) == 0
    listed = capsys.readouterr().out
    assert event.id in listed and "LookupError" in listed and "Zebedee" not in listed
    assert main(["dlq", "replay", INTAKE_CONTACTS, "--offset", "1"]) == 0

    async def read_back() -> list[Message]:
        await bus.start()
        try:
            return await bus.read_topic(INTAKE_CONTACTS)
        finally:
            await bus.stop()

    [replayed] = asyncio.run(read_back())
    assert replayed.value == original.value and replayed.headers == original.headers
