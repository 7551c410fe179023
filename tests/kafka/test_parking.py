"""Consumers never stall (issue 13): an event waiting for its prerequisite is parked, the
partition goes on, the event is applied when the prerequisite arrives, or dead-lettered after
the policy time. Real Kafka (two partitions) and real PostgreSQL, MASH enquiries' handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.partitioner import murmur2
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from devinfra.kafka import create_topics_async
from mash_enquiries.handlers import intake_handlers, triage_handlers
from mash_enquiries.models import Episode, InformationRequest
from mash_enquiries.service import SERVICE as ENQUIRIES
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine
from mashcore.envelope import Event
from mashcore.kafka_bus import KafkaBus
from mashcore.migrations import upgrade_to_head
from mashcore.parking import ParkedEvent, ParkingLot
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS, TRIAGE_CASES
from tests.kafka.test_kafka_bus import read_topic
from tests.support import contact_received_event, eventually, service_context

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PARTITIONS = 2


@pytest.fixture
async def bus(kafka_broker: Any) -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(kafka_broker.bootstrap_servers, client_id="test-parking")
    await bus.start()
    yield bus
    await bus.stop()


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, ENQUIRIES.migrations)
    yield engine
    engine.dispose()


def partition_of(reference: str) -> int:
    """The partition Kafka's default partitioner puts a case's key on."""
    return (murmur2(reference.encode()) & 0x7FFFFFFF) % PARTITIONS


def references(partition: int, count: int, prefix: str) -> list[str]:
    """Case references whose events all land on the given partition."""
    found = [f"MASH-2026-{prefix}{n:07d}" for n in range(1_000)]
    return [r for r in found if partition_of(r) == partition][:count]


def decision(reference: str) -> Event:
    return Event(type="mash.triage.threshold.decided.v1", source="/mash/triage",
                 subject=reference, time=NOW, recordedtime=NOW, partnership="default",
                 data={"case_reference": reference, "route": "mash_enquiries", "brag": "red",
                       "decided_at": NOW.isoformat(),
                       "decided_by": {"user_id": "tm-1", "role": "team_manager"},
                       "level_of_need": {"code": "L4", "name": "L4 Statutory"},
                       "rationale": "Synthetic.", "proceeding_without_consent": True,
                       "proceeding_without_consent_reason": "Synthetic.",
                       "without_consent_basis": "seeking_consent_would_risk_significant_harm",
                       "consent_revisit_due_at": (NOW + timedelta(days=5)).isoformat(),
                       "enquiries_due_at": (NOW + timedelta(hours=4)).isoformat()})


def consent_obtained(reference: str) -> Event:
    return Event(type="mash.triage.consent.obtained.v1", source="/mash/triage",
                 subject=reference, time=NOW, recordedtime=NOW, partnership="default",
                 data={"case_reference": reference, "recorded_at": NOW.isoformat(),
                       "recorded_by": {"user_id": "tm-1", "role": "team_manager"},
                       "consent_to_referral": "given", "note": "Synthetic.",
                       "ends_override_id": None})


def requests_of(engine: Engine, reference: str) -> list[InformationRequest]:
    with Session(engine) as session:
        return list(session.exec(select(InformationRequest).join(
            Episode, InformationRequest.episode_id == Episode.id  # type: ignore[arg-type]
        ).where(Episode.case_reference == reference)).all())


def parked(engine: Engine) -> list[ParkedEvent]:
    with Session(engine) as session:
        return list(session.exec(select(ParkedEvent).order_by(ParkedEvent.id)).all())  # type: ignore[arg-type]


class EnquiriesConsumers:
    """MASH enquiries' two consumers, as create_app wires them, sharing one parking lot."""

    def __init__(self, ctx: ServiceContext, bus: KafkaBus, namespace: str) -> None:
        self.lot = ParkingLot(ctx.engine, ctx.clock, max_age=timedelta(hours=24))
        self.contacts = EventConsumer(
            name="mash-enquiries.contacts", engine=ctx.engine, bus=bus, registry=ctx.registry,
            clock=ctx.clock, handlers=intake_handlers(ctx), parking=self.lot,
            batch_size=ctx.settings.consumer_batch)
        self.decisions = EventConsumer(
            name="mash-enquiries.decisions", engine=ctx.engine, bus=bus,
            registry=ctx.registry, clock=ctx.clock, handlers=triage_handlers(ctx),
            parking=self.lot, batch_size=ctx.settings.consumer_batch)
        self.subscriptions = [
            bus.subscribe(f"{namespace}contacts", [f"{namespace}{INTAKE_CONTACTS}"],
                          self.contacts),
            bus.subscribe(f"{namespace}decisions", [f"{namespace}{TRIAGE_CASES}"],
                          self.decisions),
        ]

    async def __aenter__(self) -> EnquiriesConsumers:
        for subscription in self.subscriptions:
            await subscription.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for subscription in self.subscriptions:
            await subscription.stop()


async def test_a_waiting_event_is_parked_the_partitions_go_on_and_it_is_applied_once_later(
    bus: KafkaBus, engine: Engine, namespace: str
) -> None:
    contacts, decisions = f"{namespace}{INTAKE_CONTACTS}", f"{namespace}{TRIAGE_CASES}"
    await create_topics_async(bus.bootstrap_servers,
                              [contacts, decisions, f"{contacts}.dlq", f"{decisions}.dlq"],
                              partitions=PARTITIONS)
    waiting, same_partition = references(0, 2, "P")
    [other_partition] = references(1, 1, "Q")
    ctx = service_context(engine, bus, FrozenClock(NOW), namespace, name="mash-enquiries")
    # The contacts of two cases are known; the third's contact is still on its way.
    await bus.publish([contact_received_event(r).to_message(contacts)
                       for r in (same_partition, other_partition)])
    # On the decisions topic: the waiting case's decision and, behind it on its partition,
    # its consent (order per case matters: consent after the decision changes the basis);
    # then another case on the same partition, and one on the other partition.
    await bus.publish([decision(waiting).to_message(decisions),
                       consent_obtained(waiting).to_message(decisions),
                       decision(same_partition).to_message(decisions),
                       decision(other_partition).to_message(decisions)])
    async with EnquiriesConsumers(ctx, bus, namespace):
        async def others_opened() -> bool:
            return all(len(requests_of(engine, r)) == 4
                       for r in (same_partition, other_partition))

        await eventually(others_opened, timeout=60, what="the other cases' episodes")

        async def both_parked() -> list[ParkedEvent]:
            rows = parked(engine)
            return rows if len(rows) == 2 else []

        rows = await eventually(both_parked, timeout=30, what="the waiting case parked")
        assert [(r.case_reference, r.event_type, r.waiting_for) for r in rows] == [
            (waiting, "mash.triage.threshold.decided.v1", f"contact:{waiting}"),
            (waiting, "mash.triage.consent.obtained.v1", f"contact:{waiting}"),
        ]
        assert requests_of(engine, waiting) == []

        await bus.publish([contact_received_event(waiting).to_message(contacts)])

        async def applied() -> list[InformationRequest]:
            found = requests_of(engine, waiting)
            return found if not parked(engine) and found else []

        opened = await eventually(applied, timeout=60, what="the parked events applied")
    # Applied once (one episode, one request per agency), in order: consent came last.
    assert len(opened) == 4
    assert {r.sharing_basis for r in opened} == {"consent"}


async def test_an_event_waiting_too_long_is_dead_lettered_with_its_reason(
    bus: KafkaBus, engine: Engine, namespace: str, kafka_broker: Any
) -> None:
    contacts, decisions = f"{namespace}{INTAKE_CONTACTS}", f"{namespace}{TRIAGE_CASES}"
    await create_topics_async(bus.bootstrap_servers,
                              [contacts, decisions, f"{contacts}.dlq", f"{decisions}.dlq"],
                              partitions=PARTITIONS)
    clock = FrozenClock(NOW)
    ctx = service_context(engine, bus, clock, namespace, name="mash-enquiries")
    [never] = references(0, 1, "N")
    lost = decision(never)
    async with EnquiriesConsumers(ctx, bus, namespace) as consumers:
        await bus.publish([lost.to_message(decisions)])

        async def is_parked() -> bool:
            return len(parked(engine)) == 1

        await eventually(is_parked, timeout=60, what="the decision parked")
        clock.advance(hours=23, minutes=59)
        assert await consumers.lot.tick() == 0  # still within the policy time: waits
        assert len(parked(engine)) == 1 and parked(engine)[0].attempts == 1
        clock.advance(minutes=2)
        assert await consumers.lot.tick() == 1
    assert parked(engine) == []
    [dead] = await read_topic(kafka_broker.bootstrap_servers, f"{decisions}.dlq", 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq_reason"] == f"prerequisite not arrived: contact:{never}"
    assert headers["dlq_consumer"] == "mash-enquiries.decisions"
    assert headers["dlq_original_topic"] == decisions
    assert headers["ce_id"] == lost.id
    assert dead.value == lost.to_message(decisions).value
