"""Intake's routing rules on the real PostgreSQL server: repeats, young parents, lock-down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS
from tests.support import auth, eventually, running_services, synthetic_referral

SCHOOL = auth("referrer", "education", subject="school-mis")
POLICE = auth("referrer", "police", subject="police-niche")
OFFICER = auth("information_officer", "local-authority", subject="io-7")
MANAGER = auth("team_manager", "local-authority", subject="tm-3")


@pytest.fixture
async def intake(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path)
    async with running_services(settings, ["intake"], bus) as clients:
        yield {"client": clients["intake"], "bus": bus}
    await bus.stop()


def child(first: str, last: str, born: str) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "date_of_birth": born}


async def submit(intake: dict[str, Any], body: dict[str, Any],
                 headers: dict[str, str]) -> dict[str, Any]:
    response = await intake["client"].post("/v1/contacts", json=body, headers=headers)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


async def published(bus: EmbeddedBus, event_type: str) -> list[Event]:
    """Events of a type on intake's topic, once the relay has published at least one."""
    async def of_type() -> list[Event]:
        messages = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS], 10_000)
        events = [Event.from_message(m) for m in messages]
        return [e for e in events if e.type == event_type]

    return await eventually(of_type, what=f"{event_type} on the bus")


async def test_the_same_child_referred_by_two_agencies_is_linked_not_dropped(
    intake: dict[str, Any],
) -> None:
    address = {"lines": ["1 Example Street"], "postcode": "CV1 1AA"}
    first = await submit(intake, synthetic_referral(
        children=[child("Mohammed", "Testfamily", "2016-03-07")], address=address), SCHOOL)
    second = await submit(intake, synthetic_referral(
        children=[child("Muhammad", "Test-family", "2016-03-07")], address=address), POLICE)
    assert first["case_reference"] != second["case_reference"]

    hub_view = (await intake["client"].get(f"/v1/contacts/{second['contact_id']}",
                                           headers=OFFICER)).json()
    assert [(link["contact_id"], link["reason"]) for link in hub_view["linked_contacts"]] == [
        (first["contact_id"], "repeat")]
    police_view = (await intake["client"].get(f"/v1/contacts/{second['contact_id']}",
                                              headers=POLICE)).json()
    assert police_view["linked_contacts"] == []  # never another agency's contact


async def test_twins_are_not_linked_as_the_same_child(intake: dict[str, Any]) -> None:
    await submit(intake, synthetic_referral(children=[child("Amelia", "Twin", "2018-01-01")]),
                 SCHOOL)
    second = await submit(intake, synthetic_referral(
        children=[child("Olivia", "Twin", "2018-01-01")]), SCHOOL)
    view = (await intake["client"].get(f"/v1/contacts/{second['contact_id']}",
                                       headers=OFFICER)).json()
    assert view["linked_contacts"] == []


async def test_a_parent_under_18_gets_a_linked_referral_of_their_own(
    intake: dict[str, Any],
) -> None:
    body = synthetic_referral(parents_carers=[{
        "first_name": "Young", "last_name": "Testparent", "relationship": "mother",
        "date_of_birth": "2010-05-05", "phone": "07700 900123"}])
    accepted = await submit(intake, body, SCHOOL)
    [linked] = await published(intake["bus"], "mash.intake.linked-referral.created.v1")
    assert linked.data["linked_to_case_reference"] == accepted["case_reference"]
    assert linked.data["subject"]["last_name"] == "Testparent"
    opened = [e for e in await published(intake["bus"], "mash.intake.contact.received.v1")
              if e.subject == linked.subject]
    assert len(opened) == 1  # triage opens a case for the young parent too


async def test_a_staff_linked_record_is_readable_only_by_the_named_users_once_locked_down(
    intake: dict[str, Any],
) -> None:
    accepted = await submit(intake, synthetic_referral(staff_linked=True), SCHOOL)
    path = f"/v1/contacts/{accepted['contact_id']}"
    assert (await intake["client"].get(path, headers=OFFICER)).status_code == 404
    assert (await intake["client"].get(path, headers=MANAGER)).status_code == 200

    missing_head = await intake["client"].post(f"{path}/lock-down", headers=MANAGER, json={
        "allowed_user_ids": ["tm-3"], "reason_code": "staff_member_family"})
    assert missing_head.status_code == 422
    locked = await intake["client"].post(f"{path}/lock-down", headers=MANAGER, json={
        "allowed_user_ids": ["tm-3", "io-9"], "reason_code": "staff_member_family",
        "head_of_service_consulted": {"user_id": "hos-1",
                                      "consulted_at": "2026-11-23T09:00:00Z"}})
    assert locked.status_code == 200

    named_officer = auth("information_officer", "local-authority", subject="io-9")
    other_manager = auth("team_manager", "local-authority", subject="tm-8")
    assert (await intake["client"].get(path, headers=named_officer)).status_code == 200
    assert (await intake["client"].get(path, headers=other_manager)).status_code == 404
    assert (await intake["client"].get(path, headers=SCHOOL)).status_code == 200  # its own
    [event] = await published(intake["bus"], "mash.intake.record.locked-down.v1")
    assert event.data["allowed_user_ids"] == ["tm-3", "io-9"]


async def test_control_characters_and_a_foreign_partnership_are_refused(
    intake: dict[str, Any],
) -> None:
    body = synthetic_referral()
    body["concern"]["summary"] = "text with a NUL\x00 inside"
    response = await intake["client"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["concern.summary"]

    coventry_school = auth("referrer", "education", partnership="coventry")
    foreign = await intake["client"].post("/v1/contacts", headers=coventry_school,
                                          json=synthetic_referral(partnership="medway"))
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "partnership"


async def test_information_about_an_open_case_is_forwarded_to_its_allocated_worker(
    intake: dict[str, Any],
) -> None:
    case_system = auth("service", "local-authority", subject="case-management-system")
    loaded = await intake["client"].put("/v1/open-cases/MASH-2025-OPENCASE", headers=case_system,
                                        json={"child": {"first_name": "Casey",
                                                        "last_name": "Openfile",
                                                        "date_of_birth": "2014-02-02"},
                                              "status": "open", "allocated_worker_id": "sw-12",
                                              "allocated_manager_id": "tm-3",
                                              "opened_on": "2025-06-01"})
    assert loaded.status_code in (200, 201), loaded.text
    accepted = await submit(intake, synthetic_referral(
        children=[child("Casey", "Openfile", "2014-02-02")]), SCHOOL)
    path = f"/v1/contacts/{accepted['contact_id']}"

    hub_view = (await intake["client"].get(path, headers=OFFICER)).json()
    assert (hub_view["status"], hub_view["open_case_reference"]) == (
        "open_case_found", "MASH-2025-OPENCASE")
    school_view = (await intake["client"].get(path, headers=SCHOOL)).json()
    assert (school_view["status"], school_view["open_case_reference"]) == ("received", None)

    forwarded = await intake["client"].post(f"{path}/forward", headers=OFFICER)
    assert forwarded.json()["allocated_worker_id"] == "sw-12"
    again = await intake["client"].post(f"{path}/forward", headers=OFFICER)
    assert again.json()["status"] == "forwarded_to_allocated_worker"
    [event] = await published(
        intake["bus"], "mash.intake.contact.forwarded-to-allocated-worker.v1")
    assert (event.data["reason"], event.data["recorded_as"]) == ("open_case", "case_note")
    assert event.data["existing_case_reference"] == "MASH-2025-OPENCASE"


async def test_a_contact_with_no_open_case_cannot_be_forwarded(intake: dict[str, Any]) -> None:
    accepted = await submit(intake, synthetic_referral(), SCHOOL)
    response = await intake["client"].post(f"/v1/contacts/{accepted['contact_id']}/forward",
                                           headers=OFFICER)
    assert response.status_code == 409


async def test_an_anonymous_member_of_the_public_is_never_identified_in_events(
    intake: dict[str, Any],
) -> None:
    body = synthetic_referral(referrer={"name": "Worried Neighbour", "role": "neighbour",
                                        "phone": "07700 900999", "anonymous": True})
    accepted = await submit(intake, body, OFFICER)
    [event] = [e for e in await published(intake["bus"], "mash.intake.referral.accepted.v1")
               if e.subject == accepted["case_reference"]]
    assert event.data["referrer"] == {"agency": "public", "role": "member of the public"}
    assert event.data["flags"]["anonymous_referrer"] is True
    on_the_topic = await asyncio.to_thread(intake["bus"]._read, "inspector",
                                           [INTAKE_CONTACTS], 10_000)
    everything = b"".join(m.value for m in on_the_topic)
    assert b"Worried Neighbour" not in everything and b"07700 900999" not in everything


async def test_a_rejected_form_leaves_no_trace(intake: dict[str, Any]) -> None:
    body = synthetic_referral()
    body["children"][0]["date_of_birth"] = "2999-01-01"
    assert (await intake["client"].post("/v1/contacts", json=body,
                                        headers=SCHOOL)).status_code == 422
    await submit(intake, synthetic_referral(), SCHOOL)  # a later good one is published
    await published(intake["bus"], "mash.intake.contact.received.v1")
    on_the_topic = await asyncio.to_thread(intake["bus"]._read, "inspector",
                                           [INTAKE_CONTACTS], 10_000)
    assert b"2999-01-01" not in b"".join(m.value for m in on_the_topic)
    listed = (await intake["client"].get("/v1/contacts", headers=SCHOOL)).json()
    assert len(listed) == 1
