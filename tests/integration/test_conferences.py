"""Child protection conferences (issue 15) on the real PostgreSQL server, through the public
APIs: an agreed s47 outcome of continuing risk creates the ICPC, due 15 working days after
the strategy discussion that started the s47; it is scheduled with an IRO chair, the family
by role and the agencies' reports tracked; the IRO records it held with a plan, whose
clocks the timekeeper starts (keyed by the plan) while the ICPC clock is met.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, col, select

from mashcore.audit import AuditEntry
from mashcore.envelope import Event
from mashcore.topics import INTAKE_CONTACTS
from sla_timekeeper.models import ClockRow
from tests.integration.test_strategy import (
    BS,
    CHILD_SURNAMES,
    NOW,
    POLICE,
    SW,
    TM,
    UNINVITED_POLICE,
    _waiting_on_lock,
    held_body,
    red_strategy_discussion,
    schedule_body,
    strategy_events,
    typed,
)
from tests.support import auth, eventually, services_on_postgres

P = "coventry"
IRO = auth("iro", "local_authority", subject="iro-1", partnership=P)
ELSEWHERE_IRO = auth("iro", "local_authority", subject="iro-9", partnership="medway")
HEALTH = auth("navigator", "health", subject="hv-1", partnership=P)
DISCUSSION_AT = NOW + timedelta(hours=5)  # Tuesday 24 November 2026, 15:00 GMT
ICPC_AT = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # a Thursday
ICPC_INVITEES = [
    {"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
    {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
    {"role": "navigator", "agency": "police", "user_id": "pc-1"},
    {"role": "designated_safeguarding_lead", "agency": "education"},
    {"role": "parent_or_carer"}, {"role": "advocate"},
]
CORE_GROUP = [
    {"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
    {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
    {"role": "parent_or_carer"},
]


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "strategy", "sla-timekeeper"],
                                    NOW) as running:
        yield running


async def agreed_continuing_risk(system: dict[str, Any], children: tuple[int, ...] = (1,),
                                 ) -> str:
    """A Red case's discussion held at DISCUSSION_AT deciding s47 for ``children``, whose
    outcomes of continuing risk a team manager agrees."""
    reference, meeting = await red_strategy_discussion(system)
    strategy: httpx.AsyncClient = system["strategy"]
    r = await strategy.post(f"/v1/strategy-discussions/{meeting}/schedule", headers=BS,
                            json=schedule_body(starts_at=DISCUSSION_AT.isoformat(),
                                               ends_at=(NOW + timedelta(hours=6)).isoformat()))
    assert r.status_code == 200, r.text
    system["clock"].advance(hours=6)
    r = await strategy.post(f"/v1/strategy-discussions/{meeting}/held", headers=TM,
                            json=held_body(held_at=DISCUSSION_AT.isoformat(), s47_decisions=[
                                {"child_number": n, "s47": n in children} for n in (1, 2)]))
    assert r.status_code == 200, r.text
    enquiries = (await strategy.get(f"/v1/cases/{reference}/s47-enquiries",
                                    headers=SW)).json()
    assert [e["child_number"] for e in enquiries] == list(children)
    for enquiry in enquiries:
        url = f"/v1/s47-enquiries/{enquiry['s47_enquiry_id']}"
        assert (await strategy.post(f"{url}/outcome", headers=SW, json={
            "outcome": "substantiated_continuing_risk", "next_step": "icpc",
            "rationale": "Synthetic: continuing risk."})).status_code == 200
        assert (await strategy.post(f"{url}/agreement", headers=TM, json={
            "agree": True, "rationale": "Synthetic: agreed."})).status_code == 200
    return reference


def clocks(system: dict[str, Any], reference: str) -> dict[tuple[str, str], ClockRow]:
    engine = create_engine(system["db_url"]["sla-timekeeper"])
    try:
        with Session(engine) as session:
            return {(c.clock, c.instance): c for c in session.exec(select(ClockRow).where(
                ClockRow.case_reference == reference).order_by(col(ClockRow.started_at)))}
    finally:
        engine.dispose()


async def clocks_when(system: dict[str, Any], reference: str,
                      wanted: dict[tuple[str, str], str]) -> dict[tuple[str, str], ClockRow]:
    async def check() -> dict[tuple[str, str], ClockRow] | None:
        found = clocks(system, reference)
        ok = all(k in found and found[k].status == s for k, s in wanted.items())
        return found if ok else None
    return await eventually(check, what=f"clocks {wanted}")


async def test_an_agreed_continuing_risk_outcome_is_carried_to_an_icpc_held_with_a_plan(
    system: dict[str, Any],
) -> None:
    reference = await agreed_continuing_risk(system)
    strategy: httpx.AsyncClient = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()
    meeting = conference["meeting_id"]
    assert conference["status"] == "awaiting_schedule"
    assert conference["child_numbers"] == [1]
    assert conference["s47_started_at"] == DISCUSSION_AT.isoformat()
    # 15 working days after Tuesday 24 November: the end of Tuesday 15 December.
    assert conference["due_at"] == "2026-12-16T00:00:00+00:00"
    (held_discussion,) = await typed(system, reference, "discussion.held")
    discussion = held_discussion["meeting_id"]
    icpc_clock = f"{discussion}:1"  # the ICPC clock runs per child of the s47 discussion
    await clocks_when(system, reference, {("icpc", icpc_clock): "running"})

    # Without the family (and no reason) or a social worker: refused, naming the field.
    refused = await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": [{"role": "practitioner", "agency": "health"}]})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"invitees"}
    assert len(refused.json()["errors"]) == 2
    named = await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": [{"role": "parent_or_carer", "user_id": "mum"}, *ICPC_INVITEES]})
    assert named.status_code == 422  # family by role only: never an identity
    r = await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": ICPC_INVITEES})
    assert r.status_code == 200, r.text
    scheduled = r.json()
    assert scheduled["within_timescale"] is True
    assert scheduled["invitees"][0] == {"role": "iro", "agency": "local_authority",
                                        "user_id": "iro-1"}
    # Reports from each invited agency, due at close of business two working days before.
    assert [(x["agency"], x["status"], x["due_at"]) for x in scheduled["reports"]] == [
        (agency, "awaited", "2026-12-08T17:00:00+00:00")
        for agency in ("education", "health", "police")]
    (event,) = await typed(system, reference, "icpc.scheduled")
    assert event["s47_strategy_meeting_id"] == discussion
    assert event["s47_started_at"] == DISCUSSION_AT.isoformat()
    assert event["chaired_by_iro"] == "iro-1" and event["rescheduled"] is False
    assert {"role": "parent_or_carer"} in event["invitees"]
    # What a calendar invite needs, as on discussion.scheduled: a stable id (meeting_id),
    # the organiser and a sequence that a reschedule increments (issue 15).
    assert event["sequence"] == 0
    assert event["organiser"] == {"role": "business_support", "user_id": "bs-1"}
    r = await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": ICPC_INVITEES})
    assert r.status_code == 200, r.text
    first, again = await typed(system, reference, "icpc.scheduled", count=2)
    assert again["meeting_id"] == first["meeting_id"] == meeting
    assert (again["sequence"], again["rescheduled"]) == (1, True)
    assert again["organiser"] == first["organiser"]

    # The invited health visitor sends her report and sees the conference, not the file;
    # she cannot mark police's; an uninvited officer sees nothing.
    assert (await strategy.post(f"/v1/conferences/{meeting}/reports/police/received",
                                headers=HEALTH)).status_code == 403
    r = await strategy.post(f"/v1/conferences/{meeting}/reports/health/received",
                            headers=HEALTH)
    assert r.status_code == 200, r.text
    assert {x["agency"]: x["status"] for x in r.json()["reports"]} == {
        "education": "awaited", "health": "received", "police": "awaited"}
    assert r.json()["family_not_invited_reason"] is None
    assert (await strategy.get(f"/v1/conferences/{meeting}", headers=POLICE)).status_code \
        == 200
    assert (await strategy.get(f"/v1/conferences/{meeting}",
                               headers=UNINVITED_POLICE)).status_code == 404
    assert (await strategy.get(f"/v1/conferences/{meeting}",
                               headers=ELSEWHERE_IRO)).status_code == 404
    assert (await strategy.get(f"/v1/cases/{reference}/conferences",
                               headers=POLICE)).status_code == 403
    # Every read of the conference is audited, the refused ones too: filed for the owner
    # (mashcore.audit.audit_read_or_404), so coventry's team manager sees the attempts.
    engine = create_engine(system["db_url"]["strategy"])
    with Session(engine) as session:
        reads = {(a.actor, a.outcome) for a in session.exec(select(AuditEntry).where(
            AuditEntry.resource == "child_protection_conference",
            AuditEntry.resource_id == meeting, AuditEntry.action == "read"))}
    engine.dispose()
    assert reads == {("pc-1", "allowed"), ("pc-2", "refused"), ("iro-9", "refused")}

    system["clock"].set(ICPC_AT + timedelta(hours=2))
    held_at = (ICPC_AT + timedelta(hours=1)).isoformat()
    attendees = [{"role": "iro", "agency": "local_authority", "user_id": "iro-1"},
                 *ICPC_INVITEES[:3], {"role": "parent_or_carer"}]
    # Only the IRO records it; a plan without a category, a core group or a review
    # within 3 months is refused, naming each field.
    plan: dict[str, Any] = {"child_number": 1, "plan": True,
                            "category_of_abuse": ["neglect", "emotional"],
                            "core_group": CORE_GROUP,
                            "outline_plan": "Synthetic: weekly visits.",
                            "first_review_due_on": "2027-03-05"}
    body = {"held_at": held_at, "attendees": attendees, "decisions": [plan],
            "decision_summary": "Synthetic: continuing risk of neglect."}
    assert (await strategy.post(f"/v1/conferences/{meeting}/held", headers=TM,
                                json=body)).status_code == 403
    bad = await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO, json={
        **body, "decisions": [{**plan, "category_of_abuse": [], "core_group": [],
                               "first_review_due_on": "2027-03-11"}]})
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == [
        "decisions[0].category_of_abuse", "decisions[0].core_group",
        "decisions[0].first_review_due_on"]
    other_child = await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO, json={
        **body, "decisions": [plan, {"child_number": 2, "plan": False}]})
    assert other_child.status_code == 422
    assert [e["field"] for e in other_child.json()["errors"]] == ["decisions"]
    r = await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO, json=body)
    assert r.status_code == 200, r.text
    (decision,) = r.json()["decisions"]
    plan_id = decision["plan_id"]
    assert r.json()["status"] == "held"
    assert (await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO,
                                json=body)).status_code == 409

    (held,) = await typed(system, reference, "icpc.held")
    assert (held["plan_made"], held["plan_id"], held["child_number"]) == (True, plan_id, 1)
    assert held["strategy_meeting_id"] == discussion and held["chaired_by_iro"] == "iro-1"
    assert held["category_of_abuse"] == ["neglect", "emotional"]
    assert held["first_review_due_on"] == "2027-03-05"
    # The ICPC clock is met; the plan's clocks start, keyed by the plan.
    found = await clocks_when(system, reference, {
        ("icpc", icpc_clock): "met", ("first_core_group", plan_id): "running",
        ("first_review_conference", plan_id): "running"})
    assert found[("first_core_group", plan_id)].started_at.isoformat() == held_at
    # The invited police officer sees the decisions but not the outline plan's free text.
    seen = (await strategy.get(f"/v1/conferences/{meeting}", headers=POLICE)).json()
    assert seen["decisions"][0]["category_of_abuse"] == ["neglect", "emotional"]
    assert "outline_plan" not in seen["decisions"][0] and seen["decision_summary"] is None
    # Per agency: the police officer sees no core group members (police is not in it);
    # the health visitor sees health's membership only, not the family's or other agencies'.
    assert seen["decisions"][0]["core_group"] == []
    seen = (await strategy.get(f"/v1/conferences/{meeting}", headers=HEALTH)).json()
    assert seen["decisions"][0]["core_group"] == [
        {"role": "practitioner", "agency": "health", "user_id": "hv-1"}]
    assert seen["decisions"][0]["category_of_abuse"] == ["neglect", "emotional"]

    for _type, data in await strategy_events(system, reference):
        assert not any(name in json.dumps(data) for name in CHILD_SURNAMES)


async def icpc_held_with_a_plan(system: dict[str, Any]) -> tuple[str, str, datetime]:
    """An agreed continuing-risk outcome carried to an ICPC held with a plan for child 1."""
    reference = await agreed_continuing_risk(system)
    strategy: httpx.AsyncClient = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()
    meeting = conference["meeting_id"]
    r = await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": ICPC_INVITEES})
    assert r.status_code == 200, r.text
    system["clock"].set(ICPC_AT + timedelta(hours=2))
    held_at = ICPC_AT + timedelta(hours=1)
    r = await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO, json={
        "held_at": held_at.isoformat(), "attendees": ICPC_INVITEES,
        "decisions": [{"child_number": 1, "plan": True, "category_of_abuse": ["neglect"],
                       "core_group": CORE_GROUP, "first_review_due_on": "2027-03-05"}]})
    assert r.status_code == 200, r.text
    return reference, str(r.json()["decisions"][0]["plan_id"]), held_at


async def test_the_plan_s_core_groups_update_its_actions_the_first_chaired_by_the_team_manager(
    system: dict[str, Any],
) -> None:
    reference, plan_id, icpc_held = await icpc_held_with_a_plan(system)
    strategy: httpx.AsyncClient = system["strategy"]
    (listed,) = (await strategy.get(f"/v1/cases/{reference}/plans", headers=IRO)).json()
    assert (listed["plan_id"], listed["child_number"], listed["status"]) == (plan_id, 1,
                                                                           "active")
    # The social worker writes the plan's actions in detail; the child is given a copy.
    r = await strategy.post(f"/v1/plans/{plan_id}/actions", headers=SW, json={"new_actions": [
        {"what": "Synthetic: weekly home visit.", "owner_role": "social_worker",
         "owner_agency": "local_authority", "due_on": "2026-12-18"},
        {"what": "Synthetic: health check.", "owner_role": "practitioner",
         "owner_agency": "health", "due_on": "2027-01-08"}]})
    assert r.status_code == 200, r.text
    visit, check = sorted(r.json()["actions"], key=lambda a: a["due_on"])
    too_early = await strategy.post(f"/v1/plans/{plan_id}/copy-given-to-child", headers=SW,
                                    json={"given_on": "2026-12-01", "form": "easy_read"})
    assert too_early.status_code == 422
    assert [e["field"] for e in too_early.json()["errors"]] == ["given_on"]
    r = await strategy.post(f"/v1/plans/{plan_id}/copy-given-to-child", headers=SW,
                            json={"given_on": "2026-12-10", "form": "easy_read"})
    assert r.status_code == 200
    assert r.json()["copy_given_to_child"] == {"given_on": "2026-12-10", "form": "easy_read",
                                               "language": None}
    # The core group's health visitor sees the plan; an officer outside it does not.
    assert (await strategy.get(f"/v1/plans/{plan_id}", headers=HEALTH)).status_code == 200
    assert (await strategy.get(f"/v1/plans/{plan_id}", headers=POLICE)).status_code == 404

    first_at = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    r = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=BS, json={
        "scheduled_for": first_at.isoformat(), "invitees": CORE_GROUP})
    assert r.status_code == 200, r.text
    first = r.json()
    # 10 working days after Thursday 10 December: the end of Thursday 24 December.
    assert (first["first"], first["chair_role"], first["due_at"]) == (
        True, "team_manager", "2026-12-25T00:00:00+00:00")
    (scheduled,) = await typed(system, reference, "core-group.scheduled")
    assert (scheduled["plan_id"], scheduled["first"]) == (plan_id, True)
    # The calendar invite: organiser and sequence, which re-arranging increments.
    assert (scheduled["sequence"], scheduled["organiser"]) == (
        0, {"role": "business_support", "user_id": "bs-1"})
    r = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=SW, json={
        "scheduled_for": first_at.isoformat(), "invitees": CORE_GROUP})
    assert r.status_code == 200, r.text
    _, again = await typed(system, reference, "core-group.scheduled", count=2)
    assert (again["meeting_id"], again["sequence"], again["rescheduled"]) == (
        first["meeting_id"], 1, True)
    assert again["organiser"] == {"role": "social_worker", "user_id": "sw-1"}

    system["clock"].set(first_at + timedelta(hours=2))
    url = f"/v1/core-groups/{first['meeting_id']}"
    held = {"held_at": (first_at + timedelta(hours=1)).isoformat(), "attendees": CORE_GROUP,
            "action_updates": [{"action_id": visit["action_id"], "status": "done"}],
            "new_actions": [{"what": "Synthetic: nursery place.", "owner_role":
                             "social_worker", "owner_agency": "local_authority",
                             "due_on": "2027-01-15"}]}
    assert (await strategy.post(f"{url}/held", headers=SW, json=held)).status_code == 403
    unknown = await strategy.post(f"{url}/held", headers=TM, json={
        **held, "action_updates": [{"action_id": str(uuid4()), "status": "done"}]})
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["action_updates[0].action_id"]
    r = await strategy.post(f"{url}/held", headers=TM, json=held)
    assert r.status_code == 200, r.text
    # Minutes within 5 working days of Thursday 17 December: the end of Thursday 24th.
    assert r.json()["minutes_due_at"] == "2026-12-25T00:00:00+00:00"
    (event,) = await typed(system, reference, "core-group.held")
    assert (event["first"], event["chaired_by_role"], event["chaired_by"]) == (
        True, "team_manager", "tm-1")
    assert event["plan_copy_given_to_child"] is True
    await clocks_when(system, reference, {
        ("first_core_group", plan_id): "met",
        ("core_group_minutes", first["meeting_id"]): "running"})
    assert (await strategy.post(f"{url}/minutes", headers=SW,
                                json={"minutes": "Synthetic."})).status_code == 403
    assert (await strategy.post(f"{url}/minutes", headers=TM,
                                json={"minutes": "Synthetic."})).status_code == 200
    (minutes,) = await typed(system, reference, "minutes.circulated")
    assert (minutes["meeting_kind"], minutes["meeting_id"]) == ("core_group",
                                                                first["meeting_id"])
    assert minutes["signed_off_by_role"] == "team_manager"
    await clocks_when(system, reference, {
        ("core_group_minutes", first["meeting_id"]): "met"})

    # Later core groups are chaired by the social worker.
    later_at = datetime(2027, 1, 14, 10, 0, tzinfo=UTC)
    r = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=SW, json={
        "scheduled_for": later_at.isoformat(), "invitees": CORE_GROUP})
    assert (r.json()["first"], r.json()["chair_role"], r.json()["due_at"]) == (
        False, "social_worker", None)
    system["clock"].set(later_at + timedelta(hours=2))
    later = {"held_at": (later_at + timedelta(hours=1)).isoformat(), "attendees": CORE_GROUP,
             "action_updates": [{"action_id": check["action_id"], "status": "in_progress",
                                 "note": "Synthetic: booked."}]}
    url = f"/v1/core-groups/{r.json()['meeting_id']}"
    assert (await strategy.post(f"{url}/held", headers=TM, json=later)).status_code == 403
    assert (await strategy.post(f"{url}/held", headers=SW, json=later)).status_code == 200
    actions = (await strategy.get(f"/v1/plans/{plan_id}", headers=SW)).json()["actions"]
    assert [(a["what"], a["status"]) for a in actions] == [
        ("Synthetic: weekly home visit.", "done"), ("Synthetic: health check.", "in_progress"),
        ("Synthetic: nursery place.", "open")]
    assert [a["updated_at_meeting"] for a in actions] == [
        first["meeting_id"], r.json()["meeting_id"], first["meeting_id"]]
    assert icpc_held.isoformat() == listed["started_at"]


async def test_reviews_continue_the_plan_then_step_it_down_ending_it_and_its_clocks(
    system: dict[str, Any],
) -> None:
    reference, plan_id, _ = await icpc_held_with_a_plan(system)
    strategy: httpx.AsyncClient = system["strategy"]
    await clocks_when(system, reference, {("first_review_conference", plan_id): "running",
                                          ("first_core_group", plan_id): "running"})
    first_at = datetime(2027, 3, 4, 10, 0, tzinfo=UTC)
    r = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=BS, json={
        "scheduled_for": first_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP})
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["first"], first["due_on"]) == (True, "2027-03-05")
    (scheduled,) = await typed(system, reference, "review-conference.scheduled")
    assert (scheduled["plan_id"], scheduled["chaired_by_iro"]) == (plan_id, "iro-1")
    # The calendar invite: organiser and sequence, which re-arranging increments.
    assert (scheduled["sequence"], scheduled["organiser"]) == (
        0, {"role": "business_support", "user_id": "bs-1"})
    r = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=BS, json={
        "scheduled_for": first_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP})
    assert r.status_code == 200, r.text
    _, again = await typed(system, reference, "review-conference.scheduled", count=2)
    assert (again["meeting_id"], again["sequence"], again["rescheduled"]) == (
        first["meeting_id"], 1, True)

    system["clock"].set(first_at + timedelta(hours=2))
    url = f"/v1/review-conferences/{first['meeting_id']}/held"
    held_at = (first_at + timedelta(hours=1)).isoformat()
    body = {"held_at": held_at, "attendees": CORE_GROUP, "decision": "change",
            "category_of_abuse": ["neglect", "physical"], "next_review_due_on": "2027-09-05",
            "rationale": "Synthetic: progress; a new concern."}
    assert (await strategy.post(url, headers=SW, json=body)).status_code == 403
    # Continuing needs the categories and the next review within 6 months (4 September).
    late = await strategy.post(url, headers=IRO, json={**body, "category_of_abuse": []})
    assert late.status_code == 422
    assert [e["field"] for e in late.json()["errors"]] == [
        "category_of_abuse", "next_review_due_on"]
    r = await strategy.post(url, headers=IRO, json={**body, "next_review_due_on": "2027-09-03"})
    assert r.status_code == 200, r.text
    (held,) = await typed(system, reference, "review-conference.held")
    assert (held["first"], held["decision"], held["next_review_due_on"]) == (
        True, "change", "2027-09-03")
    await clocks_when(system, reference, {
        ("first_review_conference", plan_id): "met",
        ("later_review_conference", plan_id): "running"})
    plan = (await strategy.get(f"/v1/plans/{plan_id}", headers=IRO)).json()
    assert (plan["category_of_abuse"], plan["next_review_due_on"]) == (
        ["neglect", "physical"], "2027-09-03")

    # The second review steps the plan down to a child in need plan: the plan ends.
    later_at = datetime(2027, 8, 26, 9, 0, tzinfo=UTC)  # BST: 10:00 local
    r = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=SW, json={
        "scheduled_for": later_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP})
    assert (r.json()["first"], r.json()["due_on"]) == (False, "2027-09-03")
    system["clock"].set(later_at + timedelta(hours=2))
    url = f"/v1/review-conferences/{r.json()['meeting_id']}/held"
    ended_at = (later_at + timedelta(hours=1)).isoformat()
    stepped = {"held_at": ended_at, "attendees": CORE_GROUP,
               "decision": "step_down_child_in_need", "rationale": "Synthetic: safer now."}
    mixed = await strategy.post(url, headers=IRO, json={**stepped,
                                                        "next_review_due_on": "2027-12-01"})
    assert [e["field"] for e in mixed.json()["errors"]] == ["next_review_due_on"]
    r = await strategy.post(url, headers=IRO, json=stepped)
    assert r.status_code == 200, r.text
    assert (r.json()["plan_status"], r.json()["plan_end_reason"]) == (
        "ended", "stepped_down_to_child_in_need")
    (ended,) = await typed(system, reference, "plan.ended")
    assert (ended["plan_id"], ended["reason"], ended["review_meeting_id"],
            ended["ended_at"]) == (plan_id, "stepped_down_to_child_in_need",
                                   r.json()["meeting_id"], ended_at)
    (handed_on,) = await typed(system, reference, "plan.handed-on")
    assert (handed_on["plan_id"], handed_on["handed_to"], handed_on["child_number"],
            handed_on["category_of_abuse"]) == (plan_id, "child_in_need", 1,
                                                ["neglect", "physical"])
    # The review is met; the first core group, never held, is cancelled with the plan.
    await clocks_when(system, reference, {
        ("later_review_conference", plan_id): "met",
        ("first_core_group", plan_id): "cancelled"})
    assert (await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=SW, json={
        "scheduled_for": later_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP})).status_code == 409
    assert (await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=SW, json={
        "scheduled_for": later_at.isoformat(), "invitees": CORE_GROUP})).status_code == 409


async def test_the_conference_work_list_shows_one_still_to_hold_to_its_partnership_only(
    system: dict[str, Any],
) -> None:
    reference = await agreed_continuing_risk(system)
    strategy: httpx.AsyncClient = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()

    async def listed(headers: dict[str, str], held: str) -> list[str]:
        r = await strategy.get("/v1/conferences", headers=headers, params={"held": held})
        assert r.status_code == 200, r.text
        return [c["meeting_id"] for c in r.json()]
    assert conference["meeting_id"] in await listed(IRO, "false")
    assert conference["meeting_id"] not in await listed(IRO, "true")
    assert conference["meeting_id"] not in await listed(ELSEWHERE_IRO, "false")
    (row,) = [c for c in (await strategy.get("/v1/conferences", headers=SW)).json()
              if c["meeting_id"] == conference["meeting_id"]]
    assert set(row) == {"meeting_id", "case_reference", "conference_kind", "status",
                        "due_at", "scheduled_for", "child_numbers"}  # no free text
    assert (await strategy.get("/v1/conferences", headers=POLICE)).status_code == 403


async def test_two_children_share_one_icpc_each_gets_a_plan_and_clocks_and_two_iros_race(
    system: dict[str, Any],
) -> None:
    reference = await agreed_continuing_risk(system, children=(1, 2))
    strategy: httpx.AsyncClient = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()
    assert conference["child_numbers"] == [1, 2]
    meeting = conference["meeting_id"]
    assert (await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": ICPC_INVITEES})).status_code == 200
    system["clock"].set(ICPC_AT + timedelta(hours=2))
    body = {"held_at": (ICPC_AT + timedelta(hours=1)).isoformat(),
            "attendees": ICPC_INVITEES, "decisions": [
                {"child_number": n, "plan": True, "category_of_abuse": ["emotional"],
                 "core_group": CORE_GROUP, "first_review_due_on": "2027-03-01"}
                for n in (1, 2)]}
    # Two IROs record it at the same moment: both queue behind the case's lock, held on a
    # second connection; one wins, the other is told it is no longer scheduled.
    engine = create_engine(system["db_url"]["strategy"])
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                       {"k": f"mash-case:{reference}"})
        both = [asyncio.create_task(strategy.post(f"/v1/conferences/{meeting}/held",
                                                  headers=who, json=body))
                for who in (IRO, auth("iro", "local_authority", subject="iro-2",
                                      partnership=P))]
        await eventually(lambda: _waiting_on_lock(engine, 2), what="both at the case lock")
        holder.rollback()
    engine.dispose()
    codes = sorted(r.status_code for r in await asyncio.gather(*both))
    assert codes == [200, 409]
    held = await typed(system, reference, "icpc.held", 2)
    assert sorted(h["child_number"] for h in held) == [1, 2]
    plans = {h["plan_id"] for h in held}
    assert len(plans) == 2 and None not in plans
    # Each child's ICPC clock (the s47's discussion, per child) met; each plan its own.
    await clocks_when(system, reference, {
        **{("icpc", f"{h['strategy_meeting_id']}:{h['child_number']}"): "met" for h in held},
        **{(clock, plan): "running" for plan in plans
           for clock in ("first_core_group", "first_review_conference")}})
    listed = (await strategy.get(f"/v1/cases/{reference}/plans", headers=SW)).json()
    assert [(p["child_number"], p["status"]) for p in listed] == [(1, "active"),
                                                                  (2, "active")]


async def test_a_permanent_transfer_in_with_a_plan_arranges_one_transfer_in_conference(
    system: dict[str, Any],
) -> None:
    reference = "MASH-2026-TRANSF3R"
    schema = json.loads((Path(__file__).parents[2] / "contracts" / "events"
                         / "mash.intake.transfer-in.received.v1.schema.json").read_text())
    received = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday
    data = {**schema["examples"][0], "case_reference": reference,
            "transfer_id": str(uuid4()), "received_at": received.isoformat()}

    def transfer(body: dict[str, Any]) -> Event:
        return Event(type="mash.intake.transfer-in.received.v1", source="/mash/intake",
                     subject=reference, time=received, recordedtime=received, partnership=P,
                     data=body)
    temporary = {**data, "transfer_id": str(uuid4()), "arrangement": "temporary"}
    # The same transfer sent twice (two events), and a temporary one: one conference.
    await system["bus"].publish([transfer(b).to_message(INTAKE_CONTACTS)
                                 for b in (data, data, temporary)])
    strategy: httpx.AsyncClient = system["strategy"]

    async def arranged() -> list[dict[str, Any]] | None:
        r = await strategy.get(f"/v1/cases/{reference}/conferences", headers=SW)
        return r.json() if r.status_code == 200 and r.json() else None
    (conference,) = await eventually(arranged, what="the transfer-in conference")
    assert (conference["conference_kind"], conference["child_numbers"],
            conference["s47_strategy_meeting_id"]) == ("transfer_in", [1, 2], None)
    # 15 working days after Wednesday 25 November: the end of Wednesday 16 December.
    assert conference["due_at"] == "2026-12-17T00:00:00+00:00"
    # Its own clock, per transfer, due then too (not an s47's ICPC clock).
    own = ("transfer_in_conference", data["transfer_id"])
    found = await clocks_when(system, reference, {own: "running"})
    assert found[own].due_at.isoformat() == "2026-12-17T00:00:00+00:00"
    assert [k for k in found if k[0] in ("icpc", "transfer_in_conference")] == [own]
    meeting = conference["meeting_id"]
    r = await strategy.post(f"/v1/conferences/{meeting}/schedule", headers=BS, json={
        "scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": ICPC_INVITEES})
    assert r.status_code == 200, r.text
    (scheduled,) = await typed(system, reference, "icpc.scheduled")
    assert (scheduled["conference_kind"], scheduled["s47_started_at"]) == ("transfer_in", None)
    system["clock"].set(ICPC_AT + timedelta(hours=2))
    r = await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO, json={
        "held_at": (ICPC_AT + timedelta(hours=1)).isoformat(), "attendees": ICPC_INVITEES,
        "decisions": [{"child_number": 1, "plan": True, "category_of_abuse": ["neglect"],
                       "core_group": CORE_GROUP, "first_review_due_on": "2027-02-12"},
                      {"child_number": 2, "plan": False}]})
    assert r.status_code == 200, r.text
    held = sorted(await typed(system, reference, "icpc.held", 2),
                  key=lambda h: h["child_number"])
    assert [(h["child_number"], h["plan_made"], h["conference_kind"]) for h in held] == [
        (1, True, "transfer_in"), (2, False, "transfer_in")]
    assert held[1]["plan_id"] is None and held[1]["category_of_abuse"] == []
    await clocks_when(system, reference, {("first_core_group", held[0]["plan_id"]):
                                          "running", own: "met"})


async def test_conferences_reviews_and_core_groups_carry_the_calendar_invite_s_end_and_place(
    system: dict[str, Any],
) -> None:
    """What a calendar invite needs besides the start: the end, and the office (a meeting in
    person) or the link or number to join (online or by phone); refused as a 422 naming the
    field when the end is not after the start or the format lacks its place."""
    reference = await agreed_continuing_risk(system)
    strategy: httpx.AsyncClient = system["strategy"]
    (conference,) = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                        headers=SW)).json()
    meeting = conference["meeting_id"]
    url = f"/v1/conferences/{meeting}/schedule"
    base = {"scheduled_for": ICPC_AT.isoformat(), "chaired_by_iro": "iro-1",
            "invitees": ICPC_INVITEES}
    ends = (ICPC_AT + timedelta(hours=2)).isoformat()
    for faulty, field in (({"ends_at": ICPC_AT.isoformat()}, "ends_at"),
                          ({"format": "meeting", "ends_at": ends}, "location"),
                          ({"format": "video_call", "location": "Civic Centre"}, "dial_in")):
        r = await strategy.post(url, headers=BS, json={**base, **faulty})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
    r = await strategy.post(url, headers=BS, json={
        **base, "format": "meeting", "ends_at": ends,
        "location": "Synthetic: Civic Centre, Room 4"})
    assert r.status_code == 200, r.text
    (scheduled,) = await typed(system, reference, "icpc.scheduled")
    assert {k: scheduled.get(k) for k in ("format", "ends_at", "location", "dial_in")} == {
        "format": "meeting", "ends_at": ends, "location": "Synthetic: Civic Centre, Room 4",
        "dial_in": None}
    # Re-arranged online: the new arrangement replaces the office, stored and re-read.
    r = await strategy.post(url, headers=BS, json={
        **base, "format": "video_call", "ends_at": ends,
        "dial_in": "https://meet.example/icpc"})
    assert r.status_code == 200, r.text
    _, again = await typed(system, reference, "icpc.scheduled", count=2)
    assert (again["sequence"], again["dial_in"], again.get("location")) == (
        1, "https://meet.example/icpc", None)
    read = (await strategy.get(f"/v1/conferences/{meeting}", headers=IRO)).json()
    assert (read["format"], read["ends_at"], read["dial_in"], read.get("location")) == (
        "video_call", ends, "https://meet.example/icpc", None)

    system["clock"].set(ICPC_AT + timedelta(hours=3))
    r = await strategy.post(f"/v1/conferences/{meeting}/held", headers=IRO, json={
        "held_at": (ICPC_AT + timedelta(hours=1)).isoformat(), "attendees": ICPC_INVITEES,
        "decisions": [{"child_number": 1, "plan": True, "category_of_abuse": ["neglect"],
                       "core_group": CORE_GROUP, "first_review_due_on": "2027-03-05"}]})
    assert r.status_code == 200, r.text
    plan_id = r.json()["decisions"][0]["plan_id"]

    core_at = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    r = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=BS, json={
        "scheduled_for": core_at.isoformat(), "invitees": CORE_GROUP,
        "format": "phone_calls"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["dial_in"]
    core_ends = (core_at + timedelta(minutes=45)).isoformat()
    r = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=BS, json={
        "scheduled_for": core_at.isoformat(), "invitees": CORE_GROUP,
        "format": "phone_calls", "ends_at": core_ends, "dial_in": "024 7683 0000"})
    assert r.status_code == 200, r.text
    assert (r.json()["ends_at"], r.json()["dial_in"]) == (core_ends, "024 7683 0000")
    (core,) = await typed(system, reference, "core-group.scheduled")
    assert (core["format"], core["ends_at"], core["dial_in"], core.get("location")) == (
        "phone_calls", core_ends, "024 7683 0000", None)

    review_at = datetime(2027, 3, 4, 10, 0, tzinfo=UTC)
    review_ends = (review_at + timedelta(hours=2)).isoformat()
    r = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=BS, json={
        "scheduled_for": review_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP, "ends_at": review_at.isoformat()})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["ends_at"]
    r = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=BS, json={
        "scheduled_for": review_at.isoformat(), "chaired_by_iro": "iro-1",
        "invitees": CORE_GROUP, "format": "meeting", "ends_at": review_ends,
        "location": "Synthetic: Civic Centre, Room 2"})
    assert r.status_code == 200, r.text
    (review,) = await typed(system, reference, "review-conference.scheduled")
    assert (review["format"], review["ends_at"], review["location"],
            review.get("dial_in")) == ("meeting", review_ends,
                                        "Synthetic: Civic Centre, Room 2", None)
    read = (await strategy.get(f"/v1/review-conferences/{review['meeting_id']}",
                               headers=IRO)).json()
    assert (read["ends_at"], read["location"]) == (review_ends,
                                                    "Synthetic: Civic Centre, Room 2")
