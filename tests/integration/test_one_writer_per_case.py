"""One writer per case (issue 13): every unit of work that changes a case takes the case's
lock first, so two replicas applying events and commands about one case at the same moment
act one after the other. Forced on the real PostgreSQL server: the two transactions meet at
a rendezvous inside them (tests.concurrency), so the race is on unless the lock prevents it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

import intake.contacts.routing as intake_routing
import sla_timekeeper.timekeeper as timekeeper_module
from intake import events, lifecycle
from intake.contacts.models import ContactAccess
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import Outbox, OutboxRecord
from mashcore.relay import OutboxRelay
from mashcore.schemas import SchemaRegistry
from mashcore.service import ServiceContext
from mashcore.settings import Settings
from mashcore.topics import SLA, TopicNamer
from sla_timekeeper.models import ClockRow
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.timekeeper import event_handlers, fire_due_clocks
from tests.concurrency import Rendezvous, in_threads
from tests.support import (
    auth,
    contact_received_event,
    running_services,
    service_context,
    synthetic_referral,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 09:00


@pytest.fixture
def timekeeper_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TIMEKEEPER.migrations)
    yield engine
    engine.dispose()


def timekeeper_replica(engine: Engine, tmp_path: Path, clock: FrozenClock) -> ServiceContext:
    return service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), clock,
                           name="sla-timekeeper")


def pipeline_consumer(ctx: ServiceContext) -> EventConsumer:
    """The timekeeper's consumer, as a replica runs it."""
    return EventConsumer(name="sla-timekeeper.pipeline", engine=ctx.engine, bus=ctx.bus,
                         registry=ctx.registry, clock=ctx.clock, handlers=event_handlers(ctx))


def published(engine: Engine, event_type: str) -> list[dict[str, Any]]:
    with unit_of_work(engine) as uow:
        return [json.loads(r.payload) for r in uow.session.exec(
            select(OutboxRecord).where(OutboxRecord.event_type == event_type)
            .order_by(col(OutboxRecord.id)))]


def test_a_contact_and_its_decision_applied_at_once_by_two_replicas_never_breach(
    timekeeper_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FrozenClock(NOW)
    replicas = [pipeline_consumer(timekeeper_replica(timekeeper_engine, tmp_path, clock))
                for _ in range(2)]
    reference = "MASH-2026-RACE0001"
    received = contact_received_event(reference)
    decided = received.time + timedelta(minutes=30)  # well within the hour
    decision = received.follow_up(
        type="mash.triage.threshold.decided.v1", source="/mash/test", time=decided,
        recordedtime=decided, data={"decided_at": decided.isoformat(), "route": "nfa"})
    # Both replicas have read the case's clocks (none yet) before either writes.
    meeting = Rendezvous(timekeeper_engine)
    monkeypatch.setattr(timekeeper_module, "engine_on_event",
                        meeting.wrap(timekeeper_module.engine_on_event))
    handlers = event_handlers(timekeeper_replica(timekeeper_engine, tmp_path, clock))
    in_threads(lambda: replicas[0]._apply(received, handlers[received.type]),
               lambda: replicas[1]._apply(decision, handlers[decision.type]))

    with unit_of_work(timekeeper_engine) as uow:
        rows = uow.session.exec(select(ClockRow).where(
            ClockRow.case_reference == reference,
            ClockRow.clock == "threshold_decision")).all()
    assert [(row.status, row.ended_at) for row in rows] == [("met", decided)]
    # Days later the timer owes this case nothing for the decision: no false breach.
    clock.set(NOW + timedelta(days=3))
    fire_due_clocks(timekeeper_replica(timekeeper_engine, tmp_path, clock))
    assert not [b for b in published(timekeeper_engine, "mash.sla.clock.breached.v1")
                if b["clock"] == "threshold_decision"]
    [met] = [m for m in published(timekeeper_engine, "mash.sla.clock.met.v1")
             if m["clock"] == "threshold_decision"]
    assert met["on_time"] is True
    assert not meeting.met  # the second waited for the case, not at the rendezvous


def test_two_open_instances_of_one_clock_cannot_be_stored(timekeeper_engine: Engine) -> None:
    def clock_row(status: str) -> ClockRow:
        return ClockRow(clock_id=str(uuid.uuid4()), clock="threshold_decision",
                        case_reference="MASH-2026-TW0CL0CK", partnership="default",
                        started_at=NOW, due_at=NOW + timedelta(days=1), duration="{}",
                        status=status)

    with unit_of_work(timekeeper_engine) as uow:
        uow.session.add(clock_row("met"))
        uow.session.add(clock_row("met"))  # ended instances: as many as there were
        uow.session.add(clock_row("running"))
        uow.commit()
    for status in ("running", "paused"):
        with unit_of_work(timekeeper_engine) as uow, pytest.raises(IntegrityError):
            uow.session.add(clock_row(status))
            uow.commit()


OFFICER = auth("information_officer", "local-authority", subject="io-7")
SCHOOL = auth("referrer", "education", subject="school-mis")


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
            yield {"client": clients["intake"], "engine": engine}
    finally:
        engine.dispose()
        await bus.stop()


async def submitted(intake: dict[str, Any], body: dict[str, Any]) -> str:
    response = await intake["client"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    return str(response.json()["contact_id"])


async def test_two_simultaneous_forwards_of_a_contact_emit_one_forwarded_event(
    intake: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_system = auth("service", "local-authority", subject="case-management-system")
    loaded = await intake["client"].put(
        "/v1/open-cases/MASH-2025-OPENCASE", headers=case_system,
        json={"child": {"first_name": "Casey", "last_name": "Openfile",
                        "date_of_birth": "2014-02-02"},
              "status": "open", "allocated_worker_id": "sw-12", "allocated_manager_id": "tm-3",
              "opened_on": "2025-06-01"})
    assert loaded.status_code in (200, 201), loaded.text
    contact_id = await submitted(intake, synthetic_referral(children=[
        {"first_name": "Casey", "last_name": "Openfile", "date_of_birth": "2014-02-02"}]))
    # Both requests have seen the contact not yet forwarded before either forwards it.
    meeting = Rendezvous(intake["engine"])
    monkeypatch.setattr(intake_routing, "find_open_case",
                        meeting.wrap(intake_routing.find_open_case))
    path = f"/v1/contacts/{contact_id}/forward"
    other_officer = auth("information_officer", "local-authority", subject="io-8")
    first, second = await asyncio.gather(intake["client"].post(path, headers=OFFICER),
                                         intake["client"].post(path, headers=other_officer))
    assert (first.status_code, second.status_code) == (200, 200)  # the second: already done
    assert {first.json()["status"], second.json()["status"]} == {lifecycle.FORWARDED}
    assert len(published(intake["engine"], events.FORWARDED_TO_ALLOCATED_WORKER)) == 1


async def test_two_simultaneous_lock_downs_leave_one_whole_list_never_a_merge(
    intake: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    contact_id = await submitted(intake, synthetic_referral(staff_linked=True))
    # Both managers have replaced the list in their own transaction before either commits.
    meeting = Rendezvous(intake["engine"])
    monkeypatch.setattr(intake_routing, "replace_named_users",
                        meeting.wrap(intake_routing.replace_named_users, after=True))
    path = f"/v1/contacts/{contact_id}/lock-down"
    consulted = {"user_id": "hos-1", "consulted_at": "2026-11-23T09:00:00Z"}
    lists = {"tm-3": ["tm-3", "io-9"], "tm-4": ["tm-4", "sw-2"]}
    responses = await asyncio.gather(*(
        intake["client"].post(path, headers=auth("team_manager", "local-authority",
                                                 subject=manager),
                              json={"allowed_user_ids": named,
                                    "reason_code": "staff_member_family",
                                    "head_of_service_consulted": consulted})
        for manager, named in lists.items()))
    # The first list in force names one manager only: the other is then refused the record.
    assert sorted(r.status_code for r in responses) == [200, 404]
    with unit_of_work(intake["engine"]) as uow:
        in_force = sorted(a.user_id for a in uow.session.exec(
            select(ContactAccess).where(ContactAccess.contact_id == contact_id)))
    [event] = published(intake["engine"], events.RECORD_LOCKED_DOWN)
    assert in_force == sorted(event["allowed_user_ids"])
    assert in_force in [sorted(named) for named in lists.values()]



@pytest.fixture
def outbox_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TIMEKEEPER.migrations)  # any service: the shared outbox table
    yield engine
    engine.dispose()


def write_event(engine: Engine, event: Event, committed: list[str],
                then: Callable[[], None]) -> None:
    """A unit of work about the event's case: lock, stage the event (its id is taken at
    insert), ``then``, commit."""
    with unit_of_work(engine) as uow:
        uow.lock_case(event.subject)
        Outbox(SchemaRegistry(), TopicNamer()).add(uow, event, SLA)
        uow.session.flush()
        then()
        uow.commit()
        committed.append(event.id)


async def relayed(relay: OutboxRelay, bus: EmbeddedBus) -> list[str]:
    while await relay.publish_pending():
        pass
    return [str(m.header("ce_id"))
            for m in await asyncio.to_thread(bus._read, f"i-{uuid.uuid4()}", [SLA], 1000)]


async def test_a_case_s_events_are_published_in_commit_order_when_its_transactions_overlap(
    outbox_engine: Engine, tmp_path: Path,
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    relay = OutboxRelay(outbox_engine, bus, FrozenClock(NOW))
    first, second = (contact_received_event("MASH-2026-0RDER001", contact_id=str(uuid.UUID(
        int=n))) for n in (1, 2))
    committed: list[str] = []
    # The first inserts (the lower id), then waits for the second to commit or be held at
    # the case's lock; without that lock the second would commit first.
    meeting, inserted = Rendezvous(outbox_engine), threading.Event()

    def first_inserted() -> None:
        inserted.set()
        meeting.arrive()

    def second_after_the_first_s_insert() -> None:
        assert inserted.wait(60)
        write_event(outbox_engine, second, committed, lambda: None)
        meeting.arrive()

    await asyncio.to_thread(
        in_threads, lambda: write_event(outbox_engine, first, committed, first_inserted),
        second_after_the_first_s_insert)
    assert await relayed(relay, bus) == committed
    assert committed == [first.id, second.id]  # the second waited for the case
    await bus.stop()


async def test_another_case_s_event_committed_meanwhile_is_published_without_waiting(
    outbox_engine: Engine, tmp_path: Path,
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    relay = OutboxRelay(outbox_engine, bus, FrozenClock(NOW))
    slow = contact_received_event("MASH-2026-SL0WCASE")
    quick = contact_received_event("MASH-2026-QU1CKCAS", contact_id=str(uuid.UUID(int=3)))
    committed: list[str] = []
    early: list[str] = []
    meeting, inserted = Rendezvous(outbox_engine), threading.Event()

    def slow_inserted() -> None:
        inserted.set()
        meeting.arrive()

    def quick_then_relay() -> None:
        assert inserted.wait(60)  # the slow case's event has the lower id
        write_event(outbox_engine, quick, committed, lambda: None)
        early.extend(asyncio.run(relayed(relay, bus)))  # while the slow case is still open
        meeting.arrive()

    await asyncio.to_thread(
        in_threads, lambda: write_event(outbox_engine, slow, committed, slow_inserted),
        quick_then_relay)
    assert meeting.met  # different cases never wait for each other
    assert early == [quick.id]  # the lower id, uncommitted, of another case did not hold it
    assert await relayed(relay, bus) == committed == [quick.id, slow.id]
    await bus.stop()
