"""Parking on SQLite and the embedded bus (``make run``): a redelivered parked event is
parked once, and the case's events are applied in arrival order, once, when it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer, NotYetKnown
from mashcore.counters import MetricCounter
from mashcore.db import UnitOfWork, make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.inbox import InboxRecord
from mashcore.parking import ParkedEvent, ParkingLot
from mashcore.schemas import SchemaRegistry
from tests.support import case_opened_event, contact_received_event

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONTACTS, CASES = "mash.intake.contacts.v1", "mash.triage.cases.v1"
REFERENCE = "MASH-2026-WAITING1"


class Applied(SQLModel, table=True):
    """What the test consumers did, in order."""

    __tablename__ = "test_applied"

    id: int | None = Field(default=None, primary_key=True)
    consumer: str
    event_id: str


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}")
    SQLModel.metadata.create_all(engine, tables=[
        InboxRecord.__table__, ParkedEvent.__table__, MetricCounter.__table__,  # the inbox counts
        Applied.__table__])  # type: ignore[list-item]
    yield engine
    engine.dispose()


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[EmbeddedBus]:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    yield bus
    await bus.stop()


def applied(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(a.consumer, a.event_id) for a in
                session.exec(select(Applied).order_by(col(Applied.id))).all()]


async def test_parked_events_wait_once_and_are_applied_in_order_when_the_contact_arrives(
    engine: Engine, bus: EmbeddedBus
) -> None:
    lot = ParkingLot(engine, FrozenClock(NOW))

    def remember_contact(event: Event, uow: UnitOfWork) -> None:
        uow.session.add(Applied(consumer="contacts", event_id=event.id))

    def needs_contact(event: Event, uow: UnitOfWork) -> None:
        known = uow.session.exec(select(Applied).where(Applied.consumer == "contacts")).first()
        if known is None:
            raise NotYetKnown(f"contact:{event.subject}")
        uow.session.add(Applied(consumer="cases", event_id=event.id))

    def consumer(name: str, event_type: str, handler: object) -> EventConsumer:
        return EventConsumer(name=name, engine=engine, bus=bus, registry=SchemaRegistry(),
                             clock=FrozenClock(NOW), handlers={event_type: handler},  # type: ignore[dict-item]
                             parking=lot)

    contacts = consumer("svc.contacts", "mash.intake.contact.received.v1", remember_contact)
    cases = consumer("svc.cases", "mash.triage.case.opened.v1", needs_contact)
    first, second = case_opened_event(REFERENCE), case_opened_event(REFERENCE)
    for message in (first.to_message(CASES), first.to_message(CASES),  # redelivered
                    second.to_message(CASES)):
        await cases(message)
    with Session(engine) as session:
        rows = session.exec(select(ParkedEvent).order_by(col(ParkedEvent.id))).all()
    assert [(r.event_id, r.waiting_for) for r in rows] == [
        (first.id, f"contact:{REFERENCE}"), (second.id, f"contact:{REFERENCE}")]

    contact = contact_received_event(REFERENCE)
    await contacts(contact.to_message(CONTACTS))
    assert applied(engine) == [("contacts", contact.id), ("cases", first.id),
                               ("cases", second.id)]
    assert await lot.tick() == 0  # nothing left, nothing applied twice
    await cases(first.to_message(CASES))  # a late redelivery: the inbox skips it
    assert len(applied(engine)) == 3
