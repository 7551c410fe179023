"""The DASH request that follows hub staff's confirmation of a suggested domestic-abuse flag
reaches the police mailbox (issue 20), on the real PostgreSQL server and a real SMTP server.

A school's referral describing domestic abuse only in its words goes in through intake; the
information officer confirms the flag in triage; intake asks for the DASH; notifications
sends the request to the partnership's police referrer mailbox, once, with the reference and
none of the referral's words.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import pytest

from notifications.sender import send_due
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.integration.test_notifications_referrer_feedback import MAILBOX, _notifications
from tests.integration.test_triage_domestic_abuse_flag import CONCERN, FLAG
from tests.integration.test_triage_workflow import CONSENTED, staff, submit
from tests.support import eventually

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
P = "coventry"
POLICE = "mash-referrals@police.example"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch, MASH_NOTIFY_SMTP_HOST="127.0.0.1",
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps(
                        {P: {"education": MAILBOX, "police": POLICE}}),
                    MASH_NOTIFY_MAX_ATTEMPTS="3") as inbox:
        yield inbox


system = system_fixture(["intake", "triage", "notifications"], NOW)


async def test_the_confirmed_flags_dash_request_reaches_the_police_mailbox(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    s = staff(P)
    reference = await submit(system, P, **CONSENTED, **CONCERN)
    answered = await system["triage"].post(FLAG.format(reference), headers=s["io"], json={
        "confirmed": True, "reason": "described_in_concern"})
    assert answered.status_code == 200, answered.text

    async def queued() -> bool:
        rows = await asyncio.to_thread(_notifications, system, reference)
        return any(row.kind == "dash_request" for row in rows)
    await eventually(queued, what="the DASH request queued")
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])

    async def delivered() -> list[bytes]:
        return [raw for to, raw in smtp.messages if to == [POLICE]]
    [raw] = await eventually(delivered, what="the DASH request delivered")
    mail = message_from_bytes(raw)
    assert str(mail["Subject"]) == f"DASH risk assessment needed: {reference}"
    assert "domestic at the home" not in raw.decode(errors="replace")
    rows = await asyncio.to_thread(_notifications, system, reference)
    assert [(r.recipient_agency, r.status) for r in rows if r.kind == "dash_request"] == [
        ("police", "sent")]
