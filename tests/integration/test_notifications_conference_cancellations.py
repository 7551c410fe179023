"""Conference cancellations as iCalendar attachments (RFC 5545; issue 16), over the real
pipeline (intake, triage, strategy, notifications) on the real PostgreSQL server and a real
SMTP server (aiosmtpd), parsed with the icalendar library: an ICPC scheduled -> an invite per
invited agency; cancelled -> METHOD:CANCEL, STATUS:CANCELLED, the same UID and a higher
SEQUENCE, to exactly the mailboxes the invitation went to, once each even when the event is
delivered twice; rescheduled -> a new version of the same invite.

The duplicate is put on the topic before the reschedule, and the consumer reads the topic in
order: once the reschedule's invites are in, the duplicate has been seen (and dropped).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import pytest
from icalendar import Calendar

from mashcore.topics import STRATEGY_CASES
from notifications.sender import send_due
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.integration.test_conferences import ICPC_AT, ICPC_INVITEES, agreed_continuing_risk
from tests.integration.test_strategy import BS, CHILD_SURNAMES, NOW, SW, P
from tests.support import eventually

ATTENDEES = {"local_authority": "mash-team@council.example", "health": "sg@health.example",
             "police": "mash@police.example", "education": "dsl@school.example"}
CANCELLED = "mash.strategy.icpc.cancelled.v1"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch,
                    MASH_NOTIFY_ATTENDEE_MAILBOXES=json.dumps({P: ATTENDEES}),
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps({P: {}})) as inbox:
        yield inbox


system = system_fixture(["intake", "triage", "strategy", "notifications"], NOW)


def _invites(smtp: Inbox, uid: str) -> list[tuple[str, Calendar]]:
    """(recipient, parsed calendar) of every message with an .ics attachment for the
    meeting ``uid``, in order (the strategy discussion before it had its own)."""
    found = []
    for to, raw in smtp.messages:
        for part in message_from_bytes(raw).walk():
            if part.get_content_type() == "text/calendar":
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                assert not any(name.encode() in raw for name in CHILD_SURNAMES)
                cal = Calendar.from_ical(data)
                if str(cal.walk("VEVENT")[0]["UID"]) == uid:
                    found.append((to[0], cal))
    return found


async def _delivered(system: dict[str, Any], smtp: Inbox, uid: str, count: int
                     ) -> list[tuple[str, Calendar]]:
    async def check() -> list[tuple[str, Calendar]] | None:
        await asyncio.to_thread(send_due, system["ctx"]["notifications"])
        found = _invites(smtp, uid)
        return found if len(found) >= count else None
    return await eventually(check, what=f"{count} invitations")


async def test_a_cancelled_icpc_is_removed_from_the_invited_calendars_once(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    reference = await agreed_continuing_risk(system)
    strategy = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()
    url = f"/v1/conferences/{conference['meeting_id']}"
    arrangement = {"scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
                   "invitees": ICPC_INVITEES, "format": "meeting",
                   "ends_at": (ICPC_AT + timedelta(hours=2)).isoformat(),
                   "location": "Synthetic: Civic Centre, Room 4"}
    r = await strategy.post(f"{url}/schedule", headers=BS, json=arrangement)
    assert r.status_code == 200, r.text
    agencies = {i["agency"] for i in r.json()["invitees"] if i.get("agency")}
    assert agencies == set(ATTENDEES)
    n = len(agencies)
    uid = f"{conference['meeting_id']}@mash-front-door"  # the meeting's, never a fresh one
    invited = await _delivered(system, smtp, uid, n)
    assert {str(cal["METHOD"]) for _, cal in invited} == {"REQUEST"}

    r = await strategy.post(f"{url}/cancel", headers=BS, json={"reason": "chair_unavailable"})
    assert r.status_code == 200, r.text
    cancels = (await _delivered(system, smtp, uid, 2 * n))[n:]
    # The same mailboxes as the invitation, each once.
    assert sorted(to for to, _ in cancels) == sorted(to for to, _ in invited)
    for _to, cal in cancels:
        [vevent] = cal.walk("VEVENT")
        assert (str(cal["METHOD"]), str(vevent["STATUS"]), str(vevent["UID"])) == (
            "CANCEL", "CANCELLED", uid)
        assert int(vevent["SEQUENCE"]) == 1 > int(invited[0][1].walk("VEVENT")[0]["SEQUENCE"])
        assert vevent.decoded("DTSTART") == ICPC_AT
        assert str(vevent["SUMMARY"]) == f"Child protection conference {reference}"

    # The cancellation delivered again: no second cancellation.
    [message] = [m for m in await system["bus"].read_topic(STRATEGY_CASES)
                 if m.key == reference.encode() and m.header("ce_type") == CANCELLED]
    await system["bus"].publish([message])
    # Rescheduled: the same invite, its next version, to the same mailboxes.
    r = await strategy.post(f"{url}/schedule", headers=BS, json=arrangement)
    assert r.status_code == 200, r.text
    again = (await _delivered(system, smtp, uid, 3 * n))[2 * n:]
    for _to, cal in again:
        [vevent] = cal.walk("VEVENT")
        assert (str(cal["METHOD"]), str(vevent["UID"]), int(vevent["SEQUENCE"])) == (
            "REQUEST", uid, 2)
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])
    assert len(_invites(smtp, uid)) == 3 * n
    assert [str(cal["METHOD"]) for _, cal in _invites(smtp, uid)].count("CANCEL") == n
