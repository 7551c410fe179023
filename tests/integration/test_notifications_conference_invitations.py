"""Conference invitations as .ics (issue 16): strategy's mash.strategy.icpc.scheduled.v1
(core-group and review-conference likewise) through the notifications service's handler on
the real PostgreSQL server, delivered over SMTP to a real SMTP server (aiosmtpd) on a free
loopback port and parsed with the icalendar library: one invite per invited agency (family
and advocates are not mailed), the same UID on reschedule with a higher SEQUENCE, even
without strategy's optional sequence field."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import pytest
from icalendar import Calendar

from mashcore.envelope import Event
from notifications.handlers import ICPC_SCHEDULED, strategy_handlers
from notifications.sender import send_due
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
P = "coventry"
ATTENDEES = {"local_authority": "mash-team@council.example", "health": "sg@health.example"}
REFERENCE = "MASH-2026-K7QX3MZP"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch,
                    MASH_NOTIFY_ATTENDEE_MAILBOXES=json.dumps({P: ATTENDEES})) as inbox:
        yield inbox


system = system_fixture(["notifications"], NOW)


def _icpc(when: str, *, rescheduled: bool, at: str, **arrangement: str) -> Event:
    return Event(type=ICPC_SCHEDULED, source="/mash/strategy", subject=REFERENCE, time=NOW,
                 recordedtime=NOW, partnership=P, data={
                     "meeting_id": "a4c7e9f1-2b3d-4e5f-8a6b-7c8d9e0f1a2b",
                     "case_reference": REFERENCE, "conference_kind": "initial",
                     "s47_strategy_meeting_id": "6b1d0f52-3c8e-4a77-9f10-5e2a7c4d8b31",
                     "s47_started_at": "2026-11-24T14:00:00+00:00",
                     "scheduled_for": when,
                     "invitees": [
                         {"role": "iro", "agency": "local_authority", "user_id": "staff-0077"},
                         {"role": "social_worker", "agency": "local_authority"},
                         {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
                         {"role": "parent_or_carer"}, {"role": "advocate"}],
                     "rescheduled": rescheduled, "scheduled_at": at, **arrangement})


async def test_an_icpc_invite_then_its_update_with_the_same_uid(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    ctx = system["ctx"]["notifications"]

    def consume(event: Event) -> None:
        with ctx.unit_of_work() as uow:
            strategy_handlers(ctx)[ICPC_SCHEDULED](event, uow)
            uow.commit()

    await asyncio.to_thread(consume, _icpc("2026-12-10T10:00:00+00:00", rescheduled=False,
                                           at="2026-12-04T09:15:00+00:00"))
    await asyncio.to_thread(send_due, ctx)
    # Re-arranged with the end and the office: the invite's DTEND and LOCATION.
    await asyncio.to_thread(consume, _icpc("2026-12-11T14:00:00+00:00", rescheduled=True,
                                           at="2026-12-05T11:00:00+00:00", format="meeting",
                                           ends_at="2026-12-11T16:00:00+00:00",
                                           location="Synthetic: Civic Centre, Room 4"))
    await asyncio.to_thread(send_due, ctx)

    sent = [(to, message_from_bytes(raw)) for to, raw in smtp.messages]
    assert sorted(to[0] for to, _ in sent) == sorted([*ATTENDEES.values()] * 2)
    events = []
    for _, mail in sent:
        [ics] = [part for part in mail.walk() if part.get_content_type() == "text/calendar"]
        [vevent] = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")
        events.append(vevent)
        assert str(mail["Subject"]).startswith(("Child protection conference",
                                                "Updated: Child protection conference"))
    assert {str(v["uid"]) for v in events} == {"a4c7e9f1-2b3d-4e5f-8a6b-7c8d9e0f1a2b"
                                                "@mash-front-door"}
    first, later = events[0], events[-1]
    assert int(later["sequence"]) > int(first["sequence"]) == 0
    assert str(later["summary"]) == f"Child protection conference {REFERENCE}"
    assert later.decoded("dtstart") == datetime(2026, 12, 11, 14, 0, tzinfo=UTC)
    assert later.decoded("dtend") == datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    assert str(later["location"]) == "Synthetic: Civic Centre, Room 4"
    # Without them (the first arrangement): an hour, and no place.
    assert first.decoded("dtend") == datetime(2026, 12, 10, 11, 0, tzinfo=UTC)
    assert "location" not in first
