"""Team managers alerted of breaches from the SLA topic, per the partnership's routing, once
per clock (issue 16): intake, the SLA timekeeper and notifications on the real PostgreSQL
server, a real SMTP server (aiosmtpd) on a free loopback port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest

from notifications.sender import send_due
from sla_timekeeper.timekeeper import fire_due_clocks
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.integration.test_notifications_referrer_feedback import (
    _clocks,
    _notifications,
)
from tests.support import auth, eventually, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
MANAGERS = "mash-managers@council.example"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    # Only the threshold decision's breaches are routed; no referrer mailbox, so the
    # acknowledgement cannot go and its clock breaches too, unrouted.
    routes = json.dumps({P: {"threshold_decision": MANAGERS}})
    with smtp_inbox(monkeypatch, MASH_NOTIFY_MANAGER_ROUTES=routes) as inbox:
        yield inbox


system = system_fixture(["intake", "notifications", "sla-timekeeper"], NOW)


async def test_a_routed_breach_alerts_the_managers_once_and_an_unrouted_one_does_not(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    body = synthetic_referral(partnership=P)
    reference = (await system["intake"].post("/v1/contacts", json=body,
                                              headers=SCHOOL)).json()["case_reference"]
    await eventually(lambda: _ready("threshold_decision" in _clocks(system, reference)),
                     what="the clocks")
    system["clock"].advance(timedelta(days=3))  # Friday: both 1-working-day clocks breached
    await asyncio.to_thread(fire_due_clocks, system["ctx"]["sla-timekeeper"])
    await asyncio.to_thread(fire_due_clocks, system["ctx"]["sla-timekeeper"])

    async def alerted() -> bool | None:
        return any(n.kind == "sla_breach_alert"
                   for n in _notifications(system, reference)) or None
    await eventually(alerted, what="the breach alert queued")
    breached = {c for c, row in _clocks(system, reference).items() if row.breached}
    assert {"threshold_decision", "referrer_acknowledged"} <= breached
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])

    alerts = [(to, message_from_bytes(raw)) for to, raw in smtp.messages]
    assert [to for to, _ in alerts] == [[MANAGERS]]  # the routed clock only, once
    [(_, mail)] = alerts
    assert str(mail["Subject"]) == f"Breached: threshold decision for {reference}"
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert body["children"][0]["last_name"] not in text
    kinds = sorted(n.kind for n in _notifications(system, reference))
    assert kinds == ["referrer_acknowledgement", "sla_breach_alert"]


async def _ready(value: Any) -> Any:
    return value or None


async def test_the_same_breach_delivered_twice_alerts_once(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    """A breach announced again (a replay under another event id) adds no second alert."""
    from mashcore.envelope import Event
    from notifications.handlers import CLOCK_BREACHED, sla_handlers

    ctx = system["ctx"]["notifications"]
    reference = "MASH-2026-ALERT001"
    data = {"clock_id": "7d0c2f3e-1a2b-4c5d-8e9f-0a1b2c3d4e5f", "clock": "threshold_decision",
            "case_reference": reference, "brag": None, "partnership": P, "agency": None,
            "started_at": NOW.isoformat(), "national_return_started_at": None,
            "due_at": (NOW + timedelta(days=1)).isoformat(),
            "duration": {"amount": 1, "unit": "working_days"},
            "breached_at": (NOW + timedelta(days=1)).isoformat(), "overdue_by_seconds": 0}
    handle = sla_handlers(ctx)[CLOCK_BREACHED]
    for _ in range(2):
        event = Event(type=CLOCK_BREACHED, source="/mash/sla-timekeeper", subject=reference,
                      time=NOW, recordedtime=NOW, partnership=P, data=data)
        with ctx.unit_of_work() as uow:
            handle(event, uow)
            uow.commit()
    assert [n.kind for n in _notifications(system, reference)] == ["sla_breach_alert"]
