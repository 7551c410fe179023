"""The escalation ladder is the partnership's policy pack's, on the real PostgreSQL server:
its stages' roles, who may answer each stage by access-token role, its timescale per stage,
and the timekeeper's ``escalation_stage`` clock (one per escalation and stage) started and
stopped by strategy's own events with the stage's due time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from mashcore.topics import SLA
from tests.support import auth, eventually, services_on_postgres, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
SW = auth("social_worker", "local_authority", subject="sw-1", partnership=P)
POLICE = auth("navigator", "police", subject="pc-1", partnership=P)
HEAD_AS_NAVIGATOR = auth("navigator", "local_authority", subject="hos-1", partnership=P)
HEAD = auth("team_manager", "local_authority", subject="hos-1", partnership=P)
PACKS = Path(__file__).resolve().parents[2] / "policy" / "partnerships"

# Coventry's pack with a ladder of its own: two stages, each with its own timescale.
LADDER = """
escalation_ladder:
  - {stage: 1, name: Team manager, roles: [team_manager],
     within: {amount: 2, unit: working_days}}
  - {stage: 2, name: Head of service, roles: [service_manager], answered_by: [team_manager],
     within: {amount: 3, unit: working_days}}
"""


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    packs = tmp_path / "packs"
    shutil.copytree(PACKS, packs)
    with (packs / f"{P}.yaml").open("a", encoding="utf-8") as pack:
        pack.write(LADDER)
    monkeypatch.setenv("MASH_POLICY_DIR", str(packs))
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "strategy", "sla-timekeeper"], NOW) as running:
        yield running


async def known_case(system: dict[str, Any]) -> str:
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    reference = str(response.json()["case_reference"])
    probe = {"case_reference": reference, "about": "threshold_decision",
             "summary": "Synthetic.", "escalated_to": {
                 "role": "line_manager", "agency": "local_authority", "user_id": "tm-1"}}

    async def known() -> bool:  # refused for its role (422), not for an unknown case (404)
        r = await system["strategy"].post("/v1/escalations", headers=POLICE, json=probe)
        return r.status_code == 422
    await eventually(known, what="strategy knows the case")
    return reference


async def sla(system: dict[str, Any], reference: str, kind: str,
              count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}",
                                           [SLA], 10000)
        found = [json.loads(m.value) for m in messages if m.key == reference.encode()
                 and m.header("ce_type") == f"mash.sla.clock.{kind}.v1"]
        found = [d for d in found if d["clock"] == "escalation_stage"]
        return found if len(found) >= count else None
    return await eventually(check, what=f"{count} {kind} escalation_stage")


async def test_the_partnership_s_own_ladder_sets_roles_answerers_and_each_stage_s_clock(
    system: dict[str, Any],
) -> None:
    reference = await known_case(system)
    strategy: httpx.AsyncClient = system["strategy"]
    raise_it = {"case_reference": reference, "about": "threshold_decision",
                "summary": "Synthetic: police disagree with the decision.",
                "escalated_to": {"role": "line_manager", "agency": "local_authority",
                                 "user_id": "tm-1"}}
    # The default ladder's stage 1 allows a line manager; Coventry's own ladder does not.
    refused = await strategy.post("/v1/escalations", headers=POLICE, json=raise_it)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["escalated_to.role"]
    assert "Team manager" in refused.json()["errors"][0]["message"]
    raised = await strategy.post("/v1/escalations", headers=POLICE, json={
        **raise_it, "escalated_to": {**raise_it["escalated_to"], "role": "team_manager"}})
    assert raised.status_code == 201, raised.text
    url = f"/v1/escalations/{raised.json()['escalation_id']}"
    # Stage 1 within 2 working days: by the end of Thursday 26 November (London).
    assert raised.json()["due_at"] == "2026-11-27T00:00:00+00:00"
    (started,) = await sla(system, reference, "started", 1)
    assert started["due_at"] == "2026-11-27T00:00:00+00:00"

    system["clock"].advance(days=1)
    answered = await strategy.post(f"{url}/answer", headers=TM, json={
        "resolved": False, "resolution": "Synthetic: the decision stands."})
    assert answered.status_code == 200, answered.text
    (met,) = await sla(system, reference, "met", 1)
    assert met["clock_id"] == started["clock_id"]

    # Up the ladder: not back to whoever answered stage 1.
    again = await strategy.post(f"{url}/escalate", headers=POLICE, json={
        "summary": "Synthetic: still disagree.", "escalated_to": {
            "role": "service_manager", "agency": "local_authority", "user_id": "tm-1"}})
    assert again.status_code == 422
    assert [e["field"] for e in again.json()["errors"]] == ["escalated_to.user_id"]
    second = await strategy.post(f"{url}/escalate", headers=POLICE, json={
        "summary": "Synthetic: still disagree.", "escalated_to": {
            "role": "service_manager", "agency": "local_authority", "user_id": "hos-1"}})
    assert second.status_code == 200, second.text
    assert second.json()["stage"] == 2
    # Stage 2 within 3 working days of Wednesday 25 November: the end of Monday 30.
    assert second.json()["due_at"] == "2026-12-01T00:00:00+00:00"
    both = await sla(system, reference, "started", 2)
    stage_2 = next(s for s in both if s["clock_id"] != started["clock_id"])
    assert stage_2["due_at"] == "2026-12-01T00:00:00+00:00"

    # Stage 2 is answered with the team manager's token role only (the pack's answered_by).
    wrong_role = await strategy.post(f"{url}/answer", headers=HEAD_AS_NAVIGATOR, json={
        "resolved": False, "resolution": "Synthetic."})
    assert wrong_role.status_code == 403
    final = await strategy.post(f"{url}/answer", headers=HEAD, json={
        "resolved": False, "resolution": "Synthetic: upheld."})
    assert final.status_code == 200, final.text
    assert len(await sla(system, reference, "met", 2)) == 2
    last = await strategy.post(f"{url}/escalate", headers=POLICE, json={
        "summary": "Synthetic.", "escalated_to": {
            "role": "service_manager", "agency": "local_authority", "user_id": "x-1"}})
    assert last.status_code == 409
    assert "Head of service" in last.json()["detail"]


async def test_a_social_worker_never_answers_a_stage_even_when_named(
    system: dict[str, Any],
) -> None:
    reference = await known_case(system)
    raised = await system["strategy"].post("/v1/escalations", headers=POLICE, json={
        "case_reference": reference, "about": "threshold_decision", "summary": "Synthetic.",
        "escalated_to": {"role": "team_manager", "agency": "local_authority",
                         "user_id": "sw-1"}})
    assert raised.status_code == 201, raised.text
    answered = await system["strategy"].post(
        f"/v1/escalations/{raised.json()['escalation_id']}/answer", headers=SW,
        json={"resolved": True, "resolution": "Synthetic."})
    assert answered.status_code == 403
