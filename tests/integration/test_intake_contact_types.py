"""Consultations and transfers in at intake, on the real PostgreSQL server (synthetic people)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.schemas import default_registry
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS
from tests.support import auth, running_services

CONSULTATION_RECORDED = "mash.intake.consultation.recorded.v1"
TRANSFER_IN_RECEIVED = "mash.intake.transfer-in.received.v1"


@pytest.fixture
async def intake(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path)
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    async with running_services(settings, ["intake"], bus) as clients:
        yield {"client": clients["intake"], "bus": bus, "db": postgres_server.url(name)}
    await bus.stop()


async def events_keyed(bus: EmbeddedBus, key: str, count: int = 1) -> list[Event]:
    """The events intake published under one key, oldest first (read back from the bus)."""
    for _ in range(200):
        messages = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS], 1000)
        keyed = [m for m in messages if m.key == key.encode()]
        if len(keyed) >= count:
            return [Event.from_message(m) for m in keyed]
        await asyncio.sleep(0.05)
    raise AssertionError(f"intake published fewer than {count} events under {key}")


def audit_rows(db_url: str, resource_id: str) -> list[tuple[str, str, str]]:
    """(action, role, outcome) of each audit entry about one record."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT action, role, outcome FROM audit_log WHERE resource_id = :id "
                     "ORDER BY id"), {"id": resource_id}).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def consultation(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "professional": {"role": "Nursery manager"},
        "question": "Synthetic question: a child has come in twice with marks on the arm. "
                    "Should I refer?",
        "child": {"first_name": "Synthetic", "last_name": "Consultchild",
                  "date_of_birth": "2022-03-04"},
    }
    body.update(overrides)
    return body


ADVICE = {"advice_given": "Synthetic advice: keep a dated log, talk to the parents about "
                          "early help, and refer if the marks recur.",
          "outcome": "advised_early_help"}


def transfer(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from_authority": "Synthetic County Council",
        "children": [
            {"first_name": "Sam", "last_name": "Testchild", "date_of_birth": "2018-06-30"},
            {"last_name": "Testchild", "unborn": True, "expected_delivery_date": "2099-02-10"},
        ],
        "child_protection_plan": {"categories_of_abuse": ["neglect", "emotional"],
                                  "plan_started_on": "2025-08-14",
                                  "next_review_due_on": "2099-02-12"},
    }
    body.update(overrides)
    return body


LA = auth("referrer", "local_authority", subject="synthetic-county-system")
TM = auth("team_manager", "local_authority", subject="staff-0042")
IO = auth("information_officer", "local_authority", subject="staff-0007")


async def test_a_consultation_never_becomes_a_contact_and_its_advice_is_announced_by_its_own_id(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    nursery = auth("referrer", "early_years", subject="nursery-system")
    asked = await client.post("/v1/consultations", json=consultation(), headers=nursery)
    assert asked.status_code == 201
    consultation_id = asked.json()["consultation_id"]
    assert asked.headers["Location"] == f"/v1/consultations/{consultation_id}"
    assert asked.json()["status"] == "awaiting_advice"
    assert asked.json()["professional"] == {"agency": "early_years", "role": "Nursery manager"}
    assert "case_reference" not in asked.json()

    advised = await client.post(f"/v1/consultations/{consultation_id}/advice", json=ADVICE,
                                headers=IO)
    assert advised.status_code == 200
    assert advised.json()["advice"]["given_by"] == {"user_id": "staff-0007",
                                                    "role": "information_officer"}

    for headers in (nursery, TM, IO):
        contacts = await client.get("/v1/contacts", headers=headers)
        assert contacts.status_code == 200
        assert contacts.json() == []

    (event,) = await events_keyed(intake["bus"], consultation_id)
    assert event.type == CONSULTATION_RECORDED
    assert event.subject == consultation_id
    default_registry().validate(event.type, event.data)
    assert event.data["consultation_id"] == consultation_id
    assert event.data["outcome"] == "advised_early_help"
    assert event.data["professional"] == {"agency": "early_years", "role": "Nursery manager"}
    # Not a case: no case reference, and the child's details never leave the confidential log.
    assert "case_reference" not in event.data
    assert "Consultchild" not in json.dumps(event.data)

    seen = await client.get(f"/v1/consultations/{consultation_id}", headers=nursery)
    assert seen.status_code == 200
    assert seen.json()["status"] == "advice_recorded"
    assert seen.json()["advice"]["outcome"] == "advised_early_help"
    assert seen.json()["child"]["last_name"] == "Consultchild"


async def test_another_agency_is_told_a_consultation_does_not_exist_and_every_read_is_audited(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    school = auth("referrer", "education", subject="school-system")
    asked = await client.post("/v1/consultations", json=consultation(), headers=school)
    consultation_id = asked.json()["consultation_id"]

    police = await client.get(f"/v1/consultations/{consultation_id}",
                              headers=auth("referrer", "police"))
    assert police.status_code == 404
    assert police.headers["content-type"].startswith("application/problem+json")
    missing = await client.get(f"/v1/consultations/{uuid.uuid4()}", headers=school)
    assert missing.status_code == 404
    assert police.json()["title"] == missing.json()["title"]
    elsewhere = await client.get(f"/v1/consultations/{consultation_id}",
                                 headers=auth("team_manager", partnership="elsewhere"))
    assert elsewhere.status_code == 404
    assert (await client.get(f"/v1/consultations/{consultation_id}",
                             headers=school)).status_code == 200
    assert (await client.get(f"/v1/consultations/{consultation_id}",
                             headers=TM)).status_code == 200

    assert audit_rows(intake["db"], consultation_id) == [
        ("write", "referrer", "allowed"),
        ("read", "referrer", "refused"),  # it exists: refused, filed for its owner
        ("read", "team_manager", "refused"),
        ("read", "referrer", "allowed"),
        ("read", "team_manager", "allowed"),
    ]


async def test_hub_staff_record_a_phone_consultation_naming_the_professionals_agency(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    body = consultation(professional={"agency": "health", "role": "Health visitor"},
                        child=None, consulted_at="2026-01-05T10:15:00+00:00")
    asked = await client.post("/v1/consultations", json=body, headers=IO)
    assert asked.status_code == 201
    assert asked.json()["professional"]["agency"] == "health"
    assert asked.json()["consulted_at"].startswith("2026-01-05T10:15:00")
    consultation_id = asked.json()["consultation_id"]

    # The health system did not ask: a consultation the hub took by phone is the hub's.
    health = await client.get(f"/v1/consultations/{consultation_id}",
                              headers=auth("referrer", "health"))
    assert health.status_code == 404

    await client.post(f"/v1/consultations/{consultation_id}/advice",
                      json={**ADVICE, "outcome": "advised_to_refer"}, headers=TM)
    (event,) = await events_keyed(intake["bus"], consultation_id)
    default_registry().validate(event.type, event.data)
    assert event.data["consulted_at"].startswith("2026-01-05T10:15:00")
    assert event.data["given_by"] == {"user_id": "staff-0042", "role": "team_manager"}

    unnamed = await client.post("/v1/consultations", json=consultation(), headers=IO)
    assert unnamed.status_code == 422
    assert [e["field"] for e in unnamed.json()["errors"]] == ["professional.agency"]


async def test_advice_is_recorded_once_and_a_retried_request_is_answered_the_same(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    school = auth("referrer", "education", subject="school-system")
    key = {"Idempotency-Key": f"consult-{uuid.uuid4()}"}
    first = await client.post("/v1/consultations", json=consultation(),
                              headers={**school, **key})
    again = await client.post("/v1/consultations", json=consultation(),
                              headers={**school, **key})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["consultation_id"] == first.json()["consultation_id"]
    consultation_id = first.json()["consultation_id"]

    assert (await client.post(f"/v1/consultations/{consultation_id}/advice", json=ADVICE,
                              headers=IO)).status_code == 200
    twice = await client.post(f"/v1/consultations/{consultation_id}/advice", json=ADVICE,
                              headers=TM)
    assert twice.status_code == 409
    assert twice.headers["content-type"].startswith("application/problem+json")
    assert len(await events_keyed(intake["bus"], consultation_id)) == 1


async def test_a_permanent_transfer_in_is_announced_with_a_transfer_in_conference_required(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    received = await client.post("/v1/transfers-in", json=transfer(), headers=LA)
    assert received.status_code == 201
    transfer_id = received.json()["transfer_id"]
    reference = received.json()["case_reference"]
    assert re.fullmatch(r"MASH-[0-9]{4}-[A-Z0-9]{8}", reference)
    assert received.json()["status"] == "awaiting_decision"
    assert received.json()["decision"] is None
    assert received.headers["Location"] == f"/v1/transfers-in/{transfer_id}"

    decided = await client.post(f"/v1/transfers-in/{transfer_id}/decision",
                                json={"arrangement": "permanent",
                                      "rationale": "Synthetic: the family has settled here."},
                                headers=TM)
    assert decided.status_code == 200
    assert decided.json()["status"] == "decided"
    assert decided.json()["decision"]["transfer_in_conference_required"] is True

    (event,) = await events_keyed(intake["bus"], reference)
    assert event.type == TRANSFER_IN_RECEIVED
    default_registry().validate(event.type, event.data)
    data = event.data
    assert data["transfer_id"] == transfer_id
    assert data["case_reference"] == reference
    assert data["arrangement"] == "permanent"
    assert data["transfer_in_conference_required"] is True
    assert data["transfer_form"] == "SOC1233"
    assert data["decided_by"] == {"user_id": "staff-0042", "role": "team_manager"}
    assert data["from_authority"] == "Synthetic County Council"
    assert data["children"][1] == {"first_name": None, "last_name": "Testchild",
                                   "date_of_birth": None, "unborn": True,
                                   "expected_delivery_date": "2099-02-10"}
    assert data["child_protection_plan"]["categories_of_abuse"] == ["neglect", "emotional"]

    # It is a case reference, not a contact.
    assert (await client.get("/v1/contacts", headers=TM)).json() == []
    seen = await client.get(f"/v1/transfers-in/{transfer_id}", headers=LA)
    assert seen.status_code == 200
    other_authority = auth("referrer", "local_authority", subject="another-county-system")
    assert (await client.get(f"/v1/transfers-in/{transfer_id}",
                             headers=other_authority)).status_code == 404
    again = await client.post(f"/v1/transfers-in/{transfer_id}/decision",
                              json={"arrangement": "temporary"}, headers=TM)
    assert again.status_code == 409


async def test_a_temporary_transfer_in_needs_no_conference(intake: dict[str, Any]) -> None:
    client = intake["client"]
    received = await client.post("/v1/transfers-in", json=transfer(), headers=IO)
    assert received.status_code == 201
    decided = await client.post(f"/v1/transfers-in/{received.json()['transfer_id']}/decision",
                                json={"arrangement": "temporary"}, headers=TM)
    assert decided.status_code == 200
    (event,) = await events_keyed(intake["bus"], received.json()["case_reference"])
    default_registry().validate(event.type, event.data)
    assert event.data["arrangement"] == "temporary"
    assert event.data["transfer_in_conference_required"] is False


async def test_a_disputed_transfer_in_is_announced_and_decided_again_once_resolved(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    received = await client.post("/v1/transfers-in", json=transfer(), headers=LA)
    transfer_id = received.json()["transfer_id"]
    disputed = await client.post(f"/v1/transfers-in/{transfer_id}/decision",
                                 json={"arrangement": "disputed"}, headers=TM)
    assert disputed.json()["status"] == "disputed"
    resolved = await client.post(f"/v1/transfers-in/{transfer_id}/decision",
                                 json={"arrangement": "permanent"}, headers=TM)
    assert resolved.json()["status"] == "decided"
    events = await events_keyed(intake["bus"], received.json()["case_reference"], count=2)
    for event in events:
        default_registry().validate(event.type, event.data)
    assert [(e.data["arrangement"], e.data["transfer_in_conference_required"])
            for e in events] == [("disputed", False), ("permanent", True)]


async def test_invalid_input_is_a_422_problem_naming_each_faulty_field(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    school = auth("referrer", "education")

    bad_shape = transfer(
        children=[{"first_name": "Sam", "last_name": "Testchild"},
                  {"last_name": "Testchild", "unborn": True}],
        child_protection_plan={"categories_of_abuse": [], "plan_started_on": "2025-08-14"},
        favourite_colour="blue",
    )
    refused = await client.post("/v1/transfers-in", json=bad_shape, headers=LA)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"children[0]", "children[1]", "child_protection_plan.categories_of_abuse",
            "favourite_colour"} <= fields
    assert "Testchild" not in refused.text  # values are never echoed back

    future = transfer(children=[{"first_name": "Sam", "last_name": "Testchild",
                                 "date_of_birth": "2999-01-01"}],
                      child_protection_plan={"categories_of_abuse": ["physical"],
                                             "plan_started_on": "2999-01-01"})
    refused = await client.post("/v1/transfers-in", json=future, headers=LA)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == [
        "children[0].date_of_birth", "child_protection_plan.plan_started_on"]

    repeated = transfer(child_protection_plan={"categories_of_abuse": ["neglect", "neglect"],
                                               "plan_started_on": "2025-08-14"})
    refused = await client.post("/v1/transfers-in", json=repeated, headers=LA)
    assert [e["field"] for e in refused.json()["errors"]] == [
        "child_protection_plan.categories_of_abuse"]
    review_first = transfer(child_protection_plan={"categories_of_abuse": ["neglect"],
                                                   "plan_started_on": "2025-08-14",
                                                   "next_review_due_on": "2025-01-01"})
    refused = await client.post("/v1/transfers-in", json=review_first, headers=LA)
    assert [e["field"] for e in refused.json()["errors"]] == ["child_protection_plan"]
    assert "next_review_due_on" in refused.json()["errors"][0]["message"]

    refused = await client.post("/v1/consultations", json=consultation(question=""),
                                headers=school)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["question"]
    refused = await client.post(
        "/v1/consultations",
        json=consultation(professional={"agency": "police", "role": "DSL"}), headers=school)
    assert [e["field"] for e in refused.json()["errors"]] == ["professional.agency"]

    asked = await client.post("/v1/consultations", json=consultation(), headers=school)
    refused = await client.post(f"/v1/consultations/{asked.json()['consultation_id']}/advice",
                                json={"advice_given": "Synthetic.", "outcome": "referred"},
                                headers=IO)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["outcome"]
    received = await client.post("/v1/transfers-in", json=transfer(), headers=LA)
    refused = await client.post(f"/v1/transfers-in/{received.json()['transfer_id']}/decision",
                                json={"arrangement": "maybe"}, headers=TM)
    assert [e["field"] for e in refused.json()["errors"]] == ["arrangement"]


async def test_only_the_roles_the_front_door_allows_may_act(intake: dict[str, Any]) -> None:
    client = intake["client"]
    school = auth("referrer", "education")

    async def status(method: str, path: str, headers: dict[str, str],
                     body: dict[str, Any] | None = None) -> int:
        response = await client.request(method, path, json=body, headers=headers)
        if response.status_code == 403:
            assert response.headers["content-type"].startswith("application/problem+json")
        return response.status_code

    assert await status("POST", "/v1/transfers-in", school, transfer()) == 403
    assert await status("POST", "/v1/transfers-in", auth("navigator", "police"),
                        transfer()) == 403
    assert await status("POST", "/v1/consultations", auth("referrer", "public"),
                        consultation()) == 403
    assert await status("POST", "/v1/consultations", auth("social_worker"),
                        consultation()) == 403

    asked = await client.post("/v1/consultations", json=consultation(), headers=school)
    consultation_id = asked.json()["consultation_id"]
    assert await status("POST", f"/v1/consultations/{consultation_id}/advice", school,
                        ADVICE) == 403
    assert await status("GET", f"/v1/consultations/{consultation_id}",
                        auth("navigator", "education")) == 403

    received = await client.post("/v1/transfers-in", json=transfer(), headers=LA)
    transfer_id = received.json()["transfer_id"]
    for headers in (IO, LA):
        assert await status("POST", f"/v1/transfers-in/{transfer_id}/decision", headers,
                            {"arrangement": "permanent"}) == 403
    assert (await client.post("/v1/consultations", json=consultation())).status_code == 401


def outbox_types(db_url: str, key: str) -> list[str]:
    """The types of the events intake wrote to its outbox under one key."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT event_type FROM outbox WHERE key = :key "
                                           "ORDER BY id"), {"key": key}).all()
    finally:
        engine.dispose()
    return [r[0] for r in rows]


async def test_a_retried_transfer_in_and_decision_are_answered_the_same_and_announced_once(
    intake: dict[str, Any],
) -> None:
    client = intake["client"]
    key = {"Idempotency-Key": f"transfer-{uuid.uuid4()}"}
    first = await client.post("/v1/transfers-in", json=transfer(), headers={**LA, **key})
    again = await client.post("/v1/transfers-in", json=transfer(), headers={**LA, **key})
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json() == first.json()
    transfer_id, reference = first.json()["transfer_id"], first.json()["case_reference"]

    decision = {"arrangement": "permanent", "rationale": "Synthetic: settled here."}
    decision_key = {"Idempotency-Key": f"decision-{uuid.uuid4()}"}
    decided = await client.post(f"/v1/transfers-in/{transfer_id}/decision", json=decision,
                                headers={**TM, **decision_key})
    retried = await client.post(f"/v1/transfers-in/{transfer_id}/decision", json=decision,
                                headers={**TM, **decision_key})
    assert decided.status_code == 200 and "Location" not in decided.headers
    assert (retried.status_code, retried.headers["Idempotent-Replayed"]) == (200, "true")
    assert retried.json() == decided.json()
    assert outbox_types(intake["db"], reference) == [TRANSFER_IN_RECEIVED]
