"""A transfer-in that needs a strategy discussion starts one, on the real PostgreSQL server:
intake's team manager decides the transfer and says a discussion is needed (with why);
strategy, which never saw a contact for the case, knows its children from the transfer and
requests a discussion about each, with the transferring authority as the professional
referrer. A transfer that needs none starts none, and the case is still known to strategy
so a social worker can ask for one later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import auth, eventually, services_on_postgres

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
P = "coventry"
LA = auth("referrer", "local_authority", subject="synthetic-county-system", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
SW = auth("social_worker", "local_authority", subject="sw-1", partnership=P)
TRANSFER = {
    "from_authority": "Synthetic County Council",
    "children": [
        {"first_name": "Synthetic", "last_name": "Alphaname", "date_of_birth": "2018-06-30"},
        {"first_name": "Synthetic", "last_name": "Betaname", "date_of_birth": "2020-01-02"},
    ],
    "child_protection_plan": {"categories_of_abuse": ["neglect"],
                              "plan_started_on": "2025-08-14",
                              "next_review_due_on": "2099-02-12"},
}


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["intake", "strategy"],
                                    NOW) as running:
        yield running


async def transferred(system: dict[str, Any], decision: dict[str, Any]) -> str:
    intake: httpx.AsyncClient = system["intake"]
    received = await intake.post("/v1/transfers-in", json=TRANSFER, headers=LA)
    assert received.status_code == 201, received.text
    decided = await intake.post(f"/v1/transfers-in/{received.json()['transfer_id']}/decision",
                                json=decision, headers=TM)
    assert decided.status_code == 200, decided.text
    return str(received.json()["case_reference"])


async def test_a_transfer_in_needing_a_strategy_discussion_requests_one_about_each_child(
    system: dict[str, Any],
) -> None:
    reference = await transferred(system, {
        "arrangement": "permanent", "rationale": "Synthetic: settled here.",
        "strategy_discussion_required": True,
        "strategy_discussion_reason": "Synthetic: new injury reported since the move."})

    async def listed() -> list[dict[str, Any]] | None:
        r = await system["strategy"].get(f"/v1/cases/{reference}/strategy-discussions",
                                         headers=SW)
        found: list[dict[str, Any]] = r.json() if r.status_code == 200 else []
        return found or None
    (summary,) = await eventually(listed, what="the transfer-in's discussion")
    d = (await system["strategy"].get(f"/v1/strategy-discussions/{summary['meeting_id']}",
                                      headers=SW)).json()
    assert d["trigger"] == "transfer_in"
    assert d["status"] == "requested"
    assert d["child_numbers"] == [1, 2]
    assert d["reason"] == "Synthetic: new injury reported since the move."
    assert d["requested_by"]["user_id"] == "tm-1"


async def test_a_transfer_in_needing_none_starts_none_but_one_can_be_asked_for(
    system: dict[str, Any],
) -> None:
    reference = await transferred(system, {"arrangement": "temporary",
                                           "rationale": "Synthetic: a short stay."})
    ask = {"case_reference": reference, "reason": "Synthetic: a disclosure at school.",
           "urgency": "immediate", "trigger": "open_case_new_information"}

    async def asked() -> httpx.Response | None:
        r = await system["strategy"].post("/v1/strategy-discussions", headers=SW, json=ask)
        return r if r.status_code != 404 else None
    response = await eventually(asked, what="strategy knows the transferred case")
    assert response.status_code == 201, response.text
    listed = (await system["strategy"].get(f"/v1/cases/{reference}/strategy-discussions",
                                           headers=SW)).json()
    assert [d["trigger"] for d in listed] == ["open_case_new_information"]


async def test_a_needed_discussion_without_a_reason_is_refused_naming_the_field(
    system: dict[str, Any],
) -> None:
    intake: httpx.AsyncClient = system["intake"]
    received = await intake.post("/v1/transfers-in", json=TRANSFER, headers=LA)
    refused = await intake.post(
        f"/v1/transfers-in/{received.json()['transfer_id']}/decision", headers=TM,
        json={"arrangement": "permanent", "strategy_discussion_required": True})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["strategy_discussion_reason"]
