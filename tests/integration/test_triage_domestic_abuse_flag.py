"""Hub staff confirm or decline the domestic-abuse flag the concern's words suggest, and the
DASH request follows a confirmation (issue 20), on the real PostgreSQL server.

The referral goes in through intake's API and reaches triage over the (embedded) bus; the
confirmation goes back to intake over the bus, which asks the police for the DASH with the
same ``dash.requested`` as for a flag the referrer ticked.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlmodel import Session, col, select

import triage.access
from mashcore.audit import AuditEntry
from mashcore.db import make_engine
from mashcore.outbox import OutboxRecord
from mashcore.topics import INTAKE_CONTACTS
from tests.concurrency import Rendezvous
from tests.integration.test_triage_workflow import CONSENTED, staff, submit, system
from tests.support import auth, eventually

__all__ = ["system"]  # the fixture, shared with the workflow tests

CONCERN = {"concern": {"summary": "Synthetic: police were called to a domestic at the home "
                       "last night; the child was in the house."}}
DASH_REQUESTED = "mash.intake.dash.requested.v1"
CONFIRMED = "mash.triage.domestic-abuse.confirmed.v1"
FLAG = "/v1/cases/{}/flags/domestic-abuse"


async def dash_requests(system: dict[str, Any], reference: str) -> list[dict[str, Any]]:
    messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}",
                                       [INTAKE_CONTACTS], 10000)
    return [json.loads(m.value) for m in messages
            if m.key == reference.encode() and m.header("ce_type") == DASH_REQUESTED]


def staged(system: dict[str, Any], service: str, reference: str, event_type: str) -> int:
    """How many such events the service ever put in its outbox for the case."""
    engine = make_engine(system["db_url"][service])
    with Session(engine) as session:
        rows = session.exec(select(OutboxRecord).where(
            OutboxRecord.key == reference, OutboxRecord.event_type == event_type)).all()
    engine.dispose()
    return len(rows)


async def test_a_confirmed_flag_asks_the_police_for_the_dash_once(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    triage = system["triage"]
    reference = await submit(system, "coventry", **CONSENTED, **CONCERN)
    case = (await triage.get(f"/v1/cases/{reference}", headers=s["io"])).json()
    assert [f["flag"] for f in case["decision_support"]["suggested_flags"]] == [
        "domestic_abuse"]
    assert case["flag_answers"] == {}
    assert await dash_requests(system, reference) == []  # a school's unticked referral

    answer = {"confirmed": True, "reason": "described_in_concern"}
    first = await triage.post(FLAG.format(reference), headers=s["io"], json=answer)
    assert first.status_code == 200, first.text
    after = first.json()
    assert after["decision_support"]["suggested_flags"] == []
    assert after["flag_answers"]["domestic_abuse"]["answer"] == "confirmed"
    assert after["flag_answers"]["domestic_abuse"]["by"] == "io-coventry"
    # Decision support now counts the flag (Coventry's indicator with the domestic_abuse
    # signal), as it does for a flag the referrer ticked.
    def flagged_because(view: dict[str, Any]) -> bool:
        return any(because == "the referral is flagged as domestic abuse"
                   for match in view["decision_support"]["matched_indicators"]
                   for because in match["because"])
    assert not flagged_because(case) and flagged_because(after)

    async def requested() -> list[dict[str, Any]]:
        return await dash_requests(system, reference)
    [request] = await eventually(requested, what="the DASH request")
    assert request["requested_from"] == "police"
    assert request["requested_by"] == "io-coventry"
    assert request["case_reference"] == reference
    assert "domestic at the home" not in json.dumps(request)

    # The same answer again (a retry, or a manager too) changes nothing: no second request.
    again = await triage.post(FLAG.format(reference), headers=s["tm"], json=answer)
    assert again.status_code == 200, again.text
    assert again.json()["flag_answers"] == after["flag_answers"]
    assert staged(system, "triage", reference, CONFIRMED) == 1
    assert staged(system, "intake", reference, DASH_REQUESTED) == 1

    # A different answer once one is recorded is a conflict.
    changed = await triage.post(FLAG.format(reference), headers=s["tm"], json={
        "confirmed": False, "reason": "not_domestic_abuse"})
    assert changed.status_code == 409, changed.text


async def test_a_declined_flag_asks_for_nothing_and_the_suggestion_goes(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    triage = system["triage"]
    reference = await submit(system, "coventry", **CONSENTED, **CONCERN)
    declined = await triage.post(FLAG.format(reference), headers=s["io"], json={
        "confirmed": False, "reason": "reported_as_negated"})
    assert declined.status_code == 200, declined.text
    assert declined.json()["decision_support"]["suggested_flags"] == []
    case = (await triage.get(f"/v1/cases/{reference}", headers=s["tm"])).json()
    assert case["decision_support"]["suggested_flags"] == []
    assert case["flag_answers"]["domestic_abuse"]["answer"] == "declined"
    assert staged(system, "triage", reference, CONFIRMED) == 0
    assert [h["kind"] for h in case["history"]] == ["flag"]


async def test_input_is_strict_and_another_partnership_gets_404(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    triage = system["triage"]
    reference = await submit(system, "coventry", **CONSENTED, **CONCERN)
    wrong_reason = await triage.post(FLAG.format(reference), headers=s["io"], json={
        "confirmed": True, "reason": "not_domestic_abuse"})
    assert wrong_reason.status_code == 422
    assert "reason" in wrong_reason.text
    for body in ({"confirmed": "yes", "reason": "described_in_concern"},
                 {"confirmed": True, "reason": "described_in_concern", "extra": 1},
                 {"confirmed": True}):
        assert (await triage.post(FLAG.format(reference), headers=s["io"],
                                  json=body)).status_code == 422, body

    medway_io = auth("information_officer", "local_authority", subject="io-medway",
                     partnership="medway")
    other = await triage.post(FLAG.format(reference), headers=medway_io, json={
        "confirmed": True, "reason": "described_in_concern"})
    assert other.status_code == 404
    referrer = await triage.post(FLAG.format(reference), headers=s["referrer"], json={
        "confirmed": True, "reason": "described_in_concern"})
    assert referrer.status_code == 403
    case = (await triage.get(f"/v1/cases/{reference}", headers=s["io"])).json()
    assert case["flag_answers"] == {}  # nothing was recorded by the refused calls

    engine = make_engine(system["db_url"]["triage"])
    with Session(engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.resource_id == reference)
                            .order_by(col(AuditEntry.id))).all()
    engine.dispose()
    assert ("io-medway", "refused") in {(row.actor, row.outcome) for row in rows}


async def test_two_confirmations_at_once_announce_it_once(
    system: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both requests meet just after loading the case: without the case's lock both would
    see it unanswered and announce it twice."""
    s = staff("coventry")
    reference = await submit(system, "coventry", **CONSENTED, **CONCERN)
    engine = make_engine(system["db_url"]["triage"])
    meeting = Rendezvous(engine)
    monkeypatch.setattr(triage.access, "load_for_change",
                        meeting.wrap(triage.access.load_for_change, after=True))
    answer = {"confirmed": True, "reason": "described_in_concern"}
    first, second = await asyncio.gather(
        system["triage"].post(FLAG.format(reference), headers=s["io"], json=answer),
        system["triage"].post(FLAG.format(reference), headers=s["tm"], json=answer))
    engine.dispose()
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert not meeting.met  # the second waited at the case's lock
    assert staged(system, "triage", reference, CONFIRMED) == 1
