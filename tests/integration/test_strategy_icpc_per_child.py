"""The ICPC clock is per child, from strategy's real events on the real PostgreSQL server:
a discussion held with s47 for two children starts two ICPC clocks; one child's outcome
without a conference (no further action) cancels that child's clock only, and the sibling's,
whose outcome is an ICPC, runs on (visible on the timekeeper's /v1/clocks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_strategy import (
    NOW,
    SW,
    TM,
    held_body,
    red_strategy_discussion,
    schedule_body,
    typed,
)
from tests.support import eventually, services_on_postgres


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "strategy", "sla-timekeeper"],
                                    NOW) as running:
        yield running


async def icpc_statuses(system: dict[str, Any], reference: str,
                        expected: list[str]) -> list[str]:
    async def check() -> list[str] | None:
        r = await system["sla-timekeeper"].get("/v1/clocks", headers=TM,
                                               params={"case_reference": reference})
        found = sorted(c["status"] for c in r.json() if c["clock"] == "icpc") \
            if r.status_code == 200 else []
        return found if found == expected else None
    return await eventually(check, what=f"ICPC clocks {expected}")


async def conclude(strategy: httpx.AsyncClient, enquiry_id: str, outcome: str,
                   next_step: str) -> None:
    url = f"/v1/s47-enquiries/{enquiry_id}"
    recorded = await strategy.post(f"{url}/outcome", headers=SW, json={
        "outcome": outcome, "next_step": next_step, "rationale": "Synthetic."})
    assert recorded.status_code == 200, recorded.text
    agreed = await strategy.post(f"{url}/agreement", headers=TM, json={
        "agree": True, "rationale": "Synthetic: agreed."})
    assert agreed.status_code == 200, agreed.text


async def test_one_child_s_no_further_action_leaves_the_sibling_s_icpc_clock_running(
    system: dict[str, Any],
) -> None:
    reference, meeting = await red_strategy_discussion(system)
    strategy: httpx.AsyncClient = system["strategy"]
    scheduled = await strategy.post(f"/v1/strategy-discussions/{meeting}/schedule",
                                    headers=TM, json=schedule_body())
    assert scheduled.status_code == 200, scheduled.text
    system["clock"].advance(hours=6)
    held = await strategy.post(f"/v1/strategy-discussions/{meeting}/held", headers=TM,
                               json=held_body(
                                   held_at=(NOW + timedelta(hours=5)).isoformat(),
                                   s47_decisions=[{"child_number": 1, "s47": True},
                                                  {"child_number": 2, "s47": True}]))
    assert held.status_code == 200, held.text
    opened = await typed(system, reference, "s47-enquiry.opened", 2)
    assert sorted((o["meeting_id"], o["child_number"]) for o in opened) == [
        (meeting, 1), (meeting, 2)]
    await icpc_statuses(system, reference, ["running", "running"])

    enquiries = {e["child_number"]: e["s47_enquiry_id"] for e in (await strategy.get(
        f"/v1/cases/{reference}/s47-enquiries", headers=SW)).json()}
    await conclude(strategy, enquiries[2], "not_substantiated", "no_further_action")
    await icpc_statuses(system, reference, ["cancelled", "running"])
    await conclude(strategy, enquiries[1], "substantiated_continuing_risk", "icpc")
    await typed(system, reference, "s47-outcome.recorded", 2)
    await icpc_statuses(system, reference, ["cancelled", "running"])
