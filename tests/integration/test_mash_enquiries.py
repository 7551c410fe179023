"""MASH enquiries as navigators and team managers use them, on the real PostgreSQL server:
a threshold decision in triage opens the episode, the agencies answer, the manager decides.
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
from sqlmodel import Session, select

from mash_enquiries.chasers import chase_due_requests
from mash_enquiries.handlers import intake_handlers, triage_handlers
from mash_enquiries.models import InformationRequest
from mash_enquiries.service import SERVICE as ENQUIRIES
from mashcore.clock import FrozenClock
from mashcore.consumer import is_transient
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from mashcore.service import ServiceContext
from mashcore.topics import ENQUIRIES_EPISODES
from tests.support import (
    auth,
    contact_received_event,
    eventually,
    service_context,
    services_on_postgres,
    synthetic_referral,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
AGENCIES = ("police", "health", "education", "probation")
NAVIGATOR = {a: auth("navigator", a, subject=f"nav-{a}", partnership=P) for a in AGENCIES}
ANONYMOUS_NAME = "Quentin Zebedee-Anonymous"


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "mash-enquiries"], NOW) as running:
        yield {**running, "enquiries": running["mash-enquiries"],
               "ctx": running["ctx"]["mash-enquiries"]}


FAMILY = {
    "parents_carers": [{"first_name": "Synthetic", "last_name": "Parent", "relationship": "mother",
                        "date_of_birth": "1990-02-03", "phone": "07700 900222"}],
    "siblings": [{"first_name": "Synthetic", "last_name": "Sibling",
                  "date_of_birth": "2018-05-06"}],
    "address": {"lines": ["1 Test Street"], "town": "Coventry", "postcode": "CV1 2AB"},
    "consent": {"consent_to_referral": "yes", "consent_to_information_sharing": "yes"},
}


RED_ENQUIRIES = {"level_code": "L4", "brag": "red", "route": "mash_enquiries",
                 "rationale": "Synthetic: urgent enquiries needed."}
AMBER_ENQUIRIES = {**RED_ENQUIRIES, "brag": "amber", "rationale": "Synthetic."}


async def decide_in_triage(system: dict[str, Any], reference: str,
                           decision: dict[str, str]) -> None:
    """The team manager's threshold decision, once the case has reached triage."""
    async def decided() -> bool:
        r = await system["triage"].post(f"/v1/cases/{reference}/threshold-decision",
                                        headers=TM, json=decision)
        return r.status_code == 200
    await eventually(decided, what=f"the decision on {reference}")


async def red_episode(system: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A referral decided Red for MASH enquiries; the episode as the manager sees it."""
    body = synthetic_referral(partnership=P, **{**FAMILY, **overrides})
    response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    reference = response.json()["case_reference"]

    await decide_in_triage(system, reference, RED_ENQUIRIES)

    async def opened() -> dict[str, Any] | None:
        listed = (await system["enquiries"].get("/v1/episodes", headers=TM)).json()
        return next((e for e in listed if e["case_reference"] == reference), None)
    summary = await eventually(opened, what="the MASH episode")
    episode: dict[str, Any] = (await system["enquiries"].get(
        f"/v1/episodes/{summary['episode_id']}", headers=TM)).json()
    return episode


def request_for(episode: dict[str, Any], agency: str) -> str:
    return next(str(a["request_id"]) for a in episode["answers"] if a["agency"] == agency)


async def answer(system: dict[str, Any], agency: str, request_id: str,
                 **body: Any) -> httpx.Response:
    return await system["enquiries"].post(
        f"/v1/requests/{request_id}/answer", headers=NAVIGATOR[agency],
        json={"known": True, "summary": f"Synthetic: {agency} record found.", **body})


async def episode_events(system: dict[str, Any], reference: str) -> list[tuple[str, Any]]:
    messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}",
                                       [ENQUIRIES_EPISODES], 10000)
    return [(str(m.header("ce_type")), json.loads(m.value)) for m in messages
            if m.key == reference.encode()]


async def test_a_red_decision_asks_each_agency_with_the_red_deadline_and_who_to_search_for(
    system: dict[str, Any],
) -> None:
    episode = await red_episode(system)
    assert sorted(a["agency"] for a in episode["answers"]) == sorted(AGENCIES)
    assert {a["deadline"] for a in episode["answers"]} == {(NOW + timedelta(hours=4)).isoformat()}
    relationships = [s["relationship"] for s in episode["subjects"]]
    assert relationships == ["child", "parent", "sibling"]
    assert episode["subjects"][0]["postcode"] == "CV1 2AB"
    police = (await system["enquiries"].get(f"/v1/requests/{request_for(episode, 'police')}",
                                            headers=NAVIGATOR["police"])).json()
    assert police["address"] == {"lines": ["1 Test Street"], "town": "Coventry",
                                 "postcode": "CV1 2AB"}
    queue = (await system["enquiries"].get("/v1/requests", headers=NAVIGATOR["police"])).json()
    assert all("subjects" not in entry and "address" not in entry for entry in queue)
    events = await eventually(lambda: _typed(system, episode["case_reference"],
                                             "mash.enquiries.information.requested.v1", 4),
                              what="four information requests")
    assert {e["agency"] for e in events} == set(AGENCIES)
    assert {e["sharing_basis"] for e in events} == {"consent"}


async def _typed(system: dict[str, Any], reference: str, event_type: str,
                 count: int) -> list[dict[str, Any]] | None:
    found = [d for t, d in await episode_events(system, reference) if t == event_type]
    return found if len(found) >= count else None


async def test_four_navigators_answer_and_the_manager_sees_them_side_by_side_then_decides(
    system: dict[str, Any],
) -> None:
    episode = await red_episode(system)
    system["clock"].advance(hours=1)
    for agency in AGENCIES:
        queue = (await system["enquiries"].get("/v1/requests",
                                               headers=NAVIGATOR[agency])).json()
        assert [r["agency"] for r in queue] == [agency]
        response = await answer(system, agency, queue[0]["request_id"],
                                risk_indicators=[f"{agency} indicator"],
                                relevant_dates=[{"date": "2026-10-01",
                                                 "description": "Synthetic incident"}])
        assert response.status_code == 200, response.text
        assert response.json()["answer"]["late"] is False
    seen = (await system["enquiries"].get(f"/v1/episodes/{episode['episode_id']}",
                                          headers=TM)).json()
    assert seen["requests"] == {"total": 4, "provided": 4, "declined": 0, "outstanding": 0}
    assert seen["ready_for_outcome"] is True
    assert {a["answer"]["summary"] for a in seen["answers"]} == {
        f"Synthetic: {a} record found." for a in AGENCIES}

    decided = await system["enquiries"].post(
        f"/v1/episodes/{episode['episode_id']}/outcome", headers=TM,
        json={"outcome": "strategy_discussion",
              "rationale": "Synthetic: police and health both report injuries."})
    assert decided.status_code == 200, decided.text
    [outcome] = await eventually(lambda: _typed(system, episode["case_reference"],
                                                "mash.enquiries.outcome.decided.v1", 1),
                                 what="the outcome event")
    assert outcome["outcome"] == "strategy_discussion"
    [completed] = await eventually(lambda: _typed(system, episode["case_reference"],
                                                  "mash.enquiries.enquiries.completed.v1", 1),
                                   what="enquiries completed")
    assert completed["closed_early"] is False
    assert completed["requests"]["outstanding"] == 0


async def test_a_police_navigator_cannot_see_or_answer_a_health_request(
    system: dict[str, Any],
) -> None:
    episode = await red_episode(system)
    health = request_for(episode, "health")
    assert (await system["enquiries"].get(f"/v1/requests/{health}",
                                          headers=NAVIGATOR["police"])).status_code == 404
    assert (await answer(system, "police", health)).status_code == 404
    police_view = (await system["enquiries"].get(
        f"/v1/requests/{request_for(episode, 'police')}", headers=NAVIGATOR["police"])).json()
    await answer(system, "health", health, summary="Synthetic: health secret answer.")
    again = (await system["enquiries"].get(
        f"/v1/requests/{request_for(episode, 'police')}", headers=NAVIGATOR["police"])).json()
    assert "health secret" not in json.dumps(again)
    assert police_view["agency"] == "police"
    # A navigator is not a manager: the episode with every answer is not theirs.
    assert (await system["enquiries"].get(f"/v1/episodes/{episode['episode_id']}",
                                          headers=NAVIGATOR["police"])).status_code == 403


async def test_a_late_answer_is_accepted_and_flagged(system: dict[str, Any]) -> None:
    episode = await red_episode(system)
    system["clock"].advance(hours=5)  # past Red's 4 hours
    late = await answer(system, "education", request_for(episode, "education"))
    assert late.status_code == 200
    assert late.json()["answer"]["late"] is True
    [provided] = await eventually(lambda: _typed(system, episode["case_reference"],
                                                 "mash.enquiries.information.provided.v1", 1),
                                  what="information provided")
    assert provided["late"] is True


async def test_an_outcome_without_a_rationale_is_a_422_and_one_before_the_answers_a_409(
    system: dict[str, Any],
) -> None:
    episode = await red_episode(system)
    path = f"/v1/episodes/{episode['episode_id']}/outcome"
    missing = await system["enquiries"].post(path, headers=TM, json={"outcome": "nfa"})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["rationale"]
    early = await system["enquiries"].post(path, headers=TM,
                                           json={"outcome": "nfa", "rationale": "Synthetic."})
    assert early.status_code == 409
    assert "close the enquiries early" in early.json()["detail"]


async def test_the_manager_closes_early_when_the_risk_is_clear(system: dict[str, Any]) -> None:
    episode = await red_episode(system)
    await answer(system, "police", request_for(episode, "police"))
    closed = await system["enquiries"].post(
        f"/v1/episodes/{episode['episode_id']}/close-early", headers=TM,
        json={"reason": "Synthetic: police confirm an arrest; strategy discussion now."})
    assert closed.status_code == 200, closed.text
    [completed] = await eventually(lambda: _typed(system, episode["case_reference"],
                                                  "mash.enquiries.enquiries.completed.v1", 1),
                                   what="enquiries completed")
    assert completed["closed_early"] is True
    assert completed["requests"] == {"total": 4, "provided": 1, "declined": 0,
                                     "outstanding": 3}
    refused = await answer(system, "health", request_for(episode, "health"))
    assert refused.status_code == 409
    # Withdrawn: out of the health navigator's queue, never chased, not counted overdue.
    queue = (await system["enquiries"].get("/v1/requests", headers=NAVIGATOR["health"])).json()
    assert episode["case_reference"] not in [r["case_reference"] for r in queue]
    system["clock"].advance(hours=6)
    assert await asyncio.to_thread(chase_due_requests, system["ctx"]) == 0
    report = (await system["enquiries"].get("/v1/performance", headers=TM)).json()
    health = next(r for r in report["agencies"] if r["agency"] == "health")
    assert (health["outstanding"], health["overdue_outstanding"], health["withdrawn"]) == (
        0, 0, 1)
    decided = await system["enquiries"].post(
        f"/v1/episodes/{episode['episode_id']}/outcome", headers=TM,
        json={"outcome": "strategy_discussion", "rationale": "Synthetic."})
    assert decided.status_code == 200


async def test_the_anonymous_referrer_never_appears_in_anything_a_navigator_reads(
    system: dict[str, Any],
) -> None:
    hub = auth("information_officer", "local_authority", subject="io-1", partnership=P)
    body = synthetic_referral(partnership=P, **FAMILY)
    body["referrer"] = {"name": ANONYMOUS_NAME, "role": "neighbour", "anonymous": True,
                        "phone": "07700 900999", "email": "quentin@example.org"}
    body["concern"] = {"summary": f"Synthetic: {ANONYMOUS_NAME} heard shouting next door."}
    response = await system["intake"].post("/v1/contacts", json=body, headers=hub)
    assert response.status_code == 202, response.text
    reference = response.json()["case_reference"]

    await decide_in_triage(system, reference, AMBER_ENQUIRIES)

    async def queue() -> list[dict[str, Any]] | None:
        listed = (await system["enquiries"].get("/v1/requests",
                                                headers=NAVIGATOR["police"])).json()
        return [r for r in listed if r["case_reference"] == reference] or None
    [request] = await eventually(queue, what="the police request")
    readable = json.dumps([request, (await system["enquiries"].get(
        f"/v1/requests/{request['request_id']}", headers=NAVIGATOR["police"])).json()])
    events = json.dumps(await episode_events(system, reference))
    for secret in (ANONYMOUS_NAME, "Quentin", "07700 900999", "quentin@example.org",
                   "neighbour"):
        assert secret not in readable
        assert secret not in events


async def test_a_reminder_goes_before_the_deadline_once_per_deadline(
    system: dict[str, Any],
) -> None:
    # The service's own timer shares the test's clock, so it may send a reminder before the
    # test does: count the events, not who sent them.
    episode = await red_episode(system, kind="referral")
    reference = episode["case_reference"]
    ctx: ServiceContext = system["ctx"]
    await answer(system, "police", request_for(episode, "police"))
    system["clock"].advance(hours=1)
    assert await asyncio.to_thread(chase_due_requests, ctx) == 0  # not yet half-way
    assert await _typed(system, reference, "mash.enquiries.request.chased.v1", 1) is None
    system["clock"].advance(hours=1, minutes=30)  # 2.5 of 4 hours: past half-way
    await asyncio.to_thread(chase_due_requests, ctx)
    await asyncio.to_thread(chase_due_requests, ctx)
    chased = await eventually(lambda: _typed(system, reference,
                                             "mash.enquiries.request.chased.v1", 3),
                              what="three reminders")
    assert sorted(c["agency"] for c in chased) == ["education", "health", "probation"]
    assert {(c["chased_by"], c["chase_number"]) for c in chased} == {(None, 1)}
    # A re-rating that moves the deadline gets a second reminder, numbered 2.
    await system["triage"].post(f"/v1/cases/{reference}/re-rating", headers=TM,
                                json={"brag": "amber", "reason": "Synthetic: calmer."})

    async def moved() -> bool:
        seen = (await system["enquiries"].get(f"/v1/episodes/{episode['episode_id']}",
                                              headers=TM)).json()
        return bool(seen["brag"] == "amber")
    await eventually(moved, what="the re-rating in MASH enquiries")
    system["clock"].advance(hours=20)
    await asyncio.to_thread(chase_due_requests, ctx)
    chased = await eventually(lambda: _typed(system, reference,
                                             "mash.enquiries.request.chased.v1", 6),
                              what="second reminders")
    assert sorted(c["chase_number"] for c in chased) == [1, 1, 1, 2, 2, 2]
    system["clock"].advance(hours=20)  # past every deadline: overdue, never chased again
    assert await asyncio.to_thread(chase_due_requests, ctx) == 0
    seen = (await system["enquiries"].get(f"/v1/episodes/{episode['episode_id']}",
                                          headers=TM)).json()
    assert seen["overdue_requests"] == 3


async def test_re_rating_amber_to_red_moves_every_outstanding_deadline(
    system: dict[str, Any],
) -> None:
    body = synthetic_referral(partnership=P, **FAMILY)
    reference = (await system["intake"].post("/v1/contacts", json=body,
                                             headers=SCHOOL)).json()["case_reference"]

    await decide_in_triage(system, reference, AMBER_ENQUIRIES)

    async def deadlines() -> set[str] | None:
        listed = (await system["enquiries"].get("/v1/requests?status=all",
                                                headers=NAVIGATOR["health"])).json()
        found = {r["deadline"] for r in listed if r["case_reference"] == reference}
        return found or None
    assert await eventually(deadlines, what="requests") == {
        (NOW + timedelta(hours=24)).isoformat()}
    system["clock"].advance(hours=1)
    await system["triage"].post(f"/v1/cases/{reference}/re-rating", headers=TM,
                                json={"brag": "red", "reason": "Synthetic: a weapon."})

    async def moved() -> set[str] | None:
        found = await deadlines()
        return found if found == {(NOW + timedelta(hours=5)).isoformat()} else None
    await eventually(moved, what="the Red deadline")


async def test_agency_performance_has_response_times_and_late_rates_but_no_people(
    system: dict[str, Any],
) -> None:
    episode = await red_episode(system)
    system["clock"].advance(minutes=30)
    await answer(system, "police", request_for(episode, "police"))
    system["clock"].advance(hours=5)
    await answer(system, "health", request_for(episode, "health"))
    report = (await system["enquiries"].get("/v1/performance", headers=TM)).json()
    rows = {row["agency"]: row for row in report["agencies"]}
    assert rows["police"]["median_response_minutes"] == 30.0
    assert rows["police"]["late_rate"] == 0.0
    assert rows["health"]["late_rate"] == 1.0
    assert rows["education"]["overdue_outstanding"] == 1
    text = json.dumps(report)
    assert episode["case_reference"] not in text and "Synthetic" not in text
    ops = auth("ops", "local_authority", subject="ops-1")
    assert (await system["enquiries"].get("/v1/performance", headers=ops)).status_code == 200
    assert (await system["enquiries"].get("/v1/performance",
                                          headers=NAVIGATOR["police"])).status_code == 403


async def test_a_navigator_declines_with_a_reason_and_the_manager_sees_it(
    system: dict[str, Any],
) -> None:
    episode = await red_episode(system)
    declined = await system["enquiries"].post(
        f"/v1/requests/{request_for(episode, 'probation')}/decline",
        headers=NAVIGATOR["probation"],
        json={"reason_code": "wrong_agency", "explanation": "Synthetic: not known here."})
    assert declined.status_code == 200, declined.text
    again = await answer(system, "probation", request_for(episode, "probation"))
    assert again.status_code == 409
    seen = (await system["enquiries"].get(f"/v1/episodes/{episode['episode_id']}",
                                          headers=TM)).json()
    probation = next(a for a in seen["answers"] if a["agency"] == "probation")
    assert probation["answer"]["reason_code"] == "wrong_agency"
    [event] = await eventually(lambda: _typed(system, episode["case_reference"],
                                              "mash.enquiries.request.declined.v1", 1),
                               what="the decline")
    assert event["declined_by"] == {"user_id": "nav-probation", "agency": "probation"}
    bad = await answer(system, "police", request_for(episode, "police"), known=False,
                       risk_indicators=["x"])
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["risk_indicators"]
    duplicate = await answer(system, "police", request_for(episode, "police"),
                             risk_indicators=["DV", " DV "])
    assert duplicate.status_code == 200, duplicate.text
    assert duplicate.json()["answer"]["risk_indicators"] == ["DV"]


async def test_another_partnerships_navigator_and_manager_find_nothing(
    system: dict[str, Any],
) -> None:
    episode = await red_episode(system)
    medway_police = auth("navigator", "police", subject="nav-medway", partnership="medway")
    medway_tm = auth("team_manager", "local_authority", subject="tm-medway",
                     partnership="medway")
    police = request_for(episode, "police")
    assert (await system["enquiries"].get(f"/v1/requests/{police}",
                                          headers=medway_police)).status_code == 404
    assert (await system["enquiries"].get("/v1/requests", headers=medway_police)).json() == []
    assert (await system["enquiries"].get(f"/v1/episodes/{episode['episode_id']}",
                                          headers=medway_tm)).status_code == 404


async def test_a_case_re_rated_into_and_out_of_mash_enquiries_opens_and_ends_the_episode(
    system: dict[str, Any],
) -> None:
    body = synthetic_referral(partnership=P, **FAMILY)
    reference = (await system["intake"].post("/v1/contacts", json=body,
                                             headers=SCHOOL)).json()["case_reference"]

    await decide_in_triage(system, reference, {"level_code": "L1", "brag": "blue",
                                               "route": "nfa", "rationale": "Synthetic."})
    async def re_rated() -> Any:
        # The referral's consent reaches triage on its own event, which may still be on
        # its way (under load): until then the route is refused (422), rightly.
        r = await system["triage"].post(
            f"/v1/cases/{reference}/re-rating", headers=TM,
            json={"brag": "red", "reason": "Synthetic: police report.",
                  "route": "mash_enquiries"})
        return r if r.status_code != 422 else None

    up = await eventually(re_rated, what=f"the re-rating of {reference}")
    assert up.status_code == 200, up.text

    async def opened() -> dict[str, Any] | None:
        listed = (await system["enquiries"].get("/v1/episodes", headers=TM)).json()
        return next((e for e in listed if e["case_reference"] == reference), None)
    episode = await eventually(opened, what="the episode opened by the re-rating")
    assert episode["brag"] == "red" and episode["requests"]["total"] == 4
    down = await system["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=TM,
        json={"brag": "green", "reason": "Synthetic: misunderstanding.",
              "route": "early_help"})
    assert down.status_code == 200, down.text
    [completed] = await eventually(lambda: _typed(system, reference,
                                                  "mash.enquiries.enquiries.completed.v1", 1),
                                   what="the episode ended")
    assert completed["closed_early"] is True
    assert "early_help" in completed["closed_early_reason"]
    assert (await system["enquiries"].get("/v1/requests",
                                          headers=NAVIGATOR["health"])).json() == []


def test_a_decision_before_its_contact_waits_for_it_instead_of_being_dead_lettered(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.sqlite'}")
    upgrade_to_head(engine, ENQUIRIES.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="mash-enquiries")
    reference = "MASH-2026-EARLY000"
    decision = Event(type="mash.triage.threshold.decided.v1", source="/mash/triage",
                     subject=reference, time=NOW, recordedtime=NOW, partnership="default",
                     data={"route": "mash_enquiries", "brag": "red",
                           "decided_at": NOW.isoformat(),
                           "decided_by": {"user_id": "tm-1", "role": "team_manager"},
                           "proceeding_without_consent": True,
                           "enquiries_due_at": (NOW + timedelta(hours=4)).isoformat()})
    with pytest.raises(Exception) as waiting, unit_of_work(engine) as uow:
        triage_handlers(ctx)[decision.type](decision, uow)
    assert is_transient(waiting.value)  # parked until the contact arrives, never dropped
    assert getattr(waiting.value, "waiting_for", None) == f"contact:{reference}"
    for event, handlers in ((contact_received_event(reference), intake_handlers),
                            (decision, triage_handlers)):
        with unit_of_work(engine) as uow:
            handlers(ctx)[event.type](event, uow)
            uow.commit()
    with Session(engine) as session:
        requests = session.exec(select(InformationRequest)).all()
    assert len(requests) == 4
    assert {r.sharing_basis for r in requests} == {"without_consent_safeguarding"}
    engine.dispose()
