"""The consent-return notice (DOMAIN.md §5, §10; issue 16): intake's
mash.intake.contact.returned-for-consent.v1 reaches the notifications service on the real
PostgreSQL server and the sender delivers it over SMTP to a real SMTP server (aiosmtpd) on a
free loopback port: to the referrer agency's mailbox, once, with the reference and no
guidance text or name; never to the public."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import pytest

from mashcore.envelope import Event
from notifications.handlers import DASH_REQUESTED, RETURNED_FOR_CONSENT, intake_handlers
from notifications.sender import send_due
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.integration.test_notifications_referrer_feedback import MAILBOX, _notifications
from tests.support import eventually

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
P = "coventry"
GUIDANCE = "Synthetic: talk to Jane Testperson's parents about early help."
POLICE = "mash-referrals@police.example"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """The mailboxes are configured before the service (and its sender's timer) starts: a
    setting changed under a running sender can be read by a run already under way."""
    with smtp_inbox(monkeypatch, MASH_NOTIFY_SMTP_HOST="127.0.0.1",
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps(
                        {P: {"education": MAILBOX, "police": POLICE}}),
                    MASH_NOTIFY_MAX_ATTEMPTS="3") as inbox:
        yield inbox


system = system_fixture(["notifications"], NOW)


def _returned(reference: str, agency: str) -> Event:
    return Event(type=RETURNED_FOR_CONSENT, source="/mash/intake", subject=reference,
                 time=NOW, recordedtime=NOW, partnership=P, data={
                     "contact_id": "5e0c3a9d-2b71-4f86-8d14-a6b3c7e0f259",
                     "case_reference": reference, "returned_at": NOW.isoformat(),
                     "returned_by": {"user_id": "io-1", "role": "information_officer"},
                     "referrer": {"agency": agency, "role": "Teacher"},
                     "safeguarding_concerns": False, "consent_to_referral": "not_sought",
                     "guidance": GUIDANCE})


def _consume(system: dict[str, Any], event: Event) -> None:
    """The event through the service's own handler, in one unit of work (a redelivery under
    the same event id is the inbox's job, tested with the consumer)."""
    ctx = system["ctx"]["notifications"]
    with ctx.unit_of_work() as uow:
        intake_handlers(ctx)[RETURNED_FOR_CONSENT](event, uow)
        uow.commit()


async def test_the_professional_referrer_is_told_the_contact_came_back_for_consent(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    reference = "MASH-2026-CONSENT1"
    await asyncio.to_thread(_consume, system, _returned(reference, "education"))
    [row] = _notifications(system, reference)
    assert (row.kind, row.recipient_role, row.recipient_agency) == \
        ("consent_return", "referrer", "education")
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])
    [(to, raw)] = await delivered(smtp)
    assert to == [MAILBOX]
    mail = message_from_bytes(raw)
    assert reference in str(mail["Subject"])
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert reference in text and "consent" in text
    assert "Testperson" not in text and GUIDANCE not in text
    assert [n.status for n in _notifications(system, reference)] == ["sent"]


async def test_nothing_goes_to_the_public(system: dict[str, Any],
                                          smtp: Inbox) -> None:
    reference = "MASH-2026-CONSENT2"
    await asyncio.to_thread(_consume, system, _returned(reference, "public"))
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])
    assert _notifications(system, reference) == [] and smtp.messages == []


async def test_the_dash_request_goes_to_the_police_referrer(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    """intake's mash.intake.dash.requested.v1: the request to the police referrer's mailbox,
    with the case reference, the police's own number and when it is due; nothing else."""
    reference = "MASH-2026-DASHREQ1"
    event = Event(type=DASH_REQUESTED, source="/mash/intake", subject=reference, time=NOW,
                  recordedtime=NOW, partnership=P, data={
                      "request_id": "c4a8e2f6-1b3d-4e5f-8a7b-9c0d2e4f6a81",
                      "case_reference": reference,
                      "contact_id": "8d51a7c2-0e94-4b3f-b6a8-5c7e2f9d1a63",
                      "requested_at": NOW.isoformat(), "requested_from": "police",
                      "reason": "dash_missing", "police_reference": "WM-20261123-0457",
                      "requested_by": None,
                      "response_due_at": "2026-11-24T14:00:00+00:00"})
    ctx = system["ctx"]["notifications"]

    def consume() -> None:
        with ctx.unit_of_work() as uow:
            intake_handlers(ctx)[DASH_REQUESTED](event, uow)
            uow.commit()
    await asyncio.to_thread(consume)
    await asyncio.to_thread(send_due, ctx)
    [(to, raw)] = await delivered(smtp)
    assert to == [POLICE]
    mail = message_from_bytes(raw)
    assert str(mail["Subject"]) == f"DASH risk assessment needed: {reference}"
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "WM-20261123-0457" in text and "2pm on Tuesday 24 November 2026" in text
    [row] = _notifications(system, reference)
    assert (row.kind, row.recipient_agency, row.status) == ("dash_request", "police", "sent")


async def delivered(smtp: Inbox) -> list[tuple[list[str], bytes]]:
    """What the SMTP server accepted, once it has something: the service's own sender loop
    may have claimed the notification a moment before the test's ``send_due`` looked."""
    async def accepted() -> list[tuple[list[str], bytes]] | None:
        return list(smtp.messages) or None
    return await eventually(accepted, what="the message delivered")
