"""The disagreements waiting for an answer (``GET /v1/escalations``), on the real PostgreSQL
server: only the caller's partnership's, only the stages escalated to them that their token
role answers on the partnership's ladder, the earliest answer deadline first, no free text,
every listed record audited.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import auth, eventually, services_on_postgres, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P, OTHER_P = "coventry", "medway"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
POLICE = auth("navigator", "police", subject="pc-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
HEAD = auth("team_manager", "local_authority", subject="hos-1", partnership=P)
HEAD_AS_NAVIGATOR = auth("navigator", "local_authority", subject="hos-1", partnership=P)
SW = auth("social_worker", "local_authority", subject="sw-1", partnership=P)
OTHER_TM = auth("team_manager", "local_authority", subject="tm-1", partnership=OTHER_P)
OTHER_HEAD = auth("team_manager", "local_authority", subject="hos-1", partnership=OTHER_P)
PACKS = Path(__file__).resolve().parents[2] / "policy" / "partnerships"

# Coventry's ladder: stage 2 answers sooner than stage 1, and with a team manager's token only.
LADDER = """
escalation_ladder:
  - {stage: 1, name: Team manager, roles: [team_manager],
     within: {amount: 5, unit: working_days}}
  - {stage: 2, name: Head of service, roles: [service_manager], answered_by: [team_manager],
     within: {amount: 1, unit: working_days}}
"""


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    packs = tmp_path / "packs"
    shutil.copytree(PACKS, packs)
    with (packs / f"{P}.yaml").open("a", encoding="utf-8") as pack:
        pack.write(LADDER)
    monkeypatch.setenv("MASH_POLICY_DIR", str(packs))
    async with services_on_postgres(postgres_server, tmp_path, ["intake", "strategy"],
                                    NOW) as running:
        yield running


async def known_case(system: dict[str, Any]) -> str:
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    reference = str(response.json()["case_reference"])

    async def known() -> bool:
        r = await system["strategy"].get(f"/v1/cases/{reference}/strategy-discussions",
                                         headers=SW)
        return r.status_code == 200
    await eventually(known, what="strategy knows the case")
    return reference


def to(role: str, user_id: str) -> dict[str, str]:
    return {"role": role, "agency": "local_authority", "user_id": user_id}


async def test_each_answerer_lists_only_the_stages_escalated_to_them_soonest_due_first(
    system: dict[str, Any],
) -> None:
    reference = await known_case(system)
    strategy: httpx.AsyncClient = system["strategy"]

    async def raise_to(who: dict[str, str]) -> str:
        r = await strategy.post("/v1/escalations", headers=POLICE, json={
            "case_reference": reference, "about": "threshold_decision",
            "summary": "Synthetic: police disagree with the decision.", "escalated_to": who})
        assert r.status_code == 201, r.text
        return str(r.json()["escalation_id"])

    async def listed(headers: dict[str, str]) -> list[str]:
        r = await strategy.get("/v1/escalations", headers=headers)
        assert r.status_code == 200, r.text
        return [e["escalation_id"] for e in r.json()]

    # First, stage 1 to the head of service (due in 5 working days)...
    to_head = await raise_to(to("team_manager", "hos-1"))
    # ... then one to the team manager, answered, and taken to the head at stage 2 (due in
    # 1 working day: sooner, though raised later).
    to_tm = await raise_to(to("team_manager", "tm-1"))
    escalated = await raise_to(to("team_manager", "tm-1"))
    assert (await strategy.post(f"/v1/escalations/{escalated}/answer", headers=TM, json={
        "resolved": False, "resolution": "Synthetic: the decision stands."})).status_code == 200
    assert (await strategy.post(f"/v1/escalations/{escalated}/escalate", headers=POLICE, json={
        "summary": "Synthetic: still disagree.",
        "escalated_to": to("service_manager", "hos-1")})).status_code == 200

    assert await listed(HEAD) == [escalated, to_head]  # the earliest answer deadline first
    assert await listed(TM) == [to_tm]  # stage 2 went to someone else
    # Signed in as a navigator, the head answers stage 1 but not this ladder's stage 2.
    assert await listed(HEAD_AS_NAVIGATOR) == [to_head]
    # Whoever raised them answers none; another partnership's same user ids see nothing.
    assert await listed(POLICE) == []
    assert await listed(OTHER_TM) == []
    assert await listed(OTHER_HEAD) == []
    # A role that answers no stage is refused the list.
    assert (await strategy.get("/v1/escalations", headers=SW)).status_code == 403

    rows = (await strategy.get("/v1/escalations", headers=HEAD)).json()
    assert set(rows[0]) == {"escalation_id", "case_reference", "about", "stage", "stage_name",
                            "status", "raised_by", "stage_raised_at", "due_at"}  # no free text
    assert rows[0]["raised_by"] == {"role": "navigator", "agency": "police"}
    assert (rows[0]["stage"], rows[0]["stage_name"]) == (2, "Head of service")
    assert rows[0]["due_at"] < rows[1]["due_at"]

    # Answered, a stage leaves the list.
    assert (await strategy.post(f"/v1/escalations/{to_tm}/answer", headers=TM, json={
        "resolved": True, "resolution": "Synthetic: agreed."})).status_code == 200
    assert await listed(TM) == []

    # Strict query parameters; each listed record's read is in the audit log.
    assert (await strategy.get("/v1/escalations", headers=HEAD,
                               params={"limit": 0})).status_code == 422
    assert await listed(HEAD) == [escalated, to_head]
    entries = (await strategy.get("/v1/audit", params={"case_reference": reference},
                                  headers=TM)).json()
    read = {(e["who"], e["resource_id"]) for e in entries
            if e["resource"] == "escalation" and e["action"] == "read"}
    assert {("hos-1", escalated), ("hos-1", to_head), ("tm-1", to_tm)} <= read
