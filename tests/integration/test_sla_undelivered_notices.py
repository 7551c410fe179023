"""A notice never delivered is visible to the hub (issue 16: "a hub must know the school was
never told"): the timekeeper follows notification.failed (final) and notification.sent on
the real PostgreSQL server, and its dashboard shows the undelivered notices per partnership,
with the case references to that partnership's team managers only (audited)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from mashcore.audit import AuditEntry
from mashcore.db import make_engine, unit_of_work
from mashcore.envelope import Event
from mashcore.topics import NOTIFICATIONS
from sla_timekeeper.undelivered import FAILED, SENT
from tests.support import auth, eventually, services_on_postgres

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
P, OTHER = "coventry", "medway"
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
TM_OTHER = auth("team_manager", "local_authority", subject="tm-m", partnership=OTHER)
OPS = auth("ops", "local_authority", subject="ops-1")


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["sla-timekeeper"],
                                    NOW) as running:
        yield running


def outcome(notification_id: str, reference: str, *, partnership: str = P,
            sent: bool = False, will_retry: bool = False, attempt: int = 5) -> Event:
    """notification.sent or .failed as the notifications service emits it (codes only)."""
    at = NOW + timedelta(minutes=attempt)
    data: dict[str, Any] = {
        "notification_id": notification_id, "case_reference": reference,
        "kind": "referrer_acknowledgement", "channel": "email",
        "recipient": {"role": "referrer", "agency": "education"},
        "caused_by_event_id": str(uuid.uuid4()),
        "caused_by_event_type": "mash.intake.contact.received.v1", "attempt": attempt}
    if sent:
        data["sent_at"] = at.isoformat()
    else:
        data.update(failed_at=at.isoformat(), failure_reason_code="address_rejected",
                    will_retry=will_retry,
                    next_attempt_at=(at + timedelta(minutes=5)).isoformat()
                    if will_retry else None)
    return Event(type=SENT if sent else FAILED, source="/mash/notifications",
                 subject=reference, time=at, recordedtime=at, partnership=partnership,
                 data=data)


async def publish(system: dict[str, Any], *events: Event) -> None:
    await system["bus"].publish([e.to_message(NOTIFICATIONS) for e in events])


async def summary(system: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = await system["sla-timekeeper"].get("/v1/dashboard/summary", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def audited(system: dict[str, Any], actor: str) -> list[tuple[str, str | None, str]]:
    engine = make_engine(system["db_url"]["sla-timekeeper"])
    try:
        with unit_of_work(engine) as uow:
            rows = uow.session.exec(select(AuditEntry).where(
                AuditEntry.resource == "undelivered_notice", AuditEntry.actor == actor)
                .order_by(col(AuditEntry.id))).all()
            return [(r.action, r.case_reference, r.partnership) for r in rows]
    finally:
        engine.dispose()


async def test_a_notice_that_failed_for_good_is_shown_until_a_resend_delivers_it(
    system: dict[str, Any],
) -> None:
    dead, retrying, elsewhere = (str(uuid.uuid4()) for _ in range(3))
    school, other_school = "MASH-2026-UND3L1V1", "MASH-2026-0THERPSH"
    await publish(system,
                  outcome(retrying, "MASH-2026-RETRY1NG", will_retry=True, attempt=1),
                  outcome(dead, school),
                  outcome(dead, school),  # redelivered: still one notice
                  outcome(elsewhere, other_school, partnership=OTHER))

    async def shown() -> dict[str, Any] | None:
        data = await summary(system, TM)
        return data if data["undelivered_notices"] else None
    mine = (await eventually(shown, what="the undelivered notice"))["undelivered_notices"]
    # Coventry's manager: Coventry's one final failure (not the one still being retried),
    # by case reference, kind and code; never an address or a body (none is kept).
    assert mine == [{"partnership": P, "count": 1, "notices": [{
        "notification_id": dead, "case_reference": school, "kind": "referrer_acknowledgement",
        "reason_code": "address_rejected",
        "since": (NOW + timedelta(minutes=5)).isoformat()}]}]
    assert audited(system, "tm-1") == [("read", school, P)]
    # Medway's manager sees Medway's only; ops see how many per partnership, no references.
    # Published after Coventry's: waited for in its turn, not assumed handled already.
    async def shown_to_them() -> list[dict[str, Any]] | None:
        return (await summary(system, TM_OTHER))["undelivered_notices"] or None
    theirs = await eventually(shown_to_them, what="Medway's undelivered notice")
    assert [(e["partnership"], [n["case_reference"] for n in e["notices"]])
            for e in theirs] == [(OTHER, [other_school])]
    assert (await summary(system, OPS))["undelivered_notices"] == [
        {"partnership": P, "count": 1}, {"partnership": OTHER, "count": 1}]
    assert audited(system, "ops-1") == []

    # A manual resend delivered it: no longer undelivered.
    await publish(system, outcome(dead, school, sent=True, attempt=6))

    async def cleared() -> bool | None:
        return True if not (await summary(system, TM))["undelivered_notices"] else None
    await eventually(cleared, what="the delivered notice leaving the list")
    assert [e["partnership"] for e in (await summary(system, OPS))["undelivered_notices"]] \
        == [OTHER]

    # The dashboard's horizon is 30 days, as for its breach rates: older failures drop off.
    system["clock"].advance(days=30, minutes=4)
    assert (await summary(system, OPS))["undelivered_notices"] == [
        {"partnership": OTHER, "count": 1}]
    system["clock"].advance(minutes=2)
    assert (await summary(system, OPS))["undelivered_notices"] == []
