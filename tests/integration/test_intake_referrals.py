"""Intake's front-door behaviour on the real PostgreSQL server: feedback, routing, limits."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS
from tests.support import auth, running_services, synthetic_referral

SEEDS = Path(__file__).parents[1] / "fixtures" / "seed_referrals"


@pytest.fixture
async def intake(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path,
                        rate_limit_burst=5, rate_limit_per_second=0.01)
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    async with running_services(settings, ["intake"], bus) as clients:
        yield {"client": clients["intake"], "bus": bus}
    await bus.stop()


async def events_of(bus: EmbeddedBus, case_reference: str) -> dict[str, Event]:
    """The events intake published about one case, by type (read back from the bus)."""
    async def published() -> list[Any]:
        return await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS], 1000)

    for _ in range(100):
        messages = [m for m in await published() if m.key == case_reference.encode()]
        if messages:
            return {e.type: e for e in map(Event.from_message, messages)}
        await asyncio.sleep(0.05)
    raise AssertionError("intake published nothing about the case")


async def test_the_seed_gp_referral_is_accepted_and_told_what_it_lacks(
    intake: dict[str, Any],
) -> None:
    seed = json.loads((SEEDS / "gp_surgery_pregnant_mother.json").read_text())
    response = await intake["client"].post("/v1/contacts", json=seed["referral"],
                                            headers=auth("referrer", seed["referrer_agency"]))
    assert response.status_code == 202
    quality = response.json()["quality"]
    assert quality["completeness_score"] < 50
    assert {"no_consent_answer", "missing_agency_section", "jargon_in_concern"} <= set(
        quality["missing_or_unclear"])
    assert all(f["message"] for f in quality["findings"])

    events = await events_of(intake["bus"], response.json()["case_reference"])
    accepted = events["mash.intake.referral.accepted.v1"].data
    assert accepted["quality"]["missing_or_unclear"] == quality["missing_or_unclear"]
    assert accepted["consent"]["referral"] == "unknown"
    assert "children" not in accepted  # triage has them from contact.received


async def test_a_police_domestic_abuse_referral_without_dash_requests_it(
    intake: dict[str, Any],
) -> None:
    body = synthetic_referral(domestic_abuse={"flag": True, "dash_completed": False})
    response = await intake["client"].post("/v1/contacts", json=body,
                                            headers=auth("referrer", "police"))
    events = await events_of(intake["bus"], response.json()["case_reference"])
    assert events["mash.intake.dash.requested.v1"].data["reason"] == "dash_missing"
    assessment = events["mash.intake.referral.accepted.v1"].data["domestic_abuse_assessment"]
    assert assessment["dash"] == "missing"


async def test_a_school_domestic_abuse_referral_requests_no_dash(intake: dict[str, Any]) -> None:
    body = synthetic_referral(domestic_abuse={"flag": True})
    response = await intake["client"].post("/v1/contacts", json=body,
                                            headers=auth("referrer", "education"))
    events = await events_of(intake["bus"], response.json()["case_reference"])
    assert "mash.intake.dash.requested.v1" not in events
    assert events["mash.intake.referral.accepted.v1"].data["flags"]["domestic_abuse"] is True


async def test_a_partner_system_over_its_rate_limit_is_told_when_to_retry(
    intake: dict[str, Any],
) -> None:
    headers = auth("referrer", "housing", subject="busy-system")
    statuses = [(await intake["client"].post("/v1/contacts", json=synthetic_referral(),
                                             headers=headers)) for _ in range(6)]
    assert [r.status_code for r in statuses] == [202] * 5 + [429]
    refused = statuses[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1
    other = await intake["client"].post("/v1/contacts", json=synthetic_referral(),
                                        headers=auth("referrer", "housing", subject="quiet"))
    assert other.status_code == 202
