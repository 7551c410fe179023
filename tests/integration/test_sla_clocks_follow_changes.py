"""Clocks follow every change (issue 13), on the real PostgreSQL server: whatever moves a
deadline announces it in an event, and the timekeeper's clock follows it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mashcore.topics import ENQUIRIES_EPISODES, SLA
from tests.support import auth, eventually, services_on_postgres, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
POLICE = auth("navigator", "police", subject="nav-police", partnership=P)
REQUEST = "partner_information_request"


@pytest.fixture
async def pipeline(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(
            postgres_server, tmp_path,
            ["intake", "triage", "mash-enquiries", "sla-timekeeper"], NOW) as running:
        yield running


async def events_on(system: dict[str, Any], topic: str,
                    reference: str) -> list[tuple[str, dict[str, Any]]]:
    messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}", [topic],
                                       10000)
    return [(str(m.header("ce_type")), json.loads(m.value)) for m in messages
            if m.key == reference.encode()]


async def sla(system: dict[str, Any], reference: str, kind: str, clock: str,
              count: int) -> list[dict[str, Any]]:
    """The ``kind`` events of ``clock`` on mash.sla.v1, once there are ``count`` of them."""
    async def check() -> list[dict[str, Any]] | None:
        found = [d for t, d in await events_on(system, SLA, reference)
                 if t == f"mash.sla.clock.{kind}.v1" and d["clock"] == clock]
        return found if len(found) >= count else None
    return await eventually(check, what=f"{count} {kind} {clock}")


async def test_re_rating_amber_to_red_moves_every_agency_s_request_clock_and_a_late_answer_is_late(
    pipeline: dict[str, Any],
) -> None:
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = await pipeline["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    reference = response.json()["case_reference"]

    async def decided() -> bool:
        r = await pipeline["triage"].post(
            f"/v1/cases/{reference}/threshold-decision", headers=TM,
            json={"level_code": "L4", "brag": "amber", "route": "mash_enquiries",
                  "rationale": "Synthetic."})
        return r.status_code == 200
    await eventually(decided, what="the Amber decision")
    started = await sla(pipeline, reference, "started", REQUEST, 4)
    amber_due = (NOW + timedelta(hours=24)).isoformat()
    assert {s["due_at"] for s in started} == {amber_due}

    pipeline["clock"].advance(hours=1)
    re_rated = await pipeline["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=TM,
        json={"brag": "red", "reason": "Synthetic: a weapon."})
    assert re_rated.status_code == 200, re_rated.text
    red_due = (NOW + timedelta(hours=5)).isoformat()  # Red 4 h from the re-rating
    # MASH enquiries announces each request's new deadline (contract first), and the
    # timekeeper moves each agency's clock to it.
    extended = await sla(pipeline, reference, "extended", REQUEST, 4)
    assert {(e["previous_due_at"], e["new_due_at"], e["due_at"], e["reason_code"], e["brag"])
            for e in extended} == {(amber_due, red_due, red_due, "re_rated", "red")}
    announced = [d for t, d in await events_on(pipeline, ENQUIRIES_EPISODES, reference)
                 if t == "mash.enquiries.request.deadline-changed.v1"]
    assert sorted(d["agency"] for d in announced) == ["education", "health", "police",
                                                      "probation"]
    assert {(d["previous_deadline"], d["deadline"], d["reason_code"], d["brag"])
            for d in announced} == {(amber_due, red_due, "re_rated", "red")}
    assert {e["clock_id"] for e in extended} == {s["clock_id"] for s in started}

    # Past the Red deadline: every request clock breaches, with no Amber warning.
    pipeline["clock"].set(NOW + timedelta(hours=5, minutes=1))
    breached = await sla(pipeline, reference, "breached", REQUEST, 4)
    assert {b["breached_at"] for b in breached} == {red_due}
    warned = [d for t, d in await events_on(pipeline, SLA, reference)
              if t == "mash.sla.clock.warned.v1" and d["clock"] == REQUEST]
    assert all(w["warned_at"] < red_due for w in warned)

    # Police answers an hour after the Red deadline: late, as MASH enquiries says too.
    pipeline["clock"].set(NOW + timedelta(hours=6))
    listed = (await pipeline["mash-enquiries"].get("/v1/requests", headers=POLICE)).json()
    request_id = next(r["request_id"] for r in listed if r["case_reference"] == reference)
    answered = await pipeline["mash-enquiries"].post(
        f"/v1/requests/{request_id}/answer", headers=POLICE,
        json={"known": False, "summary": "Synthetic: nothing known."})
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"]["late"] is True
    [met] = await sla(pipeline, reference, "met", REQUEST, 1)
    assert (met["agency"], met["on_time"], met["due_at"]) == ("police", False, red_due)
