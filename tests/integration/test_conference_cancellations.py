"""Cancelling an ICPC, a core group or a review conference (issue 16) on the real PostgreSQL
server, through the public APIs: staff call off a scheduled meeting with a reason code; the
event carries the same meeting id (the invite's UID), the next sequence and the invitees the
invitation went to, no names; a held meeting cannot be cancelled (409); the statutory clock
keeps running with the same due time; scheduling again reinstates the same meeting.

The timekeeper consumes the strategy topic in each case's order, so once it has started
the clock of an escalation raised after the cancellation, it has seen the cancellation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.test_conferences import (
    CORE_GROUP,
    ICPC_AT,
    ICPC_INVITEES,
    IRO,
    agreed_continuing_risk,
    clocks,
    clocks_when,
    icpc_held_with_a_plan,
    system,
)
from tests.integration.test_strategy import BS, CHILD_SURNAMES, SW, TM, strategy_events, typed
from tests.support import eventually

__all__ = ["system"]  # the fixture, shared with test_conferences

CANCEL = {"reason": "chair_unavailable"}


async def after_the_timekeeper_saw_the_case(system: dict[str, Any], reference: str) -> None:
    """An escalation raised now: when its clock runs, every earlier event of the case (the
    cancellation included) has been through the timekeeper."""
    r = await system["strategy"].post("/v1/escalations", headers=SW, json={
        "case_reference": reference, "about": "threshold_decision", "summary": "Synthetic.",
        "escalated_to": {"role": "team_manager", "agency": "local_authority",
                         "user_id": "tm-1"}})
    assert r.status_code == 201, r.text
    escalation = r.json()["escalation_id"]

    async def started() -> bool:
        return any(clock == "escalation_stage" and instance.startswith(escalation)
                   for clock, instance in clocks(system, reference))
    await eventually(started, what="the escalation's clock")


async def test_an_icpc_is_cancelled_its_clock_runs_on_and_it_is_rescheduled_then_held(
    system: dict[str, Any],
) -> None:
    reference = await agreed_continuing_risk(system)
    strategy: httpx.AsyncClient = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()
    meeting, url = conference["meeting_id"], f"/v1/conferences/{conference['meeting_id']}"
    # Nothing to call off before it is scheduled.
    refused = await strategy.post(f"{url}/cancel", headers=BS, json=CANCEL)
    assert refused.status_code == 409, refused.text
    assert refused.json()["conference_status"] == "awaiting_schedule"
    arrangement = {"scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
                   "invitees": ICPC_INVITEES, "format": "video_call",
                   "ends_at": (ICPC_AT + timedelta(hours=2)).isoformat(),
                   "dial_in": "https://meet.example/icpc"}
    r = await strategy.post(f"{url}/schedule", headers=BS, json=arrangement)
    assert r.status_code == 200, r.text
    (held_discussion,) = await typed(system, reference, "discussion.held")
    icpc_clock = ("icpc", f"{held_discussion['meeting_id']}:1")
    before = (await clocks_when(system, reference, {icpc_clock: "running"}))[icpc_clock]

    # A reason from the set only (422 naming it); the IRO chairs but does not organise.
    bad = await strategy.post(f"{url}/cancel", headers=BS, json={"reason": "Mum is ill"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["reason"]
    assert (await strategy.post(f"{url}/cancel", headers=IRO, json=CANCEL)).status_code == 403
    r = await strategy.post(f"{url}/cancel", headers=BS, json=CANCEL)
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert (cancelled["status"], cancelled["sequence"], cancelled["cancelled_reason"]) == (
        "cancelled", 1, "chair_unavailable")
    assert cancelled["due_at"] == conference["due_at"]  # the statutory date stands
    (event,) = await typed(system, reference, "icpc.cancelled")
    scheduled = (await typed(system, reference, "icpc.scheduled"))[0]
    assert event["meeting_id"] == scheduled["meeting_id"] == meeting
    assert event["sequence"] == scheduled["sequence"] + 1
    assert event["invitees"] == scheduled["invitees"]  # who the invitation went to
    assert (event["scheduled_for"], event["ends_at"], event["dial_in"]) == (
        scheduled["scheduled_for"], scheduled["ends_at"], scheduled["dial_in"])
    assert (event["reason"], event["clock_unchanged"], event["due_at"]) == (
        "chair_unavailable", True, conference["due_at"])
    assert event["organiser"] == {"role": "business_support", "user_id": "bs-1"}
    assert (await strategy.post(f"{url}/cancel", headers=BS, json=CANCEL)).status_code == 409
    # Not held while cancelled.
    system["clock"].set(ICPC_AT + timedelta(hours=3))
    held = {"held_at": (ICPC_AT + timedelta(hours=1)).isoformat(), "attendees": ICPC_INVITEES,
            "decisions": [{"child_number": 1, "plan": False}]}
    assert (await strategy.post(f"{url}/held", headers=IRO, json=held)).status_code == 409

    # The ICPC clock is neither stopped nor moved.
    await after_the_timekeeper_saw_the_case(system, reference)
    after = clocks(system, reference)[icpc_clock]
    assert (after.status, after.due_at, after.started_at) == (
        "running", before.due_at, before.started_at)

    # Rescheduling: the same meeting, the next version of the invite.
    r = await strategy.post(f"{url}/schedule", headers=BS, json=arrangement)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["sequence"], r.json()["cancelled_reason"]) == (
        "scheduled", 2, None)
    _, again = await typed(system, reference, "icpc.scheduled", count=2)
    assert (again["meeting_id"], again["sequence"], again["rescheduled"]) == (meeting, 2, True)
    r = await strategy.post(f"{url}/held", headers=IRO, json=held)
    assert r.status_code == 200, r.text
    refused = await strategy.post(f"{url}/cancel", headers=TM, json=CANCEL)
    assert refused.status_code == 409
    assert refused.json()["conference_status"] == "held"
    for _type, data in await strategy_events(system, reference):
        assert not any(name in json.dumps(data) for name in CHILD_SURNAMES)


async def test_a_core_group_and_a_review_are_cancelled_and_reinstated_their_clocks_running(
    system: dict[str, Any],
) -> None:
    reference, plan_id, _ = await icpc_held_with_a_plan(system)
    strategy: httpx.AsyncClient = system["strategy"]
    plan_clocks = {("first_core_group", plan_id): "running",
                   ("first_review_conference", plan_id): "running"}
    before = await clocks_when(system, reference, plan_clocks)
    core_at = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    r = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=BS, json={
        "scheduled_for": core_at.isoformat(), "invitees": CORE_GROUP})
    assert r.status_code == 200, r.text
    core = r.json()
    review_at = datetime(2027, 3, 4, 10, 0, tzinfo=UTC)
    r = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=BS, json={
        "scheduled_for": review_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP})
    assert r.status_code == 200, r.text
    review = r.json()

    r = await strategy.post(f"/v1/core-groups/{core['meeting_id']}/cancel", headers=SW,
                            json={"reason": "family_unavailable"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["sequence"]) == ("cancelled", 1)
    r = await strategy.post(f"/v1/review-conferences/{review['meeting_id']}/cancel",
                            headers=TM, json={"reason": "reports_not_ready"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["sequence"]) == ("cancelled", 1)
    (core_event,) = await typed(system, reference, "core-group.cancelled")
    assert (core_event["meeting_id"], core_event["plan_id"], core_event["first"],
            core_event["sequence"], core_event["reason"]) == (
        core["meeting_id"], plan_id, True, 1, "family_unavailable")
    assert core_event["due_at"] == core["due_at"] and core_event["invitees"] == CORE_GROUP
    (review_event,) = await typed(system, reference, "review-conference.cancelled")
    assert (review_event["meeting_id"], review_event["due_on"], review_event["sequence"],
            review_event["reason"]) == (review["meeting_id"], "2027-03-05", 1,
                                        "reports_not_ready")
    assert review_event["invitees"][0] == {"role": "iro", "agency": "local_authority",
                                           "user_id": "iro-1"}
    system["clock"].set(core_at + timedelta(hours=2))
    held = {"held_at": core_at.isoformat(), "attendees": CORE_GROUP}
    assert (await strategy.post(f"/v1/core-groups/{core['meeting_id']}/held", headers=TM,
                                json=held)).status_code == 409

    # Neither plan clock is stopped or moved.
    await after_the_timekeeper_saw_the_case(system, reference)
    found = clocks(system, reference)
    for key in plan_clocks:
        assert (found[key].status, found[key].due_at) == ("running", before[key].due_at)

    # Arranging the plan's core group again reinstates the same (still first) meeting.
    r = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=BS, json={
        "scheduled_for": core_at.isoformat(), "invitees": CORE_GROUP})
    assert r.status_code == 200, r.text
    assert (r.json()["meeting_id"], r.json()["first"], r.json()["sequence"],
            r.json()["status"], r.json()["chair_role"]) == (
        core["meeting_id"], True, 2, "scheduled", "team_manager")
    r = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=BS, json={
        "scheduled_for": review_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP})
    assert (r.json()["meeting_id"], r.json()["first"], r.json()["sequence"]) == (
        review["meeting_id"], True, 2)
    r = await strategy.post(f"/v1/core-groups/{core['meeting_id']}/held", headers=TM,
                            json=held)
    assert r.status_code == 200, r.text
    refused = await strategy.post(f"/v1/core-groups/{core['meeting_id']}/cancel",
                                  headers=BS, json=CANCEL)
    assert refused.status_code == 409
    assert refused.json()["core_group_status"] == "held"
    plan = (await strategy.get(f"/v1/plans/{plan_id}", headers=SW)).json()
    assert [m["meeting_id"] for m in plan["core_groups"]] == [core["meeting_id"]]
    assert [m["meeting_id"] for m in plan["reviews"]] == [review["meeting_id"]]
