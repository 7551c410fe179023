"""Two leftovers of issue 15 on the real PostgreSQL server, through the public APIs (and
intake's transfer-in event on the bus):

- a transfer-in conference's ``icpc.held`` names its transfer, so with two permanent
  transfers into one case, holding one conference meets that transfer's clock only;
- ``GET /v1/plans/{id}`` shows a core group member of another agency what the conference's
  per-agency view shows: their own agency's actions and core group members, no outline.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from mashcore.envelope import Event
from mashcore.topics import INTAKE_CONTACTS
from tests.integration.test_conferences import (
    CORE_GROUP,
    HEALTH,
    ICPC_AT,
    ICPC_INVITEES,
    IRO,
    P,
    clocks,
    clocks_when,
    icpc_held_with_a_plan,
    system,
)
from tests.integration.test_strategy import BS, SW, typed
from tests.support import eventually

__all__ = ["system"]  # the fixture, shared with test_conferences


async def test_two_permanent_transfers_into_one_case_each_meet_only_their_own_clock(
    system: dict[str, Any],
) -> None:
    reference = "MASH-2026-TWOTRANS"
    schema = json.loads((Path(__file__).parents[2] / "contracts" / "events"
                         / "mash.intake.transfer-in.received.v1.schema.json").read_text())
    received = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    transfers = [str(uuid4()), str(uuid4())]
    await system["bus"].publish([Event(
        type="mash.intake.transfer-in.received.v1", source="/mash/intake", subject=reference,
        time=received, recordedtime=received, partnership=P, data={
            **schema["examples"][0], "case_reference": reference, "transfer_id": transfer,
            "arrangement": "permanent", "transfer_in_conference_required": True,
            "received_at": received.isoformat()}).to_message(INTAKE_CONTACTS)
        for transfer in transfers])
    strategy: httpx.AsyncClient = system["strategy"]

    async def arranged() -> list[dict[str, Any]] | None:
        r = await strategy.get(f"/v1/cases/{reference}/conferences", headers=SW)
        return r.json() if r.status_code == 200 and len(r.json()) == 2 else None
    conferences = {c["transfer_id"]: c for c in await eventually(
        arranged, what="two transfer-in conferences")}
    assert set(conferences) == set(transfers)
    own, other = (("transfer_in_conference", t) for t in transfers)
    await clocks_when(system, reference, {own: "running", other: "running"})

    meeting = conferences[transfers[0]]["meeting_id"]
    r = await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": ICPC_INVITEES})
    assert r.status_code == 200, r.text
    system["clock"].set(ICPC_AT + timedelta(hours=2))
    children = conferences[transfers[0]]["child_numbers"]
    r = await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO, json={
        "held_at": (ICPC_AT + timedelta(hours=1)).isoformat(), "attendees": ICPC_INVITEES,
        "decisions": [{"child_number": n, "plan": False} for n in children]})
    assert r.status_code == 200, r.text
    held = await typed(system, reference, "icpc.held", len(children))
    assert {h["transfer_id"] for h in held} == {transfers[0]}
    await clocks_when(system, reference, {own: "met"})
    assert clocks(system, reference)[other].status == "running"


async def test_a_core_group_member_reads_the_plan_as_their_agency_sees_it(
    system: dict[str, Any],
) -> None:
    _reference, plan_id, _ = await icpc_held_with_a_plan(system)
    strategy: httpx.AsyncClient = system["strategy"]
    r = await strategy.post(f"/v1/plans/{plan_id}/actions", headers=SW, json={"new_actions": [
        {"what": "Synthetic: weekly home visit.", "owner_role": "social_worker",
         "owner_agency": "local_authority", "due_on": "2026-12-18"},
        {"what": "Synthetic: health check.", "owner_role": "practitioner",
         "owner_agency": "health", "due_on": "2027-01-08"},
        {"what": "Synthetic: attend the parenting course.", "owner_role": "parent_or_carer",
         "due_on": "2027-01-15"}]})
    assert r.status_code == 200, r.text
    whole = (await strategy.get(f"/v1/plans/{plan_id}", headers=SW)).json()
    assert len(whole["actions"]) == 3 and whole["core_group"] == CORE_GROUP
    assert "outline_plan" in whole

    seen = await strategy.get(f"/v1/plans/{plan_id}", headers=HEALTH)
    assert seen.status_code == 200, seen.text
    mine = seen.json()
    assert [a["what"] for a in mine["actions"]] == ["Synthetic: health check."]
    assert mine["core_group"] == [
        {"role": "practitioner", "agency": "health", "user_id": "hv-1"}]
    assert "outline_plan" not in mine
    assert (mine["plan_id"], mine["category_of_abuse"], mine["first_review_due_on"]) == (
        plan_id, ["neglect"], "2027-03-05")
    # The IRO still sees the whole plan.
    assert len((await strategy.get(f"/v1/plans/{plan_id}", headers=IRO)).json()["actions"]) \
        == 3
