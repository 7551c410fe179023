"""One writer per consultation and per transfer-in (issue 13, intake.lifecycle).

Two advices on one consultation, or two decisions on one transfer-in, arriving at once: the
record is locked (``UnitOfWork.lock_case``: the transfer's case reference, the consultation's
own id) and read again before the status moves, so the second sees the first and answers
409; exactly one event is announced. Forced on the real PostgreSQL server with the
rendezvous of tests.concurrency, and on SQLite (embedded mode, where ``FOR UPDATE`` does
nothing) by holding the first request open after its read until the second has either
finished or reached the lock.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from intake import events, lifecycle
from intake.consultations import events as consultation_events
from intake.transfers_in import events as transfer_events
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.outbox import OutboxRecord
from mashcore.settings import Settings
from tests.concurrency import Rendezvous
from tests.integration.test_intake_contact_types import ADVICE, consultation, transfer
from tests.support import auth, running_services

LA = auth("referrer", "local_authority", subject="synthetic-county-system")
NURSERY = auth("referrer", "early_years", subject="nursery-system")
IO = auth("information_officer", "local_authority", subject="staff-0007")
TM = auth("team_manager", "local_authority", subject="staff-0042")
OTHER_TM = auth("team_manager", "local_authority", subject="staff-0043")


async def _running(settings: Settings, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    engine = make_engine(settings.database_url_for("intake"))
    try:
        async with running_services(settings, ["intake"], bus) as clients:
            yield {"client": clients["intake"], "engine": engine}
    finally:
        engine.dispose()
        await bus.stop()


@pytest.fixture
async def intake(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path)
    async for running in _running(settings, tmp_path):
        yield running


@pytest.fixture
async def embedded_intake(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async for running in _running(Settings(data_dir=tmp_path), tmp_path):
        yield running


def published(engine: Engine, event_type: str) -> list[dict[str, Any]]:
    with unit_of_work(engine) as uow:
        return [json.loads(r.payload) for r in uow.session.exec(
            select(OutboxRecord).where(OutboxRecord.event_type == event_type)
            .order_by(col(OutboxRecord.id)))]


async def consultation_id(client: Any) -> str:
    asked = await client.post("/v1/consultations", json=consultation(), headers=NURSERY)
    assert asked.status_code == 201, asked.text
    return str(asked.json()["consultation_id"])


async def transfer_id(client: Any) -> str:
    received = await client.post("/v1/transfers-in", json=transfer(), headers=LA)
    assert received.status_code == 201, received.text
    return str(received.json()["transfer_id"])


class Gate(Protocol):
    """Where the two requests meet (Rendezvous on PostgreSQL, HeldOpen on SQLite)."""

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]: ...


def _held_at(monkeypatch: pytest.MonkeyPatch, builder: str, gate: Gate) -> None:
    """Each request waits at ``gate`` when it builds its event (its concept's events.<builder>):
    after it has read the record, before it writes."""
    module = consultation_events if builder.startswith("consultation") else transfer_events
    monkeypatch.setattr(module, builder, gate.wrap(getattr(module, builder)))


async def advice_path(client: Any, monkeypatch: pytest.MonkeyPatch, gate: Gate) -> str:
    """A new consultation's advice path, each advice on it held at ``gate``."""
    consulted = await consultation_id(client)
    _held_at(monkeypatch, "consultation_recorded_data", gate)
    return f"/v1/consultations/{consulted}/advice"


async def decision_path(client: Any, monkeypatch: pytest.MonkeyPatch, gate: Gate) -> str:
    """A new transfer-in's decision path, each decision on it held at ``gate``."""
    transferred = await transfer_id(client)
    _held_at(monkeypatch, "transfer_in_received_data", gate)
    return f"/v1/transfers-in/{transferred}/decision"


async def test_two_advices_at_once_on_postgres_record_and_announce_one(
    intake: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = intake["client"]
    # Both have read the consultation awaiting advice before either records it.
    meeting = Rendezvous(intake["engine"])
    path = await advice_path(client, monkeypatch, meeting)
    answers = await asyncio.gather(client.post(path, json=ADVICE, headers=IO),
                                   client.post(path, json=ADVICE, headers=TM))
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert len(published(intake["engine"], events.CONSULTATION_RECORDED)) == 1
    assert not meeting.met  # the second waited for the first, not at the rendezvous


async def test_two_decisions_at_once_on_postgres_decide_and_announce_once(
    intake: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = intake["client"]
    meeting = Rendezvous(intake["engine"])
    path = await decision_path(client, monkeypatch, meeting)
    answers = await asyncio.gather(
        client.post(path, json={"arrangement": "permanent"}, headers=TM),
        client.post(path, json={"arrangement": "temporary"}, headers=OTHER_TM))
    assert sorted(a.status_code for a in answers) == [200, 409]
    [decided] = [a.json() for a in answers if a.status_code == 200]
    [event] = published(intake["engine"], events.TRANSFER_IN_RECEIVED)
    assert event["arrangement"] == decided["decision"]["arrangement"]
    assert not meeting.met


async def test_a_dispute_is_announced_once_even_when_two_managers_dispute_at_once(
    intake: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = intake["client"]
    meeting = Rendezvous(intake["engine"])
    path = await decision_path(client, monkeypatch, meeting)
    disputed = {"arrangement": "disputed"}
    answers = await asyncio.gather(client.post(path, json=disputed, headers=TM),
                                   client.post(path, json=disputed, headers=OTHER_TM))
    assert sorted(a.status_code for a in answers) == [200, 409]
    [refused] = [a for a in answers if a.status_code == 409]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["title"] == "Transfer-in already disputed"
    assert len(published(intake["engine"], events.TRANSFER_IN_RECEIVED)) == 1
    # Once resolved it is decided, once.
    resolved = await client.post(path, json={"arrangement": "permanent"}, headers=TM)
    assert resolved.json()["status"] == lifecycle.DECIDED
    assert [e["arrangement"] for e in published(
        intake["engine"], events.TRANSFER_IN_RECEIVED)] == ["disputed", "permanent"]


class HeldOpen:
    """Holds the first request open after its read until the second has finished or is
    about to take the lock (SQLite has no lock-wait view: the second says so itself).

    Without a lock the second reads, writes and commits while the first waits, so both act
    on what they read; with the lock the first holds it while waiting, so the second waits
    for the first's commit and then sees it.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.first_waiting = threading.Event()
        self.second_on_its_way = threading.Event()
        original = UnitOfWork.lock_case

        def lock_case(uow: UnitOfWork, case_reference: str) -> None:
            if self.first_waiting.is_set():  # only the second request gets here now
                self.second_on_its_way.set()
            original(uow, case_reference)

        monkeypatch.setattr(UnitOfWork, "lock_case", lock_case)

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not self.first_waiting.is_set():
                self.first_waiting.set()
                if not self.second_on_its_way.wait(60):
                    raise AssertionError("the second request neither finished nor waited")
            return function(*args, **kwargs)
        return wrapped

    async def second(self, request: Any) -> Any:
        """Send the second request once the first waits; it finishes or queues at the lock."""
        await asyncio.to_thread(self.first_waiting.wait, 60)
        try:
            return await request
        finally:
            self.second_on_its_way.set()


async def test_two_advices_at_once_in_embedded_mode_record_and_announce_one(
    embedded_intake: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = embedded_intake["client"]
    held = HeldOpen(monkeypatch)
    path = await advice_path(client, monkeypatch, held)
    first, second = await asyncio.gather(
        client.post(path, json=ADVICE, headers=IO),
        held.second(client.post(path, json=ADVICE, headers=TM)))
    assert (first.status_code, second.status_code) == (200, 409)
    assert len(published(embedded_intake["engine"], events.CONSULTATION_RECORDED)) == 1


async def test_two_decisions_at_once_in_embedded_mode_decide_and_announce_once(
    embedded_intake: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = embedded_intake["client"]
    held = HeldOpen(monkeypatch)
    path = await decision_path(client, monkeypatch, held)
    first, second = await asyncio.gather(
        client.post(path, json={"arrangement": "permanent"}, headers=TM),
        held.second(client.post(path, json={"arrangement": "temporary"}, headers=OTHER_TM)))
    assert (first.status_code, second.status_code) == (200, 409)
    [event] = published(embedded_intake["engine"], events.TRANSFER_IN_RECEIVED)
    assert event["arrangement"] == "permanent"
