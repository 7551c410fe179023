"""Strategy discussion invitations as iCalendar attachments (RFC 5545; issue 16), over the
real pipeline (intake, triage, strategy, notifications) on the real PostgreSQL server and
a real SMTP server (aiosmtpd): scheduled -> an invite a calendar library parses; rescheduled
-> the same UID with a higher SEQUENCE (calendars update, not duplicate); cancelled ->
METHOD:CANCEL for that UID. No child's name in the invite.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from icalendar import Calendar

from notifications.sender import send_due
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.support import auth, eventually, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
BS = auth("business_support", "local_authority", subject="bs-1", partnership=P)
ATTENDEES = {"local_authority": "mash-team@council.example", "health": "sg@health.example",
             "police": "mash@police.example", "education": "dsl@school.example"}
SURNAME = "Zebedeename"
INVITEES = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
            {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
            {"role": "navigator", "agency": "police", "user_id": "pc-1"}]


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch,
                    MASH_NOTIFY_ATTENDEE_MAILBOXES=json.dumps({P: ATTENDEES}),
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps({P: {}})) as inbox:
        yield inbox


system = system_fixture(["intake", "triage", "strategy", "notifications"], NOW)


def _invites(smtp: Inbox) -> list[tuple[str, str, Calendar]]:
    """(recipient, subject, parsed calendar) of every message with an .ics attachment."""
    found = []
    for to, raw in smtp.messages:
        mail = message_from_bytes(raw)
        for part in mail.walk():
            if part.get_content_type() == "text/calendar":
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                assert SURNAME.encode() not in raw and b"Synthetic" not in data
                found.append((to[0], str(mail["Subject"]), Calendar.from_ical(data)))
    return found


async def _delivered(system: dict[str, Any], smtp: Inbox, count: int
                     ) -> list[tuple[str, str, Calendar]]:
    async def check() -> list[tuple[str, str, Calendar]] | None:
        await asyncio.to_thread(send_due, system["ctx"]["notifications"])
        found = _invites(smtp)
        return found if len(found) >= count else None
    return await eventually(check, what=f"{count} invitations")


async def test_an_invite_is_updated_on_reschedule_and_removed_on_cancel(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    body = synthetic_referral(partnership=P, children=[
        {"first_name": "Synthetic", "last_name": SURNAME, "date_of_birth": "2015-06-01"}],
        consent={"consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    reference = (await system["intake"].post("/v1/contacts", json=body,
                                              headers=SCHOOL)).json()["case_reference"]

    async def decided() -> bool:
        r = await system["triage"].post(
            f"/v1/cases/{reference}/threshold-decision", headers=TM,
            json={"level_code": "L4", "brag": "red", "route": "strategy_discussion",
                  "rationale": "Synthetic: disclosure of harm."})
        return r.status_code == 200
    await eventually(decided, what="the threshold decision")

    async def listed() -> str | None:
        r = await system["strategy"].get(f"/v1/cases/{reference}/strategy-discussions",
                                         headers=TM)
        return str(r.json()[0]["meeting_id"]) if r.status_code == 200 and r.json() else None
    meeting = await eventually(listed, what="the requested discussion")
    path = f"/v1/strategy-discussions/{meeting}"
    starts = NOW + timedelta(hours=3)
    schedule = {"format": "video_call", "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
                "dial_in": "https://meet.example/strategy-1", "chair_id": "tm-1",
                "invitees": INVITEES}
    r = await system["strategy"].post(f"{path}/schedule", headers=BS, json=schedule)
    assert r.status_code == 200, r.text
    invited = {i["agency"] for i in r.json()["schedule"]["invitees"]}

    first = await _delivered(system, smtp, len(invited))
    assert {to for to, _, _ in first} == {ATTENDEES[a] for a in invited}
    [uid] = {str(cal.walk("VEVENT")[0]["UID"]) for _, _, cal in first}
    for _to, subject, cal in first:
        assert str(cal["METHOD"]) == "REQUEST"
        [vevent] = cal.walk("VEVENT")
        assert vevent.decoded("DTSTART") == starts and int(vevent["SEQUENCE"]) == 0
        assert reference in str(vevent["SUMMARY"]) and reference in subject
        assert str(vevent["LOCATION"]) == "https://meet.example/strategy-1"

    later = NOW + timedelta(hours=5)
    r = await system["strategy"].post(f"{path}/schedule", headers=BS, json={
        **schedule, "starts_at": later.isoformat(),
        "ends_at": (later + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.text
    updates = (await _delivered(system, smtp, 2 * len(invited)))[len(invited):]
    for _to, subject, cal in updates:
        [vevent] = cal.walk("VEVENT")
        assert (str(vevent["UID"]), int(vevent["SEQUENCE"])) == (uid, 1)
        assert vevent.decoded("DTSTART") == later and subject.startswith("Updated:")

    r = await system["strategy"].post(f"{path}/cancel", headers=TM,
                                      json={"reason": "Synthetic: police unavailable."})
    assert r.status_code == 200, r.text
    cancels = (await _delivered(system, smtp, 3 * len(invited)))[2 * len(invited):]
    for _to, _subject, cal in cancels:
        [vevent] = cal.walk("VEVENT")
        assert str(cal["METHOD"]) == "CANCEL" and str(vevent["UID"]) == uid
        assert int(vevent["SEQUENCE"]) >= 1 and str(vevent["STATUS"]) == "CANCELLED"
    assert b"police unavailable" not in b"".join(raw for _, raw in smtp.messages)
