"""Strategy discussions and s47 enquiries as social workers, team managers, business support
and invited police and health practitioners use them, on the real PostgreSQL server: a
threshold decision in triage requests the discussion; it is scheduled, held with an s47
decision per child, its minutes signed off and circulated; each child's s47 outcome is
recorded and agreed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from mashcore.envelope import Event
from mashcore.topics import ENQUIRIES_EPISODES, INTAKE_CONTACTS, STRATEGY_CASES
from tests.support import auth, eventually, services_on_postgres, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
PUBLIC = auth("information_officer", "local_authority", subject="io-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
OTHER_TM = auth("team_manager", "local_authority", subject="tm-2", partnership=P)
SW = auth("social_worker", "local_authority", subject="sw-1", partnership=P)
BS = auth("business_support", "local_authority", subject="bs-1", partnership=P)
POLICE = auth("navigator", "police", subject="pc-1", partnership=P)
UNINVITED_POLICE = auth("navigator", "police", subject="pc-2", partnership=P)
ELSEWHERE_SW = auth("social_worker", "local_authority", subject="sw-9", partnership="medway")
CHILD_SURNAMES = ("Alphaname", "Betaname")

INVITEES = [
    {"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
    {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
    {"role": "navigator", "agency": "police", "user_id": "pc-1"},
]


def schedule_body(**overrides: Any) -> dict[str, Any]:
    return {"format": "video_call", "starts_at": (NOW + timedelta(hours=3)).isoformat(),
            "ends_at": (NOW + timedelta(hours=4)).isoformat(),
            "dial_in": "https://meet.example/strategy-1", "chair_id": "tm-1",
            "invitees": INVITEES, **overrides}


def held_body(**overrides: Any) -> dict[str, Any]:
    return {"held_at": (NOW + timedelta(hours=3)).isoformat(), "attendees": INVITEES,
            "apologies": [{"role": "practitioner", "agency": "education"}],
            "criminal_investigation": "required",
            "criminal_investigation_start_by": (NOW + timedelta(days=1)).isoformat(),
            "s47_decisions": [{"child_number": 1, "s47": True},
                              {"child_number": 2, "s47": False}],
            "s47_decision_rationale": "Synthetic: reasonable cause for child 1 only.",
            "actions": [{"action": "Synthetic: joint visit.", "owner_role": "social_worker",
                         "owner_agency": "local_authority"}], **overrides}


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "strategy"], NOW) as running:
        yield running


async def referral(system: dict[str, Any], headers: dict[str, str] = SCHOOL,
                   **overrides: Any) -> str:
    body = synthetic_referral(partnership=P, **{
        "children": [{"first_name": "Synthetic", "last_name": name,
                      "date_of_birth": "2015-06-01"} for name in CHILD_SURNAMES],
        "consent": {"consent_to_referral": "yes", "consent_to_information_sharing": "yes"},
        **overrides})
    response = await system["intake"].post("/v1/contacts", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["case_reference"])


async def discussions_of(system: dict[str, Any], reference: str,
                         count: int = 1) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]] | None:
        r = await system["strategy"].get(f"/v1/cases/{reference}/strategy-discussions",
                                         headers=SW)
        found: list[dict[str, Any]] = r.json() if r.status_code == 200 else []
        return found if len(found) >= count else None
    return await eventually(listed, what=f"{count} discussion(s) of {reference}")


async def red_strategy_discussion(system: dict[str, Any]) -> tuple[str, str]:
    """A referral decided Red with route strategy_discussion; its requested discussion."""
    reference = await referral(system)

    async def decided() -> bool:
        r = await system["triage"].post(
            f"/v1/cases/{reference}/threshold-decision", headers=TM,
            json={"level_code": "L4", "brag": "red", "route": "strategy_discussion",
                  "rationale": "Synthetic: disclosure of harm."})
        return r.status_code == 200
    await eventually(decided, what="the threshold decision")
    (listed,) = await discussions_of(system, reference)
    return reference, str(listed["meeting_id"])


async def strategy_events(system: dict[str, Any], reference: str) -> list[tuple[str, Any]]:
    messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}",
                                       [STRATEGY_CASES], 10000)
    return [(str(m.header("ce_type")), json.loads(m.value)) for m in messages
            if m.key == reference.encode()]


async def typed(system: dict[str, Any], reference: str, event_type: str,
                count: int = 1) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]] | None:
        hits = [d for t, d in await strategy_events(system, reference)
                if t == f"mash.strategy.{event_type}.v1"]
        return hits if len(hits) >= count else None
    return await eventually(found, what=f"{count} {event_type} event(s)")


async def test_a_red_strategy_decision_is_carried_to_an_agreed_s47_outcome(
    system: dict[str, Any],
) -> None:
    reference, meeting = await red_strategy_discussion(system)
    strategy: httpx.AsyncClient = system["strategy"]
    first = (await strategy.get(f"/v1/strategy-discussions/{meeting}", headers=SW)).json()
    assert first["status"] == "requested" and first["trigger"] == "threshold_decision"
    assert first["urgency"] == "immediate" and first["child_numbers"] == [1, 2]
    assert [c["last_name"] for c in first["children"]] == list(CHILD_SURNAMES)

    # Business support schedules on the chair's behalf; the school is invited as referrer.
    r = await strategy.post(f"/v1/strategy-discussions/{meeting}/schedule", headers=BS,
                            json=schedule_body())
    assert r.status_code == 200, r.text
    invitees = r.json()["schedule"]["invitees"]
    assert {"role": "team_manager", "agency": "local_authority", "user_id": "tm-1"} in invitees
    assert {"role": "referrer", "agency": "education"} in invitees
    r = await strategy.post(f"/v1/strategy-discussions/{meeting}/schedule", headers=BS,
                            json=schedule_body(starts_at=(NOW + timedelta(hours=5)).isoformat(),
                                               ends_at=(NOW + timedelta(hours=6)).isoformat()))
    assert r.status_code == 200 and r.json()["schedule"]["sequence"] == 1
    scheduled = await typed(system, reference, "discussion.scheduled", 2)
    assert [(s["sequence"], s["rescheduled"]) for s in scheduled] == [(0, False), (1, True)]
    assert scheduled[1]["organiser"] == {"role": "business_support", "user_id": "bs-1"}
    assert scheduled[1]["dial_in"] == "https://meet.example/strategy-1"
    assert scheduled[1]["ends_at"] == (NOW + timedelta(hours=6)).isoformat()
    assert {s["meeting_id"] for s in scheduled} == {meeting}

    # The invited police officer sees the meeting, not the case file; another does not.
    seen = await strategy.get(f"/v1/strategy-discussions/{meeting}", headers=POLICE)
    assert seen.status_code == 200 and "children" not in seen.json()
    assert (await strategy.get(f"/v1/strategy-discussions/{meeting}",
                               headers=UNINVITED_POLICE)).status_code == 404
    assert (await strategy.get(f"/v1/strategy-discussions/{meeting}",
                               headers=ELSEWHERE_SW)).status_code == 404

    system["clock"].advance(hours=6)
    r = await strategy.post(f"/v1/strategy-discussions/{meeting}/held", headers=TM,
                            json=held_body(held_at=(NOW + timedelta(hours=5)).isoformat()))
    assert r.status_code == 200, r.text
    (held,) = await typed(system, reference, "discussion.held")
    assert held["starts_s47"] is True and held["s47_decision"] is True
    assert [(d["child_number"], d["s47_decision"], d["starts_s47"])
            for d in held["s47_decisions"]] == [(1, True, True), (2, False, False)]
    assert held["minutes_due_at"] == (NOW + timedelta(hours=29)).isoformat()

    # Minutes: only the chair signs off; circulating is its own step and event.
    minutes = {"minutes": "Synthetic minutes."}
    assert (await strategy.post(f"/v1/strategy-discussions/{meeting}/minutes/sign-off",
                                headers=OTHER_TM, json=minutes)).status_code == 403
    assert (await strategy.post(f"/v1/strategy-discussions/{meeting}/minutes/circulate",
                                headers=BS)).status_code == 409
    assert (await strategy.post(f"/v1/strategy-discussions/{meeting}/minutes/sign-off",
                                headers=TM, json=minutes)).status_code == 200
    assert (await strategy.post(f"/v1/strategy-discussions/{meeting}/minutes/circulate",
                                headers=BS)).status_code == 200
    (circulated,) = await typed(system, reference, "minutes.circulated")
    assert circulated["signed_off_by"] == "tm-1"

    # One s47 enquiry, for child 1; the outcome maps to its next step, then is agreed.
    (enquiry,) = (await strategy.get(f"/v1/cases/{reference}/s47-enquiries",
                                     headers=SW)).json()
    assert enquiry["child_number"] == 1 and enquiry["started_at"] == held["held_at"]
    url = f"/v1/s47-enquiries/{enquiry['s47_enquiry_id']}"
    wrong = await strategy.post(f"{url}/outcome", headers=SW, json={
        "outcome": "not_substantiated", "next_step": "icpc", "rationale": "Synthetic."})
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["next_step"]
    assert (await strategy.post(f"{url}/agreement", headers=TM, json={
        "agree": True, "rationale": "Synthetic."})).status_code == 409
    assert (await strategy.post(f"{url}/outcome", headers=SW, json={
        "outcome": "substantiated_continuing_risk", "next_step": "icpc",
        "rationale": "Synthetic: continuing risk."})).status_code == 200
    agreed = await strategy.post(f"{url}/agreement", headers=TM, json={
        "agree": True, "rationale": "Synthetic: agreed."})
    assert agreed.status_code == 200 and agreed.json()["status"] == "concluded"
    (outcome,) = await typed(system, reference, "s47-outcome.recorded")
    assert (outcome["outcome"], outcome["next_step"], outcome["child_number"]) == (
        "substantiated_continuing_risk", "icpc", 1)
    assert outcome["recorded_by"]["user_id"] == "sw-1"
    assert outcome["agreed_by"]["user_id"] == "tm-1"

    # No strategy event names a child.
    for _type, data in await strategy_events(system, reference):
        assert not any(name in json.dumps(data) for name in CHILD_SURNAMES)


async def test_a_schedule_without_police_health_or_a_social_worker_is_refused_naming_it(
    system: dict[str, Any],
) -> None:
    _reference, meeting = await red_strategy_discussion(system)
    only_health = [{"role": "practitioner", "agency": "health"}]
    r = await system["strategy"].post(f"/v1/strategy-discussions/{meeting}/schedule",
                                      headers=TM, json=schedule_body(invitees=only_health))
    assert r.status_code == 422
    problems = [(e["field"], e["message"]) for e in r.json()["errors"]]
    assert [f for f, _ in problems] == ["invitees", "invitees"]
    assert "social worker" in problems[0][1] and "police" in problems[1][1]
    r = await system["strategy"].post(f"/v1/strategy-discussions/{meeting}/schedule",
                                      headers=TM, json=schedule_body(format="meeting"))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["location"]
    r = await system["strategy"].post(f"/v1/strategy-discussions/{meeting}/held", headers=TM,
                                      json=held_body())
    assert r.status_code == 409  # not scheduled yet


async def test_practitioners_ask_for_several_discussions_and_a_public_referrer_is_never_invited(
    system: dict[str, Any],
) -> None:
    reference = await referral(system, PUBLIC)  # phoned in to the hub: a public referrer
    await eventually(lambda: _known(system, reference), what="strategy knows the case")
    strategy: httpx.AsyncClient = system["strategy"]
    ask = {"case_reference": reference, "reason": "Synthetic: new information.",
           "urgency": "within_3_working_days", "trigger": "open_case_new_information"}
    r = await strategy.post("/v1/strategy-discussions", headers=SW,
                            json={**ask, "child_numbers": [3]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "child_numbers"
    first = await strategy.post("/v1/strategy-discussions", headers=SW,
                                json={**ask, "child_numbers": [2]})
    assert first.status_code == 201, first.text
    second = await strategy.post("/v1/strategy-discussions", headers=TM, json={
        **ask, "trigger": "further_discussion",
        "follows_meeting_id": first.json()["meeting_id"]})
    assert second.status_code == 201
    assert (await strategy.post("/v1/strategy-discussions", headers=POLICE,
                                json=ask)).status_code == 403
    assert (await strategy.post("/v1/strategy-discussions", headers=ELSEWHERE_SW,
                                json=ask)).status_code == 404
    assert len(await discussions_of(system, reference, 2)) == 2

    scheduled = await strategy.post(
        f"/v1/strategy-discussions/{first.json()['meeting_id']}/schedule", headers=TM,
        json=schedule_body(invite_referrer=True))
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["schedule"]["referrer_invited"] is False
    assert all(i["role"] != "referrer" for i in scheduled.json()["schedule"]["invitees"])
    cancelled = await strategy.post(
        f"/v1/strategy-discussions/{first.json()['meeting_id']}/cancel", headers=TM,
        json={"reason": "Synthetic: police unavailable."})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    (event,) = await typed(system, reference, "discussion.cancelled")
    assert event["sequence"] == 1 and event["organiser"]["user_id"] == "tm-1"


async def _known(system: dict[str, Any], reference: str) -> bool:
    r = await system["strategy"].get(f"/v1/cases/{reference}/strategy-discussions",
                                     headers=SW)
    return r.status_code == 200


async def test_a_mash_outcome_of_strategy_discussion_requests_one(
    system: dict[str, Any],
) -> None:
    reference = await referral(system)
    await eventually(lambda: _known(system, reference), what="strategy knows the case")
    outcome = Event(
        type="mash.enquiries.outcome.decided.v1", source="/mash/mash-enquiries",
        subject=reference, time=NOW, recordedtime=NOW, partnership=P,
        data={"episode_id": str(uuid.uuid4()), "case_reference": reference,
              "outcome": "strategy_discussion", "rationale": "Synthetic: harm suspected.",
              "decided_by": {"user_id": "tm-1", "role": "team_manager"},
              "decided_at": NOW.isoformat(), "early_help_destination": None})
    await system["bus"].publish([outcome.to_message(ENQUIRIES_EPISODES)])
    (listed,) = await discussions_of(system, reference)
    assert listed["trigger"] == "mash_outcome" and listed["child_numbers"] == [1, 2]
    (requested,) = await typed(system, reference, "discussion.requested")
    assert requested["requested_by"] == {"role": "team_manager", "agency": "local_authority",
                                         "user_id": "tm-1"}


async def test_two_records_of_one_discussion_held_at_once_one_wins_the_other_gets_409(
    system: dict[str, Any],
) -> None:
    reference, meeting = await red_strategy_discussion(system)
    strategy: httpx.AsyncClient = system["strategy"]
    assert (await strategy.post(f"/v1/strategy-discussions/{meeting}/schedule", headers=TM,
                                json=schedule_body())).status_code == 200
    system["clock"].advance(hours=6)
    # Hold the case's lock on a second connection so both requests queue behind it.
    engine = create_engine(system["db_url"]["strategy"])
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                       {"k": f"mash-case:{reference}"})
        both = [asyncio.create_task(strategy.post(f"/v1/strategy-discussions/{meeting}/held",
                                                  headers=who, json=held_body()))
                for who in (TM, BS)]
        await eventually(lambda: _waiting_on_lock(engine, 2), what="both at the case lock")
        holder.rollback()
    engine.dispose()
    codes = sorted(r.status_code for r in await asyncio.gather(*both))
    assert codes == [200, 409]
    assert len(await typed(system, reference, "discussion.held")) == 1


async def _waiting_on_lock(engine: Any, count: int) -> bool:
    def waiting() -> bool:
        with engine.connect() as c:
            n = c.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                               "AND NOT granted AND database = (SELECT oid FROM pg_database "
                               "WHERE datname = current_database())")).scalar_one()
            return int(n) >= count
    return await asyncio.to_thread(waiting)


async def test_a_partner_practitioners_disagreement_goes_up_the_ladder_stage_by_stage(
    system: dict[str, Any],
) -> None:
    reference = await referral(system)
    await eventually(lambda: _known(system, reference), what="strategy knows the case")
    strategy: httpx.AsyncClient = system["strategy"]
    raise_it = {"case_reference": reference, "about": "threshold_decision",
                "summary": "Synthetic: the school disagrees with the decision.",
                "escalated_to": {"role": "service_manager", "agency": "local_authority",
                                 "user_id": "sm-1"}}
    wrong = await strategy.post("/v1/escalations", headers=POLICE, json=raise_it)
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["escalated_to.role"]
    raised = await strategy.post("/v1/escalations", headers=POLICE, json={
        **raise_it, "escalated_to": {"role": "team_manager", "agency": "local_authority",
                                     "user_id": "tm-1"}})
    assert raised.status_code == 201, raised.text
    escalation = raised.json()
    assert escalation["stage"] == 1
    # By the end of the fifth working day (Tuesday 1 December, midnight in London).
    assert escalation["due_at"] == "2026-12-02T00:00:00+00:00"
    url = f"/v1/escalations/{escalation['escalation_id']}"
    assert (await strategy.get(url, headers=UNINVITED_POLICE)).status_code == 404
    assert (await strategy.post(f"{url}/escalate", headers=POLICE, json={
        "summary": "Synthetic.", "escalated_to": {
            "role": "service_manager", "agency": "local_authority", "user_id": "sm-1"}}
                                )).status_code == 409  # not answered yet
    assert (await strategy.post(f"{url}/answer", headers=OTHER_TM, json={
        "resolved": False, "resolution": "Synthetic."})).status_code == 403
    system["clock"].advance(days=2)
    answered = await strategy.post(f"{url}/answer", headers=TM, json={
        "resolved": False, "resolution": "Synthetic: the decision stands."})
    assert answered.status_code == 200 and answered.json()["status"] == "unresolved"
    second = await strategy.post(f"{url}/escalate", headers=POLICE, json={
        "summary": "Synthetic: still disagree.", "escalated_to": {
            "role": "service_manager", "agency": "local_authority", "user_id": "sm-1"}})
    assert second.status_code == 200, second.text
    assert second.json()["stage"] == 2 and len(second.json()["stages"]) == 1
    raised_events = await typed(system, reference, "escalation.raised", 2)
    assert [(e["stage"], e["escalated_to"]["user_id"]) for e in raised_events] == [
        (1, "tm-1"), (2, "sm-1")]
    assert {e["escalation_id"] for e in raised_events} == {escalation["escalation_id"]}
    (answer_event,) = await typed(system, reference, "escalation.answered")
    assert answer_event["stage"] == 1 and answer_event["resolved"] is False


async def test_a_locked_down_case_s_discussion_is_seen_only_by_its_named_users(
    system: dict[str, Any],
) -> None:
    reference, meeting = await red_strategy_discussion(system)
    locked = Event(
        type="mash.intake.record.locked-down.v1", source="/mash/intake", subject=reference,
        time=NOW, recordedtime=NOW, partnership=P,
        data={"case_reference": reference, "locked_at": NOW.isoformat(),
              "locked_by": {"user_id": "tm-1", "role": "team_manager"},
              "reason_code": "staff_member_family", "allowed_user_ids": ["tm-1"],
              "head_of_service_consulted": {"user_id": "hos-1",
                                            "consulted_at": NOW.isoformat()}})
    await system["bus"].publish([locked.to_message(INTAKE_CONTACTS)])

    async def hidden() -> bool:
        r = await system["strategy"].get(f"/v1/strategy-discussions/{meeting}", headers=SW)
        return r.status_code == 404
    await eventually(hidden, what="the lock-down applied")
    assert (await system["strategy"].get(f"/v1/strategy-discussions/{meeting}",
                                         headers=TM)).status_code == 200
    listed = (await system["strategy"].get("/v1/strategy-discussions", headers=SW)).json()
    assert reference not in json.dumps(listed)
