"""Triage as its users work it: rating, the consent gate, threshold decisions, re-rating,
under each partnership's policy pack, on the real PostgreSQL server.

Referrals go in through intake's API and reach triage over the (embedded) bus, as in
``make run``; the events triage publishes are read back from the bus.
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
from sqlmodel import Session, col, select

from mashcore.audit import AuditEntry
from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS, TRIAGE_CASES
from tests.support import (
    auth,
    contact_received_event,
    eventually,
    running_services,
    service_context,
    services_on_postgres,
    synthetic_referral,
)
from triage.handlers import event_handlers
from triage.models import TriageCase
from triage.service import SERVICE as TRIAGE

# Tuesday 24 November 2026, 10:00 in England.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SEED_PARTNERSHIPS = ["cambridgeshire-peterborough", "coventry", "medway", "nottingham"]


def staff(partnership: str) -> dict[str, dict[str, str]]:
    return {
        "referrer": auth("referrer", "education", subject=f"school-{partnership}",
                         partnership=partnership),
        "police": auth("referrer", "police", subject=f"police-{partnership}",
                       partnership=partnership),
        "io": auth("information_officer", "local_authority", subject=f"io-{partnership}",
                   partnership=partnership),
        "tm": auth("team_manager", "local_authority", subject=f"tm-{partnership}",
                   partnership=partnership),
    }


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["intake", "triage"],
                                    NOW) as running:
        yield running


async def submit(system: dict[str, Any], partnership: str, **overrides: Any) -> str:
    """A school's referral posted to intake; its case reference once triage has it."""
    s = staff(partnership)
    response = await system["intake"].post(
        "/v1/contacts", json=synthetic_referral(partnership=partnership, **overrides),
        headers=s["referrer"])
    assert response.status_code == 202, response.text
    reference: str = response.json()["case_reference"]
    CONTACT_IDS[reference] = response.json()["contact_id"]
    triage: httpx.AsyncClient = system["triage"]

    async def opened_with_referral() -> bool:
        # Wait for referral.accepted too when it was a referral (the consent answers).
        case = await triage.get(f"/v1/cases/{reference}", headers=s["tm"])
        return case.status_code == 200 and (overrides.get("kind") == "contact"
                                            or case.json()["referral"] is not None)

    await eventually(opened_with_referral, what=f"case {reference} in triage")
    return reference


CONTACT_IDS: dict[str, str] = {}


async def triage_events(system: dict[str, Any], reference: str,
                        event_type: str) -> list[dict[str, Any]]:
    messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}",
                                       [TRIAGE_CASES], 10000)
    return [json.loads(m.value) for m in messages
            if m.key == reference.encode() and m.header("ce_type") == event_type]


async def eventually_event(system: dict[str, Any], reference: str,
                           event_type: str, count: int = 1) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = await triage_events(system, reference, event_type)
        return found if len(found) >= count else None
    return await eventually(check, what=f"{count} {event_type} for {reference}")


CONSENTED = {"consent": {"discussed_with_parents": True, "parents_aware": True,
                         "consent_to_referral": "yes",
                         "consent_to_information_sharing": "yes"}}
NO_CONSENT = {"consent": {"discussed_with_parents": False, "consent_to_referral": "not_sought",
                          "reasons_if_not": "Synthetic: not yet discussed with the family."}}
SUICIDAL = {"concern": {"summary": "Synthetic: the young person disclosed suicidal thoughts "
                        "and female genital mutilation was mentioned by a sibling."}}


async def rate(system: dict[str, Any], who: dict[str, str], reference: str,
               **body: Any) -> httpx.Response:
    return await system["triage"].post(f"/v1/cases/{reference}/rating", headers=who,
                                       json={"safeguarding_concerns": True, **body})


async def decide(system: dict[str, Any], who: dict[str, str], reference: str,
                 **body: Any) -> httpx.Response:
    return await system["triage"].post(f"/v1/cases/{reference}/threshold-decision",
                                       headers=who, json=body)


@pytest.mark.parametrize("partnership", SEED_PARTNERSHIPS)
async def test_each_seed_partnership_decides_the_same_referral_in_its_own_level_names(
    system: dict[str, Any], partnership: str,
) -> None:
    s = staff(partnership)
    reference = await submit(system, partnership, **CONSENTED,
                             **SUICIDAL)
    policy = (await system["triage"].get("/v1/policy", headers=s["tm"])).json()
    assert policy["partnership"] == partnership
    level_names = {level["code"]: level["name"] for level in policy["levels"]}

    assert (await rate(system, s["io"], reference, brag="amber")).status_code == 200
    case = (await system["triage"].get(f"/v1/cases/{reference}", headers=s["tm"])).json()
    support = case["decision_support"]
    assert support["level"] is not None, support
    assert support["level"]["name"] == level_names[support["level"]["code"]]
    assert support["matched_indicators"], "the suggestion must say which indicators matched"
    assert all(m["because"] for m in support["matched_indicators"])
    assert case["policy"]["partnership"] == partnership

    highest = policy["levels"][-1]["code"]
    response = await decide(system, s["tm"], reference, level_code=highest, brag="red",
                            route="mash_enquiries",
                            rationale="Synthetic: disclosure of suicidal thoughts.")
    assert response.status_code == 200, response.text
    [decided] = await eventually_event(system, reference, "mash.triage.threshold.decided.v1")
    assert decided["level_of_need"] == {"code": highest, "name": level_names[highest]}
    assert decided["suggested_level_of_need"] == support["level"]
    assert decided["route"] == "mash_enquiries"
    due = datetime.fromisoformat(decided["enquiries_due_at"])
    assert due - datetime.fromisoformat(decided["decided_at"]) == timedelta(hours=4)


async def test_the_same_level_code_means_different_levels_in_different_partnerships(
    system: dict[str, Any],
) -> None:
    names = {}
    for partnership in SEED_PARTNERSHIPS:
        policy = (await system["triage"].get(f"/v1/policy/{partnership}",
                                             headers=staff(partnership)["tm"])).json()
        names[partnership] = [level["name"] for level in policy["levels"]]
    assert len({tuple(n) for n in names.values()}) == 4, names


async def test_a_level_from_another_partnerships_pack_is_refused(system: dict[str, Any]) -> None:
    s = staff("medway")  # Medway has three levels: L4 is Coventry's
    reference = await submit(system, "medway", **CONSENTED)
    response = await decide(system, s["tm"], reference, level_code="L4", brag="red",
                            route="mash_enquiries", rationale="Synthetic.")
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "level_code"
    assert "L1, L2, L3" in error["message"]


async def test_consent_gate_returns_a_contact_to_its_referrer(system: dict[str, Any]) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    rated = await rate(system, s["io"], reference, brag="green", safeguarding_concerns=False)
    assert rated.json()["status"] == "awaiting_consent_gate"
    queue = (await system["triage"].get("/v1/queues/rating", headers=s["io"])).json()
    assert reference in [entry["case_reference"] for entry in queue]

    response = await system["triage"].post(
        f"/v1/cases/{reference}/consent-gate", headers=s["io"],
        json={"outcome": "returned_to_referrer", "rationale": "Synthetic: discuss with mum."})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "returned_to_referrer"
    [applied] = await eventually_event(system, reference, "mash.triage.consent-gate.applied.v1")
    assert applied["outcome"] == "returned_to_referrer"
    assert applied["consent_to_referral"] == "not_sought"
    assert applied["agreed_by"] == {"information_officer_id": "io-coventry",
                                    "team_manager_id": None}

    # Intake owns the referrer relationship: it marks the contact and announces the return.
    async def returned() -> list[dict[str, Any]]:
        messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}",
                                           [INTAKE_CONTACTS], 10000)
        return [json.loads(m.value) for m in messages if m.key == reference.encode()
                and m.header("ce_type") == "mash.intake.contact.returned-for-consent.v1"]
    [back] = await eventually(returned, what="contact.returned-for-consent")
    assert back["referrer"] == {"agency": "education", "role": "Designated safeguarding lead"}
    assert back["guidance"] == "Synthetic: discuss with mum."
    contact = await system["intake"].get(f"/v1/contacts/{CONTACT_IDS[reference]}",
                                         headers=s["referrer"])
    assert contact.json()["status"] == "returned_for_consent"


@pytest.mark.parametrize(("outcome", "closed_as"), [("early_help_hub", "forwarded_to_early_help"),
                                                     ("closed", "closed_at_gate")])
async def test_consent_gate_forwards_to_early_help_or_closes_once_a_manager_agrees(
    system: dict[str, Any], outcome: str, closed_as: str,
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    await rate(system, s["io"], reference, brag="green", safeguarding_concerns=False)
    proposed = await system["triage"].post(
        f"/v1/cases/{reference}/consent-gate", headers=s["io"],
        json={"outcome": outcome, "rationale": "Synthetic: family support need only."})
    assert proposed.json()["status"] == "awaiting_gate_agreement"
    assert await triage_events(system, reference, "mash.triage.consent-gate.applied.v1") == []
    # An information officer cannot agree their own proposal.
    refused = await system["triage"].post(f"/v1/cases/{reference}/consent-gate/agreement",
                                          headers=s["io"], json={"agree": True})
    assert refused.status_code == 403
    queue = (await system["triage"].get("/v1/queues/decisions", headers=s["tm"])).json()
    assert reference in [entry["case_reference"] for entry in queue]

    agreed = await system["triage"].post(f"/v1/cases/{reference}/consent-gate/agreement",
                                         headers=s["tm"], json={"agree": True})
    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["status"] == closed_as
    [applied] = await eventually_event(system, reference, "mash.triage.consent-gate.applied.v1")
    assert applied["outcome"] == outcome
    assert applied["agreed_by"] == {"information_officer_id": "io-coventry",
                                    "team_manager_id": "tm-coventry"}


async def test_a_manager_who_disagrees_with_the_gate_sends_it_to_a_threshold_decision(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    await rate(system, s["io"], reference, brag="green", safeguarding_concerns=False)
    await system["triage"].post(f"/v1/cases/{reference}/consent-gate", headers=s["io"],
                                json={"outcome": "closed", "rationale": "Synthetic."})
    response = await system["triage"].post(
        f"/v1/cases/{reference}/consent-gate/agreement", headers=s["tm"],
        json={"agree": False, "note": "Synthetic: I see a safeguarding concern."})
    assert response.json()["status"] == "awaiting_threshold_decision"


@pytest.mark.parametrize("brag", ["blue", "green"])
async def test_proceeding_without_consent_is_refused_for_blue_and_green(
    system: dict[str, Any], brag: str,
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    route = "early_help" if brag == "green" else "information_and_advice"
    response = await decide(
        system, s["tm"], reference, level_code="L2", brag=brag, route=route,
        rationale="Synthetic.", proceeding_without_consent=True,
        without_consent_reason="Synthetic: family would disengage.",
        without_consent_basis="consent_not_obtainable_in_time")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert "proceeding_without_consent" in fields
    assert "Amber or Red" in fields["proceeding_without_consent"]
    # The refused decision left nothing behind: the next, valid one is the only event.
    valid = await decide(system, s["tm"], reference, level_code="L1", brag="blue",
                         route="nfa", rationale="Synthetic: no further action.")
    assert valid.status_code == 200, valid.text
    events = await eventually_event(system, reference, "mash.triage.threshold.decided.v1")
    assert [(e["brag"], e["route"]) for e in events] == [("blue", "nfa")]


async def test_early_help_without_consent_is_refused_and_says_why(system: dict[str, Any]) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    response = await decide(system, s["tm"], reference, level_code="L2", brag="green",
                            route="early_help", rationale="Synthetic.")
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "consent_to_referral"


async def test_amber_without_consent_proceeds_with_a_reason_and_a_revisit_date(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    response = await decide(
        system, s["tm"], reference, level_code="L4", brag="amber", route="mash_enquiries",
        rationale="Synthetic: injuries unexplained.", proceeding_without_consent=True,
        without_consent_reason="Synthetic: asking would put the child at risk.",
        without_consent_basis="seeking_consent_would_risk_significant_harm")
    assert response.status_code == 200, response.text
    [decided] = await eventually_event(system, reference, "mash.triage.threshold.decided.v1")
    assert decided["proceeding_without_consent"] is True
    # Coventry revisits consent within 5 working days: Tuesday 24 → end of Tuesday 1 Dec.
    assert decided["consent_revisit_due_at"] == "2026-12-02T00:00:00+00:00"
    revisits = (await system["triage"].get("/v1/queues/consent-revisits",
                                           headers=s["tm"])).json()
    assert [e["case_reference"] for e in revisits] == [reference]

    system["clock"].advance(days=8)
    review = await system["triage"].post(
        f"/v1/cases/{reference}/consent-review", headers=s["tm"],
        json={"consent_to_referral": "refused", "reason": "Synthetic: father refused again.",
              "basis": "consent_refused_safeguarding_concern"})
    assert review.status_code == 200, review.text
    [override] = await eventually_event(system, reference,
                                        "mash.triage.consent-override.recorded.v1")
    assert override["consent_position"] == "refused"
    assert override["supersedes_override_id"] is None
    given = await system["triage"].post(
        f"/v1/cases/{reference}/consent-review", headers=s["tm"],
        json={"consent_to_referral": "given", "reason": "Synthetic: mother agreed."})
    assert given.json()["decision"]["proceeding_without_consent"] is False
    assert (await system["triage"].get("/v1/queues/consent-revisits",
                                       headers=s["tm"])).json() == []


async def test_a_decision_without_a_rationale_is_a_422_naming_it(system: dict[str, Any]) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **CONSENTED)
    for body in ({}, {"rationale": "   "}):
        response = await decide(system, s["tm"], reference, level_code="L4", brag="red",
                                route="mash_enquiries", **body)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["rationale"]


async def test_re_rating_amber_to_red_is_an_event_and_moves_the_enquiries_deadline(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **CONSENTED)
    await rate(system, s["io"], reference, brag="amber")
    await decide(system, s["tm"], reference, level_code="L4", brag="amber",
                 route="mash_enquiries", rationale="Synthetic: needs MASH enquiries.")
    system["clock"].advance(hours=2)
    # Only a team manager re-rates after the decision.
    assert (await system["triage"].post(f"/v1/cases/{reference}/re-rating", headers=s["io"],
                                        json={"brag": "red", "reason": "x"})).status_code == 403
    response = await system["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=s["tm"],
        json={"brag": "red", "reason": "Synthetic: police report a weapon in the home."})
    assert response.status_code == 200, response.text
    [re_rated] = await eventually_event(system, reference, "mash.triage.case.re-rated.v1")
    assert (re_rated["previous_brag"], re_rated["new_brag"]) == ("amber", "red")
    assert re_rated["re_rated_by"] == {"user_id": "tm-coventry", "role": "team_manager"}
    # Red: 4 hours from the re-rating, sooner than Amber's 24 hours from the decision.
    assert re_rated["enquiries_due_at"] == (NOW + timedelta(hours=6)).isoformat()
    history = response.json()["history"]
    assert [(h["kind"], h["brag"]) for h in history] == [
        ("initial", "amber"), ("threshold", "amber"), ("re_rating", "red")]
    # Deciding again is refused: re-rating is the way.
    again = await decide(system, s["tm"], reference, level_code="L4", brag="red",
                         route="mash_enquiries", rationale="Synthetic.")
    assert again.status_code == 409


async def test_queues_are_by_deadline_filtered_by_brag_and_need_to_know(
    system: dict[str, Any],
) -> None:
    s = staff("nottingham")
    first = await submit(system, "nottingham", **CONSENTED)
    system["clock"].advance(days=1)
    second = await submit(system, "nottingham", **CONSENTED)
    await rate(system, s["io"], first, brag="green")
    await rate(system, s["io"], second, brag="red")
    decisions = (await system["triage"].get("/v1/queues/decisions", headers=s["tm"])).json()
    refs = [e["case_reference"] for e in decisions]
    assert refs.index(first) < refs.index(second)  # the earlier deadline first
    reds = (await system["triage"].get("/v1/queues/decisions?brag=red", headers=s["tm"])).json()
    assert [e["case_reference"] for e in reds] == [second]
    assert all("children" not in e for e in decisions)  # no child's details in a queue
    # Another partnership's queue is refused; its cases are not found.
    other = staff("medway")
    assert (await system["triage"].get("/v1/queues/decisions?partnership=nottingham",
                                       headers=other["tm"])).status_code == 403
    assert (await system["triage"].get(f"/v1/cases/{first}",
                                       headers=other["tm"])).status_code == 404
    # A referrer is not hub staff.
    assert (await system["triage"].get("/v1/queues/decisions",
                                       headers=s["referrer"])).status_code == 403


async def test_a_locked_down_case_is_seen_only_by_its_named_users_and_reads_are_audited(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **CONSENTED,
                             staff_linked=True,
                             staff_link_details="Synthetic: the child's mother works here.")
    contact_id = CONTACT_IDS[reference]
    # Before lock-down a staff-linked case is for team managers only.
    assert (await system["triage"].get(f"/v1/cases/{reference}",
                                       headers=s["io"])).status_code == 404
    named = auth("team_manager", "local_authority", subject="tm-named", partnership="coventry")
    locked = await system["intake"].post(
        f"/v1/contacts/{contact_id}/lock-down", headers=s["tm"],
        json={"allowed_user_ids": ["tm-named"], "reason_code": "staff_member_family",
              "head_of_service_consulted": {"user_id": "hos-1",
                                            "consulted_at": NOW.isoformat()}})
    assert locked.status_code in (200, 201), locked.text

    async def refused_to_other_manager() -> bool:
        r = await system["triage"].get(f"/v1/cases/{reference}", headers=s["tm"])
        return r.status_code == 404
    await eventually(refused_to_other_manager, what="the lock-down reaching triage")
    assert (await system["triage"].get(f"/v1/cases/{reference}",
                                       headers=named)).status_code == 200
    # Not even its existence: the other manager's queue leaves it out; the named one's has it.
    queue = (await system["triage"].get("/v1/queues/rating", headers=s["tm"])).json()
    assert reference not in [e["case_reference"] for e in queue]
    queue = (await system["triage"].get("/v1/queues/rating", headers=named)).json()
    assert reference in [e["case_reference"] for e in queue]

    engine = make_engine(system["db_url"]["triage"])
    with Session(engine) as session:
        rows = session.exec(select(AuditEntry)
                            .where(AuditEntry.resource_id == reference)
                            .order_by(col(AuditEntry.id))).all()
    engine.dispose()
    outcomes = {(row.actor, row.outcome) for row in rows}
    assert ("tm-named", "allowed") in outcomes
    assert ("tm-coventry", "refused") in outcomes  # it exists: refused, filed for its owner
    assert ("io-coventry", "refused") in outcomes


async def test_calibration_counts_confirmed_and_overridden_suggestions_without_cases(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    fgm = {"concern": {"summary": "Synthetic: a sibling says FGM is planned abroad."}}
    first = await submit(system, "coventry", **CONSENTED, **fgm)
    second = await submit(system, "coventry", **CONSENTED, **fgm)
    for reference, brag in ((first, "amber"), (second, "red")):
        response = await decide(system, s["tm"], reference, level_code="L4", brag=brag,
                                route="mash_enquiries", rationale="Synthetic.")
        assert response.status_code == 200, response.text
    assert (await system["triage"].get("/v1/calibration",
                                       headers=s["io"])).status_code == 403
    report = (await system["triage"].get("/v1/calibration", headers=s["tm"])).json()
    [version] = report["versions"]
    assert version["pack_version"] == report["current_pack_version"]
    assert (version["decisions"], version["level_confirmed"], version["brag_confirmed"]) == (
        2, 2, 1)
    assert {(p["suggested_brag"], p["decided_brag"], p["count"]) for p in version["pairs"]} == {
        ("amber", "amber", 1), ("amber", "red", 1)}
    assert first not in json.dumps(report) and second not in json.dumps(report)


async def test_two_managers_deciding_at_once_one_wins_and_one_event_is_published(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    other_tm = auth("team_manager", "local_authority", subject="tm-coventry-2",
                    partnership="coventry")
    reference = await submit(system, "coventry", **CONSENTED)
    responses = await asyncio.gather(
        decide(system, s["tm"], reference, level_code="L4", brag="amber",
               route="mash_enquiries", rationale="Synthetic: first manager."),
        decide(system, other_tm, reference, level_code="L2", brag="green",
               route="early_help", rationale="Synthetic: second manager."))
    assert sorted(r.status_code for r in responses) == [200, 409]
    winner = next(r for r in responses if r.status_code == 200).json()
    await system["triage"].post(f"/v1/cases/{reference}/re-rating", headers=s["tm"],
                                json={"brag": "red", "reason": "Synthetic: a later event.",
                                      "route": "mash_enquiries"})
    await eventually_event(system, reference, "mash.triage.case.re-rated.v1")
    decided = await triage_events(system, reference, "mash.triage.threshold.decided.v1")
    assert [e["rationale"] for e in decided] == [winner["decision"]["rationale"]]


async def test_a_staff_linked_contact_is_for_team_managers_even_before_any_referral(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", kind="contact", staff_linked=True,
                             staff_link_details="Synthetic: the father works in the hub.")
    assert (await system["triage"].get(f"/v1/cases/{reference}",
                                       headers=s["io"])).status_code == 404
    queue = (await system["triage"].get("/v1/queues/rating", headers=s["io"])).json()
    assert reference not in [e["case_reference"] for e in queue]
    case = (await system["triage"].get(f"/v1/cases/{reference}", headers=s["tm"])).json()
    assert case["restricted"] is True


async def test_amber_or_red_without_a_safeguarding_concern_cannot_reach_the_gate(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    refused = await rate(system, s["io"], reference, brag="red", safeguarding_concerns=False)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["safeguarding_concerns"]
    # Rated Green at the gate, then re-rated Red: it goes to a manager, not out of the gate.
    await rate(system, s["io"], reference, brag="green", safeguarding_concerns=False)
    response = await system["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=s["io"],
        json={"brag": "red", "reason": "Synthetic: police now report a disclosure."})
    assert response.json()["status"] == "awaiting_threshold_decision"
    gate = await system["triage"].post(f"/v1/cases/{reference}/consent-gate", headers=s["io"],
                                       json={"outcome": "closed", "rationale": "Synthetic."})
    assert gate.status_code == 409


async def test_a_public_referral_is_never_returned_to_the_referrer(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT,
                             referrer={"name": "A Neighbour", "role": "member of the public",
                                       "anonymous": True, "phone": "07700 900111"})
    await rate(system, s["io"], reference, brag="green", safeguarding_concerns=False)
    response = await system["triage"].post(
        f"/v1/cases/{reference}/consent-gate", headers=s["io"],
        json={"outcome": "returned_to_referrer", "rationale": "Synthetic."})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "outcome"


async def test_the_proposer_cannot_agree_their_own_gate_exit_and_refusals_are_audited(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **NO_CONSENT)
    await rate(system, s["io"], reference, brag="green", safeguarding_concerns=False)
    # A team manager cannot choose the exit: the information officer proposes.
    assert (await system["triage"].post(
        f"/v1/cases/{reference}/consent-gate", headers=s["tm"],
        json={"outcome": "closed", "rationale": "Synthetic."})).status_code == 403
    await system["triage"].post(f"/v1/cases/{reference}/consent-gate", headers=s["io"],
                                json={"outcome": "closed", "rationale": "Synthetic."})
    again = await decide(system, s["tm"], reference, level_code="L2", brag="green",
                         route="early_help", rationale="Synthetic.")
    assert again.status_code == 409  # awaiting the gate agreement, not a decision
    engine = make_engine(system["db_url"]["triage"])
    with Session(engine) as session:
        outcomes = [(row.actor, row.action, row.outcome) for row in session.exec(
            select(AuditEntry).where(AuditEntry.resource_id == reference)
            .order_by(col(AuditEntry.id)))]
    engine.dispose()
    assert ("tm-coventry", "write", "refused") in outcomes
    assert ("io-coventry", "write", "allowed") in outcomes


async def test_re_rating_a_decided_case_across_routes_starts_and_stops_the_enquiries_clock(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **CONSENTED)
    await decide(system, s["tm"], reference, level_code="L1", brag="blue", route="nfa",
                 rationale="Synthetic: nothing to do.")
    missing = await system["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=s["tm"],
        json={"brag": "red", "reason": "Synthetic: new police information."})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["route"]
    system["clock"].advance(hours=1)
    up = await system["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=s["tm"],
        json={"brag": "red", "reason": "Synthetic: new police information.",
              "route": "mash_enquiries"})
    assert up.status_code == 200, up.text
    [event] = await eventually_event(system, reference, "mash.triage.case.re-rated.v1")
    assert event["new_route"] == "mash_enquiries"
    assert event["enquiries_due_at"] == (NOW + timedelta(hours=5)).isoformat()
    # The same route given again is no change of route: nothing downstream starts again.
    same = await system["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=s["tm"],
        json={"brag": "amber", "reason": "Synthetic: less immediate.",
              "route": "mash_enquiries"})
    assert same.status_code == 200, same.text
    events = await eventually_event(system, reference, "mash.triage.case.re-rated.v1", 2)
    assert events[1].get("new_route") is None  # absent: the route did not change
    down = await system["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=s["tm"],
        json={"brag": "blue", "reason": "Synthetic: it was a misunderstanding.",
              "route": "information_and_advice"})
    assert down.status_code == 200, down.text
    events = await eventually_event(system, reference, "mash.triage.case.re-rated.v1", 3)
    assert events[2]["enquiries_due_at"] is None
    assert down.json()["route"] == "information_and_advice"


async def test_consent_withdrawn_after_a_decision_needs_an_override_and_given_ends_it(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **CONSENTED)
    await decide(system, s["tm"], reference, level_code="L4", brag="amber",
                 route="mash_enquiries", rationale="Synthetic.")
    no_basis = await system["triage"].post(
        f"/v1/cases/{reference}/consent-review", headers=s["tm"],
        json={"consent_to_referral": "withdrawn", "reason": "Synthetic: father withdrew."})
    assert [e["field"] for e in no_basis.json()["errors"]] == ["basis"]
    withdrawn = await system["triage"].post(
        f"/v1/cases/{reference}/consent-review", headers=s["tm"],
        json={"consent_to_referral": "withdrawn", "reason": "Synthetic: father withdrew.",
              "basis": "consent_refused_safeguarding_concern"})
    assert withdrawn.status_code == 200, withdrawn.text
    [override] = await eventually_event(system, reference,
                                        "mash.triage.consent-override.recorded.v1")
    assert override["consent_position"] == "withdrawn"
    given = await system["triage"].post(
        f"/v1/cases/{reference}/consent-review", headers=s["tm"],
        json={"consent_to_referral": "given", "reason": "Synthetic: agreed after a visit."})
    assert given.status_code == 200, given.text
    [obtained] = await eventually_event(system, reference, "mash.triage.consent.obtained.v1")
    assert obtained["ends_override_id"] == override["override_id"]


@pytest.fixture
async def sqlite_system(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The same two services on SQLite, the `make run` default (no row locks there)."""
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    async with running_services(Settings(data_dir=tmp_path), ["intake", "triage"], bus,
                                FrozenClock(NOW)) as clients:
        yield {"bus": bus, **clients}
    await bus.stop()


async def test_on_sqlite_too_two_concurrent_commands_on_one_case_let_exactly_one_win(
    sqlite_system: dict[str, Any],
) -> None:
    s = staff("coventry")
    other_tm = auth("team_manager", "local_authority", subject="tm-coventry-2",
                    partnership="coventry")
    for _ in range(5):
        reference = await submit(sqlite_system, "coventry", **CONSENTED)
        responses = await asyncio.gather(
            decide(sqlite_system, s["tm"], reference, level_code="L4", brag="amber",
                   route="mash_enquiries", rationale="Synthetic: first manager."),
            decide(sqlite_system, other_tm, reference, level_code="L2", brag="green",
                   route="early_help", rationale="Synthetic: second manager."),
            rate(sqlite_system, s["io"], reference, brag="green"))
        assert sorted(r.status_code for r in responses).count(200) >= 1
        decided = [r for r in responses[:2] if r.status_code == 200]
        assert len(decided) <= 1, [r.text for r in responses]
        final = (await sqlite_system["triage"].get(f"/v1/cases/{reference}",
                                                   headers=s["tm"])).json()
        if decided:
            assert final["status"] == "decided"
            assert final["decision"]["rationale"] == decided[0].json()["decision"]["rationale"]


def test_a_contact_forwarded_to_an_open_cases_worker_closes_its_triage_case(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'triage.sqlite'}")
    upgrade_to_head(engine, TRIAGE.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW))
    handle = event_handlers(ctx)
    reference = "MASH-2026-F0RWARD1"
    opened = contact_received_event(reference)
    forwarded = Event(
        type="mash.intake.contact.forwarded-to-allocated-worker.v1", source="/mash/intake",
        subject=reference, time=NOW, recordedtime=NOW, partnership="default",
        data={"contact_id": opened.data["contact_id"], "case_reference": reference,
              "forwarded_at": NOW.isoformat(),
              "forwarded_by": {"user_id": "io-1", "role": "information_officer"},
              "reason": "open_case", "allocated_worker_id": "sw-1",
              "recorded_as": "case_note"})
    for event in (opened, forwarded):
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()
    with Session(engine) as session:
        case = session.get(TriageCase, reference)
        assert case is not None
        assert case.status == "forwarded_to_allocated_worker"
        assert case.closed_at == NOW
    engine.dispose()
