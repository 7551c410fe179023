"""Triage applies a polled batch on the real PostgreSQL server (issue 17): a case opened and
completed in one batch (its contact.received then its referral.accepted) is the row the
transaction inserted, so it is not selected again FOR UPDATE; a case opened in an earlier
transaction still is, and both end the same."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake.checks import quality
from intake.contacts.api_models import ReferralIn
from intake.domain import referral_accepted_data
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from mashcore.schemas import default_registry
from mashcore.topics import INTAKE_CONTACTS
from tests.support import (
    SAMPLE_TIME,
    contact_received_event,
    service_context,
    synthetic_referral,
)
from triage.handlers import event_handlers
from triage.models import TriageCase
from triage.service import SERVICE as TRIAGE

SAME_BATCH, EARLIER = "MASH-2026-0000SAME", "MASH-2026-000EARLY"


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TRIAGE.migrations)
    yield engine
    engine.dispose()


def referral_accepted(case_reference: str) -> Event:
    submission = synthetic_referral(consent={"consent_to_referral": "yes"})
    body = ReferralIn.model_validate(submission)
    data = referral_accepted_data(
        contact_id="3f2b8c1e-7a4d-4e55-9a61-2c0f4b7d9e10", case_reference=case_reference,
        accepted_at=SAMPLE_TIME, submission=ReferralIn.model_dump(body, mode="json"),
        agency="education", quality=quality.assess(body, "education").event_data())
    return Event(type="mash.intake.referral.accepted.v1", source="/mash/test",
                 subject=case_reference, time=SAMPLE_TIME, recordedtime=SAMPLE_TIME,
                 partnership="default", data=data)


def contact_received(case_reference: str) -> Event:
    return contact_received_event(case_reference, contact_id=str(uuid.uuid4()))


def as_messages(events: list[Event], first_offset: int) -> list[Message]:
    return [dataclasses.replace(e.to_message(INTAKE_CONTACTS), partition=0,
                                offset=first_offset + n) for n, e in enumerate(events)]


async def test_a_case_opened_in_the_batch_is_completed_without_selecting_it_again(
    engine: Engine, tmp_path: Path
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    try:
        clock = FrozenClock(SAMPLE_TIME)
        ctx = service_context(engine, bus, clock)
        consumer = EventConsumer(name="triage.contacts", engine=engine, bus=bus,
                                 registry=default_registry(), clock=clock,
                                 handlers=event_handlers(ctx), batch_size=100)
        seen: list[str] = []

        def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            seen.append(statement)

        # EARLIER: opened in one transaction, its referral in the next; SAME_BATCH in one.
        await consumer.handle_batch(as_messages(
            [contact_received(EARLIER)], 0))
        sa_event.listen(engine, "before_cursor_execute", note)
        try:
            await consumer.handle_batch(as_messages([referral_accepted(EARLIER)], 1))
            earlier_selects = [s for s in seen if "FOR UPDATE" in s]
            seen.clear()
            await consumer.handle_batch(as_messages(
                [contact_received(SAME_BATCH), referral_accepted(SAME_BATCH)], 3))
        finally:
            sa_event.remove(engine, "before_cursor_execute", note)
    finally:
        await bus.stop()
    assert len(earlier_selects) == 1  # a case opened before: locked as ever
    assert not any("FOR UPDATE" in s for s in seen)  # opened in this very transaction
    with Session(engine) as session:
        for reference in (EARLIER, SAME_BATCH):
            case = session.get(TriageCase, reference)
            assert case is not None and case.referral is not None
            assert case.consent_to_referral == "given"
