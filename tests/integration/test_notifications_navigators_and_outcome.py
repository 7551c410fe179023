"""Navigators told of each information request and each chaser, and referrers told the
outcome (DOMAIN.md §7, §8, §10; issue 16), over the real pipeline on the real PostgreSQL
server and a real SMTP server (aiosmtpd) on a free loopback port. No email names the child:
a reference, a deadline and a link only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import standardwebhooks

from mash_enquiries.chasers import chase_due_requests
from notifications.sender import send_due
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.integration.test_notifications_referrer_feedback import (
    _clocks,
    _notifications,
)
from tests.support import auth, eventually, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
NAVIGATORS = {a: f"mash-{a}@{a}.example" for a in ("police", "health", "education",
                                                   "probation")}
SCHOOL_MAILBOX = "safeguarding@school.example"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch,
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps({"*": {"education": SCHOOL_MAILBOX}}),
                    MASH_NOTIFY_NAVIGATOR_MAILBOXES=json.dumps({P: NAVIGATORS})) as inbox:
        yield inbox


system = system_fixture(
    ["intake", "triage", "mash-enquiries", "notifications", "sla-timekeeper"], NOW)


async def _decide(system: dict[str, Any], reference: str, decision: dict[str, str]) -> None:
    async def decided() -> bool:
        r = await system["triage"].post(f"/v1/cases/{reference}/threshold-decision",
                                        headers=TM, json=decision)
        return r.status_code == 200
    await eventually(decided, what=f"the decision on {reference}")


async def _send(system: dict[str, Any]) -> None:
    await asyncio.to_thread(send_due, system["ctx"]["notifications"])


def _mails(smtp: Inbox, subject_part: str) -> dict[str, str]:
    """Each accepted message whose subject has ``subject_part``: recipient -> text."""
    found = {}
    for to, raw in smtp.messages:
        mail = message_from_bytes(raw)
        if subject_part in str(mail["Subject"]):
            text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
            found[to[0]] = f"{mail['Subject']}\n{text}"
    return found


async def test_each_agency_s_navigators_get_the_request_then_a_chaser_with_no_names(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    surname = body["children"][0]["last_name"]
    response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    reference = response.json()["case_reference"]
    await _decide(system, reference, {"level_code": "L4", "brag": "red",
                                      "route": "mash_enquiries", "rationale": "Synthetic."})

    async def requested() -> bool | None:
        kinds = [n.kind for n in _notifications(system, reference)]
        return kinds.count("navigator_request") == len(NAVIGATORS) or None
    await eventually(requested, what="a request per agency queued")
    system["clock"].advance(minutes=2)
    await _send(system)
    await eventually(lambda: _ready(len(_mails(smtp, "New MASH information request"))
                                    == len(NAVIGATORS)), what="the requests delivered")
    requests = _mails(smtp, "New MASH information request")
    assert set(requests) == set(NAVIGATORS.values())
    for text in requests.values():
        assert reference in text and "/navigator/requests/" in text  # the workbench's page
        assert surname not in text and "Synthetic" not in text
    # Red: 4 hours; the chaser goes half-way.
    system["clock"].advance(hours=2, minutes=30)
    await asyncio.to_thread(chase_due_requests, system["ctx"]["mash-enquiries"])

    async def chased() -> bool | None:
        kinds = [n.kind for n in _notifications(system, reference)]
        return kinds.count("navigator_chaser") == len(NAVIGATORS) or None
    await eventually(chased, what="a chaser per agency queued")
    await _send(system)
    await _send(system)
    chasers = _mails(smtp, "Reminder: MASH information request")
    assert set(chasers) == set(NAVIGATORS.values())
    assert all(surname not in text and "Answer by: 2pm on Tuesday 24 November 2026" in text
               for text in chasers.values())
    assert len(smtp.messages) == 1 + 2 * len(NAVIGATORS)  # with the acknowledgement


async def test_a_decision_that_ends_the_episode_at_triage_tells_the_referrer_the_outcome(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    response = await system["intake"].post("/v1/contacts", headers=SCHOOL,
                                           json=synthetic_referral(partnership=P))
    reference = response.json()["case_reference"]
    await _decide(system, reference, {"level_code": "L1", "brag": "blue", "route": "nfa",
                                      "rationale": "Synthetic: no further action."})

    async def queued() -> bool | None:
        return {n.kind for n in _notifications(system, reference)} == {
            "referrer_acknowledgement", "referrer_outcome"} or None
    await eventually(queued, what="both feedback messages queued")
    system["clock"].advance(timedelta(minutes=2))
    await _send(system)
    outcome = _mails(smtp, "Outcome of your safeguarding contact")
    assert list(outcome) == [SCHOOL_MAILBOX]
    assert "no further action" in outcome[SCHOOL_MAILBOX]

    async def met() -> bool | None:
        clocks = _clocks(system, reference)
        return all(clocks[c].status == "met"
                   for c in ("referrer_acknowledged", "referrer_outcome")) or None
    await eventually(met, what="both feedback clocks met")


async def _ready(value: Any) -> Any:
    return value or None


class Receiver:
    """A partner system's webhook endpoint on a free loopback port: keeps what it got."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mash"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


OLD_SECRET = "whsec_" + base64.b64encode(b"synthetic-old-secret-0123456789ab").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"synthetic-new-secret-0123456789ab").decode()


async def test_an_agency_with_a_webhook_gets_signed_requests_its_system_verifies(
    system: dict[str, Any], smtp: Inbox, monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = Receiver()
    monkeypatch.setenv("MASH_NOTIFY_ALLOW_HTTP_WEBHOOKS", "true")
    monkeypatch.setenv("MASH_NOTIFY_NAVIGATOR_WEBHOOKS", json.dumps(
        {P: {"police": {"url": receiver.url, "secrets": [NEW_SECRET, OLD_SECRET]}}}))
    try:
        body = synthetic_referral(partnership=P, consent={
            "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
        surname = body["children"][0]["last_name"]
        response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
        reference = response.json()["case_reference"]
        await _decide(system, reference, {"level_code": "L4", "brag": "red",
                                          "route": "mash_enquiries", "rationale": "Synthetic."})

        async def delivered() -> list[tuple[dict[str, str], bytes]] | None:
            system["clock"].advance(minutes=2)
            await _send(system)
            return receiver.received or None
        [(headers, raw)] = await eventually(delivered, what="the police webhook")
        # The partner verifies with either secret while the new one is rolled out.
        for secret in (OLD_SECRET, NEW_SECRET):
            payload = standardwebhooks.Webhook(secret).verify(raw, headers)
            assert payload["type"] == "mash.navigator_request"
            assert payload["data"]["case_reference"] == reference
        assert surname.encode() not in raw and b"Synthetic" not in raw
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(
                "whsec_" + base64.b64encode(b"not-the-secret-0123456789abcdef").decode()
            ).verify(raw, headers)
        police = [n for n in _notifications(system, reference)
                  if n.recipient_agency == "police"]
        assert [(n.channel, n.status) for n in police] == [("webhook", "sent")]
        assert NAVIGATORS["police"] not in _mails(smtp, "New MASH information request")
    finally:
        receiver.server.shutdown()
