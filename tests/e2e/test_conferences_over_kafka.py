"""Child protection conferences (issue 15) as separate processes over the real Kafka broker
and PostgreSQL, through the public APIs only: an agreed s47 outcome of continuing risk → the
ICPC scheduled and held with a plan → the first core group → the first review stepping the
plan down; the timekeeper's clocks started, met and cancelled from strategy's real events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from devinfra.processes import ServiceProcess
from tests.e2e.test_strategy_over_kafka import BS, PEOPLE, SCHOOL, SW, TM, P, _ok
from tests.e2e.test_strategy_over_kafka import strategy_env as strategy_env  # fixture
from tests.support import auth, eventually_sync, synthetic_referral

IRO = auth("iro", "local_authority", subject="iro-s", partnership=P)
CORE = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-s"},
        {"role": "practitioner", "agency": "health", "user_id": "hv-s"},
        {"role": "parent_or_carer"}]


def test_an_s47_outcome_is_carried_to_a_plan_a_core_group_and_a_step_down_with_live_clocks(
    launch: Callable[..., ServiceProcess], strategy_env: dict[str, str],
) -> None:
    intake, triage = launch("intake"), launch("triage")
    strategy, timekeeper = launch("strategy"), launch("sla-timekeeper")
    body = synthetic_referral(
        22, partnership=P,
        consent={"consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    reference = _ok(httpx.post(f"{intake.url}/v1/contacts", json=body, headers=SCHOOL,
                               timeout=10))["case_reference"]
    eventually_sync(lambda: httpx.post(
        f"{triage.url}/v1/cases/{reference}/threshold-decision", headers=TM, timeout=10,
        json={"level_code": "L4", "brag": "red", "route": "strategy_discussion",
              "rationale": "Synthetic: disclosure of harm."}).status_code == 200,
        timeout=30, what="the threshold decision")

    def listed(path: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{strategy.url}/v1/cases/{reference}/{path}", headers=SW, timeout=10)
        return r.json() if r.status_code == 200 else []
    [discussion] = eventually_sync(lambda: listed("strategy-discussions"), timeout=30,
                                   what="the requested discussion")
    url = f"{strategy.url}/v1/strategy-discussions/{discussion['meeting_id']}"
    t0 = datetime.now(UTC) - timedelta(hours=2)
    _ok(httpx.post(f"{url}/schedule", headers=BS, timeout=10, json={
        "format": "phone_calls", "starts_at": t0.isoformat(),
        "ends_at": (t0 + timedelta(minutes=20)).isoformat(), "dial_in": "0300 000 0000",
        "chair_id": "tm-s", "invitees": PEOPLE}))
    _ok(httpx.post(f"{url}/held", headers=TM, timeout=10, json={
        "held_at": t0.isoformat(), "attendees": PEOPLE,
        "criminal_investigation": "not_required",
        "s47_decisions": [{"child_number": 1, "s47": True}],
        "s47_decision_rationale": "Synthetic: reasonable cause to suspect harm."}))
    [enquiry] = listed("s47-enquiries")
    s47 = f"{strategy.url}/v1/s47-enquiries/{enquiry['s47_enquiry_id']}"
    _ok(httpx.post(f"{s47}/outcome", headers=SW, timeout=10, json={
        "outcome": "substantiated_continuing_risk", "next_step": "icpc",
        "rationale": "Synthetic: continuing risk."}))
    _ok(httpx.post(f"{s47}/agreement", headers=TM, timeout=10,
                   json={"agree": True, "rationale": "Synthetic: agreed."}))

    # The ICPC, created with the agreement: scheduled, then held with a plan.
    [conference] = listed("conferences")
    icpc = f"{strategy.url}/v1/conferences/{conference['meeting_id']}"
    _ok(httpx.post(f"{icpc}/schedule", headers=BS, timeout=10, json={
        "scheduled_for": (t0 + timedelta(minutes=30)).isoformat(), "chaired_by_iro": "iro-s",
        "invitees": [*PEOPLE, {"role": "parent_or_carer"}]}))
    icpc_at = t0 + timedelta(minutes=30)
    review_on = (icpc_at + timedelta(days=60)).date().isoformat()
    held = _ok(httpx.post(f"{icpc}/held", headers=IRO, timeout=10, json={
        "held_at": icpc_at.isoformat(), "attendees": PEOPLE,
        "decisions": [{"child_number": 1, "plan": True, "category_of_abuse": ["neglect"],
                       "core_group": CORE, "first_review_due_on": review_on}]}))
    plan_id = held["decisions"][0]["plan_id"]

    def clocks() -> dict[str, str]:  # one child, one plan: one clock of each kind
        r = httpx.get(f"{timekeeper.url}/v1/clocks", params={"case_reference": reference},
                      headers=TM, timeout=10)
        return {c["clock"]: c["status"] for c in r.json()} if r.status_code == 200 else {}

    def clocks_are(wanted: dict[str, str]) -> dict[str, str] | None:
        found = clocks()
        return found if all(found.get(k) == v for k, v in wanted.items()) else None
    eventually_sync(lambda: clocks_are({
        "icpc": "met",
        "first_core_group": "running",
        "first_review_conference": "running"}), timeout=30,
        what="the ICPC met and the plan's clocks running")

    # The first core group, chaired by the team manager; its minutes.
    core = _ok(httpx.post(f"{strategy.url}/v1/plans/{plan_id}/core-groups", headers=BS,
                          timeout=10, json={"scheduled_for": (t0 + timedelta(minutes=60))
                                            .isoformat(), "invitees": CORE}))
    group = f"{strategy.url}/v1/core-groups/{core['meeting_id']}"
    _ok(httpx.post(f"{group}/held", headers=TM, timeout=10, json={
        "held_at": (t0 + timedelta(minutes=60)).isoformat(), "attendees": CORE,
        "new_actions": [{"what": "Synthetic: weekly visit.", "owner_role": "social_worker",
                         "owner_agency": "local_authority", "due_on": review_on}]}))
    _ok(httpx.post(f"{group}/minutes", headers=TM, timeout=10,
                   json={"minutes": "Synthetic minutes."}))
    eventually_sync(lambda: clocks_are({
        "first_core_group": "met",
        "core_group_minutes": "met"}), timeout=30,
        what="the core group and its minutes met")

    # The first review steps the plan down to child in need: the plan ends.
    review = _ok(httpx.post(f"{strategy.url}/v1/plans/{plan_id}/reviews", headers=BS,
                            timeout=10, json={
                                "scheduled_for": (t0 + timedelta(minutes=90)).isoformat(),
                                "chaired_by_iro": "iro-s", "invitees": CORE}))
    stepped = _ok(httpx.post(
        f"{strategy.url}/v1/review-conferences/{review['meeting_id']}/held", headers=IRO,
        timeout=10, json={"held_at": (t0 + timedelta(minutes=90)).isoformat(),
                          "attendees": CORE, "decision": "step_down_child_in_need",
                          "rationale": "Synthetic: safer now."}))
    assert stepped["plan_status"] == "ended"
    eventually_sync(lambda: clocks_are({
        "first_review_conference": "met"}), timeout=30,
        what="the first review met")
    plan = httpx.get(f"{strategy.url}/v1/plans/{plan_id}", headers=SW, timeout=10).json()
    assert (plan["status"], plan["end_reason"]) == ("ended", "stepped_down_to_child_in_need")
