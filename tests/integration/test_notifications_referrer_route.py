"""The referrer's own address (issue 16): notifications reads it from intake at send time,
service-to-service over real HTTP (intake served by uvicorn on a free loopback port), and
the acknowledgement reaches the real SMTP server (aiosmtpd) addressed to the referrer's own
email; the read is audited in intake. The route answers a ``service`` token only, and 404
for the public, anonymous referrers and linked referrals the hub created. Intake down: the
message is retried without using up its attempts (never dead), then sent when intake is back.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
import uvicorn
from sqlalchemy import create_engine
from sqlmodel import Session, select

from intake.contacts.models import Contact
from mashcore.audit import AuditEntry
from notifications.models import Notification
from notifications.sender import send_due
from tests.integration.notifications_support import (
    Inbox,
    free_port,
    smtp_inbox,
    system_fixture,
)
from tests.support import auth, eventually, synthetic_referral, token

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
HUB_WORKER = auth("information_officer", "local_authority", subject="io-1", partnership=P)
NOTIFY = auth("service", "mash", subject="notifications", partnership=P)
MAILBOX = "safeguarding@school.example"
ROUTE = "/internal/v1/contacts/{}/referrer-route"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch,
                    MASH_NOTIFY_SMTP_HOST="127.0.0.1",
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps({P: {"education": MAILBOX}}),
                    MASH_NOTIFY_INTAKE_TOKEN=token("service", "mash", subject="notifications"),
                    MASH_NOTIFY_MAX_ATTEMPTS="2") as inbox:
        yield inbox


system = system_fixture(["intake", "notifications", "sla-timekeeper"], NOW)


@asynccontextmanager
async def intake_over_http(system: dict[str, Any], port: int) -> AsyncIterator[str]:
    """The running intake app served over real HTTP on ``port``."""
    app = system["intake"]._transport.app
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        await eventually(lambda: _async(server.started), what="intake listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join)


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


async def _refer(system: dict[str, Any], body: dict[str, Any],
                 headers: dict[str, str]) -> dict[str, Any]:
    response = await system["intake"].post("/v1/contacts", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def _send(system: dict[str, Any]) -> int:
    system["clock"].advance(timedelta(minutes=10))
    return await asyncio.to_thread(send_due, system["ctx"]["notifications"])


async def test_the_acknowledgement_goes_to_the_referrers_own_email(
    system: dict[str, Any], smtp: Inbox, monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = synthetic_referral(partnership=P)
    own = body["referrer"]["email"]
    reference = (await _refer(system, body, SCHOOL))["case_reference"]
    await eventually(lambda: _async(_notifications(system, reference)), what="queued")
    async with intake_over_http(system, free_port()) as url:
        monkeypatch.setenv("MASH_NOTIFY_INTAKE_URL", url)
        await _send(system)
        await eventually(lambda: _async(smtp.messages), what="the acknowledgement")

    [(to, raw)] = smtp.messages
    assert to == [own]  # the referrer's own address, not the school's mailbox
    assert reference in str(message_from_bytes(raw)["Subject"])
    [row] = _notifications(system, reference)
    assert (row.kind, row.status) == ("referrer_acknowledgement", "sent")
    assert own not in json.dumps(row.model_dump(mode="json"))  # never stored
    audited = _rows(system, "intake", select(AuditEntry).where(
        AuditEntry.resource == "referrer_feedback_route"))
    assert [(a.actor, a.outcome, a.case_reference) for a in audited] == [
        ("notifications", "allowed", reference)]


async def test_intake_down_the_message_waits_and_is_never_dead(
    system: dict[str, Any], smtp: Inbox, monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = synthetic_referral(partnership=P)
    reference = (await _refer(system, body, SCHOOL))["case_reference"]
    await eventually(lambda: _async(_notifications(system, reference)), what="queued")
    port = free_port()  # nothing listens there yet
    monkeypatch.setenv("MASH_NOTIFY_INTAKE_URL", f"http://127.0.0.1:{port}")
    for _ in range(4):  # twice the two attempts allowed
        await _send(system)
    [row] = _notifications(system, reference)
    assert (row.status, row.attempts, row.last_failure_code) == (
        "pending", 0, "no_contact_route")
    assert smtp.messages == []
    async with intake_over_http(system, port):
        await _send(system)
        await eventually(lambda: _async(smtp.messages), what="sent once intake is back")
    assert [to for to, _ in smtp.messages] == [[body["referrer"]["email"]]]


async def test_the_route_answers_a_service_only_and_never_for_the_public_or_the_hub(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    intake = system["intake"]
    body = synthetic_referral(partnership=P)
    contact_id = (await _refer(system, body, SCHOOL))["contact_id"]
    answer = await intake.get(ROUTE.format(contact_id), headers=NOTIFY)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"email": body["referrer"]["email"], "professional": True}
    assert (await intake.get(ROUTE.format(contact_id), headers=SCHOOL)).status_code == 403
    other = auth("service", "mash", subject="notifications", partnership="medway")
    assert (await intake.get(ROUTE.format(contact_id), headers=other)).status_code == 404

    public = synthetic_referral(partnership=P, referrer={"role": "Neighbour",
                                                         "anonymous": True})
    public_id = (await _refer(system, public, HUB_WORKER))["contact_id"]
    assert (await intake.get(ROUTE.format(public_id), headers=NOTIFY)).status_code == 404

    young = {"first_name": "Synthetic", "last_name": "Youngparent", "relationship": "mother",
             "date_of_birth": (NOW.date() - timedelta(days=17 * 365)).isoformat()}
    original = await _refer(system, synthetic_referral(partnership=P, parents_carers=[young]),
                            SCHOOL)
    [linked] = _rows(system, "intake", select(Contact).where(
        Contact.id.notin_([contact_id, public_id, original["contact_id"]])))  # type: ignore[union-attr]
    assert (await intake.get(ROUTE.format(linked.id), headers=NOTIFY)).status_code == 404
    assert (await intake.get(ROUTE.format(original["contact_id"]),
                             headers=NOTIFY)).status_code == 200


async def _async(value: Any) -> Any:
    return value or None
