"""Agencies' conference reports are due by the partnership's policy pack
(``conference_reports_due_working_days_before``), not a constant (issue 15)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_conferences import (
    ICPC_AT,
    ICPC_INVITEES,
    NOW,
    P,
    agreed_continuing_risk,
)
from tests.integration.test_strategy import BS, SW
from tests.support import services_on_postgres

PACKS = Path(__file__).resolve().parents[2] / "policy" / "partnerships"


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    packs = tmp_path / "packs"
    shutil.copytree(PACKS, packs)
    with (packs / f"{P}.yaml").open("a", encoding="utf-8") as pack:
        pack.write("\nconference_reports_due_working_days_before: 4\n")
    monkeypatch.setenv("MASH_POLICY_DIR", str(packs))
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "strategy", "sla-timekeeper"],
                                    NOW) as running:
        yield running


async def test_agency_reports_are_due_the_pack_s_working_days_before_the_icpc(
    system: dict[str, Any],
) -> None:
    reference = await agreed_continuing_risk(system)
    strategy: httpx.AsyncClient = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()
    r = await strategy.post(f"/v1/conferences/{conference['meeting_id']}/schedule",
                            headers=BS, json={"scheduled_for": ICPC_AT.isoformat(),
                                              "chaired_by_iro": "iro-1",
                                              "invitees": ICPC_INVITEES})
    assert r.status_code == 200, r.text
    # Thursday 10 December; 4 working days before (the default is 2: Tuesday 8th) is
    # Friday 4 December, at close of business.
    assert {x["due_at"] for x in r.json()["reports"]} == {"2026-12-04T17:00:00+00:00"}
