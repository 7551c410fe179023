"""Referrer feedback delivered for real (DOMAIN.md §7, §10; issue 16): intake, notifications
and the SLA timekeeper on the real PostgreSQL server, the sender speaking SMTP to a real
SMTP server (aiosmtpd) on a free loopback port.

A professional referral gets an acknowledgement email with its reference and no child's
name, announced as notification.sent, which meets the timekeeper's clock; a member of the
public gets nothing and no feedback clock runs; a linked referral the hub created gets
nothing and its clocks are cancelled; a relay that refuses is retried with back-off, then
dead and announced; two replicas sending at once send one message.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from notifications.models import Notification
from notifications.sender import send_due
from sla_timekeeper.models import ClockRow
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.support import auth, eventually, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
HUB_WORKER = auth("information_officer", "local_authority", subject="io-1", partnership=P)
MAILBOX = "safeguarding@school.example"
FEEDBACK = {"referrer_acknowledged", "referrer_outcome"}


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch,
                    MASH_NOTIFY_SMTP_HOST="127.0.0.1",
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps({P: {"education": MAILBOX}}),
                    MASH_NOTIFY_MAX_ATTEMPTS="3") as inbox:
        yield inbox


system = system_fixture(["intake", "notifications", "sla-timekeeper"], NOW)


def _rows(system: dict[str, Any], service: str, query: Any) -> list[Any]:
    engine = create_engine(system["db_url"][service])
    try:
        with Session(engine) as session:
            return list(session.exec(query).all())
    finally:
        engine.dispose()


def _notifications(system: dict[str, Any], reference: str) -> list[Notification]:
    return _rows(system, "notifications",
                 select(Notification).where(Notification.case_reference == reference))


def _clocks(system: dict[str, Any], reference: str) -> dict[str, ClockRow]:
    rows = _rows(system, "sla-timekeeper",
                 select(ClockRow).where(ClockRow.case_reference == reference))
    return {row.clock: row for row in rows}


async def _refer(system: dict[str, Any], body: dict[str, Any],
                 headers: dict[str, str]) -> str:
    response = await system["intake"].post("/v1/contacts", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["case_reference"])


async def _send(system: dict[str, Any]) -> int:
    """The hold for a linked-referral announcement passed; the sender runs."""
    system["clock"].advance(timedelta(minutes=2))
    return await asyncio.to_thread(send_due, system["ctx"]["notifications"])


async def test_a_professional_referrer_is_acknowledged_by_email_and_the_clock_is_met(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    body = synthetic_referral(partnership=P)
    child = body["children"][0]["last_name"]
    reference = await _refer(system, body, SCHOOL)
    await eventually(lambda: _async(_notifications(system, reference)),
                     what="the acknowledgement queued")
    await eventually(lambda: _async(set(_clocks(system, reference)) >= FEEDBACK),
                     what="the feedback clocks")
    await _send(system)
    await _send(system)  # again: nothing more to send

    # The service's own sender timer may have claimed it a moment before: wait for it.
    await eventually(lambda: _async(smtp.messages), what="the acknowledgement")
    [(to, raw)] = smtp.messages  # one message only
    assert to == [MAILBOX]
    mail = message_from_bytes(raw)
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert reference in str(mail["Subject"]) and reference in text
    assert child not in text and child not in str(mail["Subject"])
    assert "Synthetic" not in text  # no child's name, only a reference
    [row] = _notifications(system, reference)
    assert (row.kind, row.status, row.attempts) == ("referrer_acknowledgement", "sent", 1)

    async def met() -> bool | None:
        clock = _clocks(system, reference)["referrer_acknowledged"]
        return clock.status == "met" or None
    await eventually(met, what="the acknowledgement clock met")
    assert _clocks(system, reference)["referrer_outcome"].status == "running"


async def test_a_member_of_the_public_gets_nothing_and_no_feedback_clock_runs(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    body = synthetic_referral(partnership=P, referrer={"role": "Neighbour", "anonymous": True})
    reference = await _refer(system, body, HUB_WORKER)
    await eventually(lambda: _async("threshold_decision" in _clocks(system, reference)),
                     what="the contact reached the timekeeper")
    await eventually(lambda: _async(_referrer_known(system, reference)),
                     what="the contact reached notifications")
    await _send(system)
    assert smtp.messages == []
    assert _notifications(system, reference) == []
    assert not FEEDBACK & set(_clocks(system, reference))


async def test_a_linked_referral_the_hub_created_gets_no_feedback(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    young = {"first_name": "Synthetic", "last_name": "Youngparent", "relationship": "mother",
             "date_of_birth": (NOW.date() - timedelta(days=17 * 365)).isoformat()}
    reference = await _refer(system, synthetic_referral(partnership=P, parents_carers=[young]),
                             SCHOOL)

    async def linked() -> list[Notification] | None:
        rows = _rows(system, "notifications", select(Notification).where(
            Notification.case_reference != reference))
        return [r for r in rows if r.status == "not_required"] or None
    [not_sent] = await eventually(linked, what="the linked referral's acknowledgement dropped")
    await _send(system)
    assert [to for to, _ in smtp.messages] == [[MAILBOX]]  # the original referral's only
    assert "Youngparent" not in smtp.messages[0][1].decode()

    async def cancelled() -> dict[str, str] | None:
        clocks = _clocks(system, not_sent.case_reference)
        found = {name: clocks[name].status for name in FEEDBACK if name in clocks}
        return found if found == dict.fromkeys(FEEDBACK, "cancelled") else None
    await eventually(cancelled, what="the linked referral's feedback clocks cancelled")


async def test_a_refusing_relay_is_retried_then_the_notification_is_dead(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    smtp.refuse = True
    reference = await _refer(system, synthetic_referral(partnership=P), SCHOOL)
    await eventually(lambda: _async(_notifications(system, reference)), what="queued")
    await _send(system)
    [row] = _notifications(system, reference)
    assert (row.status, row.attempts, row.last_failure_code) == (
        "pending", 1, "provider_unavailable")
    assert row.next_attempt_at is not None
    await _send(system)  # 60 s of back-off passed: attempt 2 (then 120 s)
    await _send(system)  # attempt 3 of 3: dead
    [row] = _notifications(system, reference)
    assert (row.status, row.attempts) == ("dead", 3)
    await _send(system)
    assert _notifications(system, reference)[0].attempts == 3  # never again
    assert smtp.messages == []
    assert _clocks(system, reference)["referrer_acknowledged"].status == "running"
    metrics = (await system["notifications"].get("/metrics")).text
    assert 'mash_notifications{channel="email",kind="referrer_acknowledgement",' \
           'status="dead"} 1.0' in metrics
    assert "safeguarding@" not in metrics and reference not in metrics


async def test_two_replicas_sending_at_once_send_one_message(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    reference = await _refer(system, synthetic_referral(partnership=P), SCHOOL)
    await eventually(lambda: _async(_notifications(system, reference)), what="queued")
    system["clock"].advance(timedelta(minutes=2))
    ctx = system["ctx"]["notifications"]
    barrier = threading.Barrier(2)

    def replica() -> int:
        barrier.wait()
        return send_due(ctx)
    counts = await asyncio.gather(asyncio.to_thread(replica), asyncio.to_thread(replica))
    assert sum(counts) <= 1  # (the service's own timer may have been first)
    await eventually(lambda: _async(smtp.messages), what="the message")
    assert len(smtp.messages) == 1
    [row] = _notifications(system, reference)
    assert (row.status, row.attempts) == ("sent", 1)


def _referrer_known(system: dict[str, Any], reference: str) -> bool | None:
    from notifications.models import ReferrerRecord
    rows = _rows(system, "notifications", select(ReferrerRecord).where(
        ReferrerRecord.case_reference == reference))
    return bool(rows) or None


async def _async(value: Any) -> Any:
    return value or None
