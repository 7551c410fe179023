"""The webhook registry (issue 16): a team manager registers the police's system for
navigator requests, rotates its secret without downtime, and removes the old one; over the
real pipeline on the real PostgreSQL server, delivered to a local receiver that verifies
with the standardwebhooks library: the old AND the new secret during rotation, only the new
after removal. Secrets are shown once, listed never, stored encrypted; another partnership's
manager cannot see or touch the endpoint; plain http is refused outside development."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from sqlalchemy import create_engine
from sqlmodel import Session, select

from mashcore.audit import AuditEntry
from notifications.webhooks import WebhookSecret
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.integration.test_notifications_navigators_and_outcome import (
    Receiver,
    _decide,
    _send,
)
from tests.support import auth, eventually, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
OTHER_TM = auth("team_manager", "local_authority", subject="tm-2", partnership="medway")
KEY = base64.urlsafe_b64encode(b"synthetic-test-key-0123456789abc").decode()


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch, MASH_NOTIFY_WEBHOOK_KEY=KEY,
                    MASH_NOTIFY_ALLOW_HTTP_WEBHOOKS="true") as inbox:
        yield inbox


system = system_fixture(["intake", "triage", "mash-enquiries", "notifications"], NOW)


async def _police_request(system: dict[str, Any], receiver: Receiver
                          ) -> tuple[dict[str, str], bytes]:
    """A Red referral's police information request, as the receiver got it."""
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    reference = response.json()["case_reference"]
    before = len(receiver.received)
    await _decide(system, reference, {"level_code": "L4", "brag": "red",
                                      "route": "mash_enquiries", "rationale": "Synthetic."})

    async def delivered() -> tuple[dict[str, str], bytes] | None:
        system["clock"].advance(minutes=2)
        await _send(system)
        return receiver.received[-1] if len(receiver.received) > before else None
    headers, raw = await eventually(delivered, what="the police webhook")
    assert json.loads(raw)["data"]["case_reference"] == reference
    return headers, raw


def _verifies(secret: str, headers: dict[str, str], raw: bytes) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(raw, headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


async def test_register_rotate_and_remove_the_old_secret_without_downtime(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    api = system["notifications"]
    receiver = Receiver()
    try:
        refused = await api.post("/v1/webhooks", headers=TM, json={
            "agency": "police", "url": "http://partner.example/mash"})
        assert refused.status_code == 422 and "url" in refused.text
        created = await api.post("/v1/webhooks", headers=TM, json={
            "agency": "police", "url": receiver.url})
        assert created.status_code == 201, created.text
        hook = created.json()
        old = hook["secret"]
        assert old.startswith("whsec_") and hook["partnership"] == P

        rotated = await api.post(f"/v1/webhooks/{hook['webhook_id']}/secrets", headers=TM)
        assert rotated.status_code == 201, rotated.text
        new = rotated.json()["secret"]
        listed = (await api.get("/v1/webhooks", headers=TM)).text
        assert old not in listed and new not in listed and hook["webhook_id"] in listed
        assert (await api.get("/v1/webhooks", headers=OTHER_TM)).json() == []
        assert (await api.post(f"/v1/webhooks/{hook['webhook_id']}/secrets",
                               headers=OTHER_TM)).status_code == 404
        assert [(a.actor, a.outcome, a.partnership) for a in _audit(system)
                if a.actor == "tm-2" and a.resource_id == hook["webhook_id"]] == [
            ("tm-2", "refused", P)]
        stored = _stored_secrets(system)
        assert len(stored) == 2 and not any(s.startswith("whsec_") for s in stored)

        headers, raw = await _police_request(system, receiver)
        assert _verifies(old, headers, raw) and _verifies(new, headers, raw)

        removed = await api.delete(
            f"/v1/webhooks/{hook['webhook_id']}/secrets/{hook['secrets'][0]['secret_id']}",
            headers=TM)
        assert removed.status_code == 204, removed.text
        headers, raw = await _police_request(system, receiver)
        assert _verifies(new, headers, raw) and not _verifies(old, headers, raw)
    finally:
        receiver.server.shutdown()


def _stored_secrets(system: dict[str, Any]) -> list[str]:
    engine = create_engine(system["db_url"]["notifications"])
    try:
        with Session(engine) as session:
            return [row.encrypted for row in session.exec(select(WebhookSecret))]
    finally:
        engine.dispose()


def _audit(system: dict[str, Any]) -> list[AuditEntry]:
    engine = create_engine(system["db_url"]["notifications"])
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditEntry).where(
                AuditEntry.resource == "webhook")))
    finally:
        engine.dispose()
