"""Consumer pact: what notifications needs from strategy's conference invitations and their
cancellations.

From ``icpc.scheduled``, ``core-group.scheduled`` and ``review-conference.scheduled``
notifications builds a calendar invitation (``invitations.meeting_payload``) for each
invited agency (``handlers.strategy_handlers``): it reads the meeting id (the invite's
stable UID), strategy's ``sequence``, ``scheduled_for`` (the start), ``scheduled_at`` (the
stamp) and the invitees' roles and agencies. The end, format and place are optional (an
invite without an end lasts an hour), so the pact does not require them. The invitees must
contain at least one member of an agency (``array_containing``); family members, invited by
role only, may be there too. Each example is fed through notifications' real handler on a
migrated SQLite file and must queue one invitation per agency. Passing, the pact is written
to ``contracts/pacts/notifications-strategy.json`` for strategy's verification
(``test_pact_strategy_provides_its_conference_events.py``).

From ``icpc.cancelled``, ``core-group.cancelled`` and ``review-conference.cancelled`` it
builds the cancellation (METHOD:CANCEL) of that invitation: the same fields, with
``cancelled_at`` (the stamp) instead of ``scheduled_at``; the sequence is strategy's next one,
and the invitees are those the invitation went to. Verified the same way
(``test_pact_strategy_provides_its_conference_events.py``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pact import Pact, match
from sqlmodel import Session, select

from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from notifications.handlers import (
    CORE_GROUP_CANCELLED,
    CORE_GROUP_SCHEDULED,
    ICPC_CANCELLED,
    ICPC_SCHEDULED,
    REVIEW_CANCELLED,
    REVIEW_SCHEDULED,
    strategy_handlers,
)
from notifications.models import Notification
from notifications.service import SERVICE as NOTIFICATIONS
from tests.contract.test_pact_triage_consumes_intake import (
    PACT_DIR,
    RFC3339,
    as_kafka_message,
    cloudevent_headers,
)
from tests.support import service_context

ICPC = "an initial child protection conference has been scheduled"
CORE_GROUP = "a plan's first core group has been scheduled"
REVIEW = "a plan's first review conference has been scheduled"
ICPC_OFF = "an initial child protection conference has been cancelled"
CORE_GROUP_OFF = "a plan's first core group has been cancelled"
REVIEW_OFF = "a plan's first review conference has been cancelled"
TITLES = {ICPC_SCHEDULED: "Child protection conference",
          CORE_GROUP_SCHEDULED: "Core group meeting",
          REVIEW_SCHEDULED: "Review child protection conference",
          ICPC_CANCELLED: "Child protection conference",
          CORE_GROUP_CANCELLED: "Core group meeting",
          REVIEW_CANCELLED: "Review child protection conference"}
CANCELLED = (ICPC_CANCELLED, CORE_GROUP_CANCELLED, REVIEW_CANCELLED)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SCHEDULED_AT = "2026-12-01T09:00:00+00:00"
ROLE = r"^[a-z_]{1,40}$"


def _body(meeting_id: str, scheduled_for: str, *, cancelled: bool = False) -> dict[str, Any]:
    stamp = "cancelled_at" if cancelled else "scheduled_at"
    return {
        "meeting_id": match.uuid(meeting_id),
        "sequence": match.integer(1 if cancelled else 0),
        "scheduled_for": match.regex(scheduled_for, regex=RFC3339),
        stamp: match.regex(SCHEDULED_AT, regex=RFC3339),
        "invitees": match.array_containing([
            {"role": match.regex("social_worker", regex=ROLE),
             "agency": match.regex("local_authority", regex=ROLE)}]),
    }


def strategy_pact() -> Pact:
    pact = Pact("notifications", "strategy").with_specification("V4")
    for event_type, state, reference, event_id, meeting_id, at in (
        (ICPC_SCHEDULED, ICPC, "MASH-2026-NOTIFY01", "b5c6d7e8-f90a-4b1c-8d2e-3f4a5b6c7d8e",
         "c6d7e8f9-0a1b-4c2d-9e3f-4a5b6c7d8e9f", "2026-12-10T10:00:00+00:00"),
        (CORE_GROUP_SCHEDULED, CORE_GROUP, "MASH-2026-NOTIFY02",
         "d7e8f90a-1b2c-4d3e-8f4a-5b6c7d8e9f0a", "e8f90a1b-2c3d-4e4f-9a5b-6c7d8e9f0a1b",
         "2026-12-17T10:00:00+00:00"),
        (REVIEW_SCHEDULED, REVIEW, "MASH-2026-NOTIFY03",
         "f90a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c", "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
         "2027-03-04T10:00:00+00:00"),
        (ICPC_CANCELLED, ICPC_OFF, "MASH-2026-NOTIFY04", "1b2c3d4e-5f6a-4b7c-8d8e-9f0a1b2c3d4e",
         "2c3d4e5f-6a7b-4c8d-9e9f-0a1b2c3d4e5f", "2026-12-10T10:00:00+00:00"),
        (CORE_GROUP_CANCELLED, CORE_GROUP_OFF, "MASH-2026-NOTIFY05",
         "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a", "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b",
         "2026-12-17T10:00:00+00:00"),
        (REVIEW_CANCELLED, REVIEW_OFF, "MASH-2026-NOTIFY06",
         "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c", "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d",
         "2027-03-04T10:00:00+00:00"),
    ):
        cancelled = event_type in CANCELLED
        headers = cloudevent_headers(event_id=event_id, case_reference=reference,
                                     time=SCHEDULED_AT, event_type=event_type)
        headers["ce_source"] = match.regex("/mash/strategy", regex=r"^/mash/strategy$")
        (
            pact.upon_receiving(f"{event_type} "
                                + ("cancelling the agencies' invitation" if cancelled
                                   else "inviting the agencies"), "Async")
            .given(state)
            .with_body(_body(meeting_id, at, cancelled=cancelled), "application/json")
            .with_metadata(headers)
        )
    return pact


def test_notifications_queues_an_invitation_per_agency_for_each_message_and_writes_the_pact(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'notifications.sqlite'}")
    upgrade_to_head(engine, NOTIFICATIONS.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="notifications")
    handle = strategy_handlers(ctx)
    seen: list[str] = []

    def consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()
        with Session(engine) as session:
            sent = session.exec(select(Notification).where(
                Notification.case_reference == event.subject)).all()
        agencies = {i["agency"] for i in event.data["invitees"] if i.get("agency")}
        assert agencies
        assert {n.recipient_agency for n in sent} == agencies
        for n in sent:
            assert n.kind == "meeting_invitation"
            assert n.payload is not None
            invite = json.loads(n.payload)
            cancelled = event.type in CANCELLED
            assert (invite["meeting_id"], invite["sequence"], invite["start"],
                    invite["stamp"], invite["title"], invite["cancelled"]) == (
                event.data["meeting_id"], event.data["sequence"],
                event.data["scheduled_for"],
                event.data["cancelled_at" if cancelled else "scheduled_at"],
                TITLES[event.type], cancelled)
        seen.append(event.type)

    pact = strategy_pact()
    pact.verify(consumes, "Async")
    pact.write_file(PACT_DIR, overwrite=True)
    assert sorted(seen) == sorted(TITLES)
    assert (PACT_DIR / "notifications-strategy.json").is_file()
