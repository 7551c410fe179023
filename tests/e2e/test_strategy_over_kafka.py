"""A case decided Red with route strategy_discussion, carried through the public APIs only to
a discussion held with s47 and an agreed s47 outcome, as separate processes over the real
Kafka broker and PostgreSQL; the timekeeper's strategy clocks follow strategy's real events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devinfra.processes import ServiceProcess
from tests.support import auth, eventually_sync, synthetic_referral

P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-s", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-s", partnership=P)
SW = auth("social_worker", "local_authority", subject="sw-s", partnership=P)
BS = auth("business_support", "local_authority", subject="bs-s", partnership=P)
PEOPLE = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-s"},
          {"role": "practitioner", "agency": "health", "user_id": "hv-s"},
          {"role": "practitioner", "agency": "police", "user_id": "pc-s"}]


@pytest.fixture
def strategy_env(system_env: dict[str, str], postgres_server: Any) -> dict[str, str]:
    """system_env with strategy's and the timekeeper's databases too."""
    prefix = system_env["MASH_TOPIC_NAMESPACE"].removesuffix(".")
    for service in ("strategy", "sla_timekeeper"):
        postgres_server.create_database(f"{prefix}_{service}")
    return system_env


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_red_strategy_decision_reaches_an_s47_outcome_with_the_icpc_clock_running(
    launch: Callable[..., ServiceProcess], strategy_env: dict[str, str],
) -> None:
    intake, triage = launch("intake"), launch("triage")
    strategy, timekeeper = launch("strategy"), launch("sla-timekeeper")
    body = synthetic_referral(
        21, partnership=P,
        consent={"consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    reference = _ok(httpx.post(f"{intake.url}/v1/contacts", json=body, headers=SCHOOL,
                               timeout=10))["case_reference"]

    def decided() -> bool:
        return httpx.post(f"{triage.url}/v1/cases/{reference}/threshold-decision",
                          headers=TM, timeout=10,
                          json={"level_code": "L4", "brag": "red",
                                "route": "strategy_discussion",
                                "rationale": "Synthetic: disclosure of harm."}
                          ).status_code == 200
    eventually_sync(decided, timeout=30, what="the threshold decision")

    def requested() -> list[dict[str, Any]]:
        r = httpx.get(f"{strategy.url}/v1/cases/{reference}/strategy-discussions",
                      headers=SW, timeout=10)
        return r.json() if r.status_code == 200 else []
    [discussion] = eventually_sync(requested, timeout=30, what="the requested discussion")
    url = f"{strategy.url}/v1/strategy-discussions/{discussion['meeting_id']}"
    now = datetime.now(UTC)
    _ok(httpx.post(f"{url}/schedule", headers=BS, timeout=10, json={
        "format": "phone_calls", "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(), "dial_in": "0300 000 0000",
        "chair_id": "tm-s", "invitees": PEOPLE}))
    held = _ok(httpx.post(f"{url}/held", headers=TM, timeout=10, json={
        "held_at": now.isoformat(), "attendees": PEOPLE, "criminal_investigation": "not_required",
        "s47_decisions": [{"child_number": 1, "s47": True}],
        "s47_decision_rationale": "Synthetic: reasonable cause to suspect harm."}))
    assert held["held"]["s47_decisions"][0]["starts_s47"] is True

    def clocks() -> dict[str, dict[str, Any]]:
        r = httpx.get(f"{timekeeper.url}/v1/clocks", params={"case_reference": reference},
                      headers=TM, timeout=10)
        return {c["clock"]: c for c in r.json()} if r.status_code == 200 else {}

    running = eventually_sync(lambda: (c := clocks()).get("icpc") and c, timeout=30,
                              what="the ICPC clock")
    assert running["icpc"]["status"] == "running"
    assert running["strategy_minutes"]["status"] == "running"

    _ok(httpx.post(f"{url}/minutes/sign-off", headers=TM, timeout=10,
                   json={"minutes": "Synthetic minutes."}))
    _ok(httpx.post(f"{url}/minutes/circulate", headers=BS, timeout=10))
    eventually_sync(lambda: clocks()["strategy_minutes"]["status"] == "met", timeout=30,
                    what="the minutes clock met")

    listed = httpx.get(f"{strategy.url}/v1/cases/{reference}/s47-enquiries", headers=SW,
                       timeout=10)
    assert listed.status_code == 200, listed.text
    [enquiry] = listed.json()
    s47 = f"{strategy.url}/v1/s47-enquiries/{enquiry['s47_enquiry_id']}"
    _ok(httpx.post(f"{s47}/outcome", headers=SW, timeout=10, json={
        "outcome": "substantiated_continuing_risk", "next_step": "icpc",
        "rationale": "Synthetic: continuing risk."}))
    agreed = _ok(httpx.post(f"{s47}/agreement", headers=TM, timeout=10,
                            json={"agree": True, "rationale": "Synthetic: agreed."}))
    assert agreed["status"] == "concluded"
    assert clocks()["icpc"]["status"] == "running"  # the ICPC is next: its clock runs on
