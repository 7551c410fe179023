"""GOV.UK Notify as the email channel (issue 16): intake and notifications on the real
PostgreSQL server, the sender using Notify's official Python client against a local HTTP
server on a free loopback port that answers ``POST /v2/notifications/email`` as Notify's API
documents (a protocol-shaped stand-in, not GOV.UK Notify itself: no test reaches the
internet).

The request carries a JWT signed with the API key's secret and issued by its service id,
the kind's template, the notification's id as ``reference`` and personalisation of the
reference, link, due time and subject only (never a child's name); Notify's 5xx is retried
with back-off, its 4xx is permanent and the notification is dead, as for an SMTP relay.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from notifications.sender import send_due
from notifications.settings import EMAIL_KINDS
from tests.integration.test_notifications_referrer_feedback import _notifications
from tests.support import auth, eventually, services_on_postgres, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
MAILBOX = "safeguarding@school.example"
SERVICE_ID, SECRET = str(uuid.uuid4()), str(uuid.uuid4())
API_KEY = f"mash_test-{SERVICE_ID}-{SECRET}"
TEMPLATES = {kind: str(uuid.uuid4()) for kind in EMAIL_KINDS}


class FakeNotify(BaseHTTPRequestHandler):
    """Answers as GOV.UK Notify's API does; ``answers`` are the status codes to give next
    (201 when empty); every request is kept."""

    requests: list[dict[str, Any]] = []
    answers: list[int] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.requests.append({"path": self.path, "authorization":
                                  self.headers.get("Authorization", ""), "body": body})
            status = self.answers.pop(0) if self.answers else 201
        if status == 201:
            answer: dict[str, Any] = {
                "id": str(uuid.uuid4()), "reference": body.get("reference"),
                "content": {"subject": "Subject", "body": "Body",
                            "from_email": "mash@notifications.service.gov.uk"},
                "uri": "https://api.notifications.service.gov.uk/v2/notifications/x",
                "template": {"id": body.get("template_id"), "version": 1,
                             "uri": "https://api.notifications.service.gov.uk/templates/x"}}
        else:
            answer = {"status_code": status, "errors": [
                {"error": "BadRequestError" if status < 500 else "Exception",
                 "message": "Can't send to this recipient using a team-only API key"
                 if status < 500 else "Internal server error"}]}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        return None


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeNotify]]:
    FakeNotify.requests, FakeNotify.answers = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNotify)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("MASH_NOTIFY_CHANNEL", "govuk_notify")
    monkeypatch.setenv("MASH_NOTIFY_GOVUK_API_KEY", API_KEY)
    monkeypatch.setenv("MASH_NOTIFY_GOVUK_TEMPLATE_IDS", json.dumps(TEMPLATES))
    monkeypatch.setenv("MASH_NOTIFY_GOVUK_BASE_URL",
                       f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("MASH_NOTIFY_REFERRER_MAILBOXES", json.dumps({P: {"education": MAILBOX}}))
    monkeypatch.setenv("MASH_NOTIFY_MAX_ATTEMPTS", "3")
    try:
        yield FakeNotify
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path, notify: type[FakeNotify]
                 ) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["intake", "notifications"],
                                    NOW) as running:
        yield running


async def _queued(system: dict[str, Any], body: dict[str, Any]) -> str:
    response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    reference = str(response.json()["case_reference"])

    async def queued() -> bool | None:
        return bool(_notifications(system, reference)) or None
    await eventually(queued, what="the acknowledgement queued")
    return reference


async def _send(system: dict[str, Any]) -> int:
    system["clock"].advance(timedelta(minutes=2))  # past the hold, or the back-off
    return await asyncio.to_thread(send_due, system["ctx"]["notifications"])


async def test_an_acknowledgement_goes_through_notify_signed_with_reference_and_link_only(
    system: dict[str, Any], notify: type[FakeNotify],
) -> None:
    body = synthetic_referral(partnership=P)
    child = body["children"][0]
    reference = await _queued(system, body)
    await _send(system)
    await _send(system)  # again: nothing more to send

    [request] = notify.requests
    assert request["path"] == "/v2/notifications/email"
    scheme, _, token = request["authorization"].partition(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["iss"] == SERVICE_ID and "iat" in claims
    [row] = _notifications(system, reference)
    sent = request["body"]
    assert sent["email_address"] == MAILBOX
    assert sent["template_id"] == TEMPLATES["referrer_acknowledgement"]
    assert sent["reference"] == row.id  # the same on every attempt
    assert set(sent["personalisation"]) == {"reference", "link", "due", "subject"}
    assert sent["personalisation"]["reference"] == reference
    assert reference in sent["personalisation"]["link"]
    text = json.dumps(sent)
    assert child["first_name"] not in text and child["last_name"] not in text
    assert (row.status, row.attempts, row.channel) == ("sent", 1, "email")


async def test_a_notify_5xx_is_retried_and_a_4xx_is_dead(
    system: dict[str, Any], notify: type[FakeNotify],
) -> None:
    notify.answers = [500, 400]
    reference = await _queued(system, synthetic_referral(partnership=P))
    await _send(system)
    [row] = _notifications(system, reference)
    assert (row.status, row.attempts, row.last_failure_code) == (
        "pending", 1, "provider_unavailable")
    assert row.next_attempt_at is not None
    await _send(system)  # back-off (60 s) passed: attempt 2, a 400: permanent
    [row] = _notifications(system, reference)
    assert (row.status, row.attempts, row.last_failure_code) == (
        "dead", 2, "provider_rejected")
    await _send(system)
    assert len(notify.requests) == 2  # never again
    assert notify.requests[0]["body"]["reference"] == notify.requests[1]["body"]["reference"]
