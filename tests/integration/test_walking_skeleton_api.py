"""Intake and triage through their REST APIs, on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from mashcore.audit import AuditEntry
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS
from tests.support import auth, eventually, running_services, synthetic_referral

REFERRER = auth("referrer", "education", subject="school-system-1")
IO = auth("information_officer", "local-authority", subject="io-1")


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    prefix = f"t_{uuid.uuid4().hex[:8]}"
    for service in ("intake", "triage"):
        postgres_server.create_database(f"{prefix}_{service}")
    settings = Settings(
        database_url_template=postgres_server.url(f"{prefix}_{{service}}"),
        data_dir=tmp_path,
    )
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    async with running_services(settings, ["intake", "triage"], bus) as clients:
        yield {"bus": bus, "settings": settings, **clients}
    await bus.stop()


async def case_in_triage(triage: httpx.AsyncClient, contact_id: str) -> list[dict[str, Any]]:
    cases = (await triage.get("/v1/cases", headers=IO)).json()
    return [c for c in cases if c["contact_id"] == contact_id]


async def test_a_posted_referral_is_opened_in_triage(system: dict[str, Any]) -> None:
    response = await system["intake"].post("/v1/contacts", json=synthetic_referral(),
                                           headers=REFERRER)
    assert response.status_code == 202
    accepted = response.json()
    assert response.headers["Location"] == f"/v1/contacts/{accepted['contact_id']}"

    [case] = await eventually(lambda: case_in_triage(system["triage"], accepted["contact_id"]),
                              what="the case in triage")
    assert case["case_reference"] == accepted["case_reference"]
    assert case["status"] == "awaiting_initial_rating"

    detail = (await system["triage"].get(f"/v1/cases/{case['case_reference']}",
                                         headers=IO)).json()
    assert detail["children"][0]["last_name"].startswith("Child")


async def test_a_retried_post_with_the_same_key_returns_the_same_contact_and_one_event(
    system: dict[str, Any],
) -> None:
    body = synthetic_referral()
    headers = {**REFERRER, "Idempotency-Key": "retry-1"}
    first, second = [await system["intake"].post("/v1/contacts", json=body, headers=headers)
                     for _ in range(2)]
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    contact_id = first.json()["contact_id"]
    await eventually(lambda: case_in_triage(system["triage"], contact_id), what="the case")

    async def received_events() -> list[Any]:
        messages = await asyncio.to_thread(system["bus"]._read, "inspector", [INTAKE_CONTACTS],
                                           1000)
        return [m for m in messages if contact_id.encode() in m.value
                and m.header("ce_type") == "mash.intake.contact.received.v1"]

    assert len(await received_events()) == 1
    assert len(await case_in_triage(system["triage"], contact_id)) == 1


async def test_concurrent_retries_with_one_key_create_one_contact(system: dict[str, Any]) -> None:
    body = synthetic_referral()
    headers = {**REFERRER, "Idempotency-Key": "race-1"}
    responses = await asyncio.gather(*(system["intake"].post("/v1/contacts", json=body,
                                                             headers=headers)
                                       for _ in range(5)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["contact_id"] for r in responses}) == 1


async def test_a_key_reused_for_a_different_referral_is_refused(system: dict[str, Any]) -> None:
    headers = {**REFERRER, "Idempotency-Key": "reuse-1"}
    await system["intake"].post("/v1/contacts", json=synthetic_referral(), headers=headers)
    response = await system["intake"].post("/v1/contacts", json=synthetic_referral(),
                                           headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_invalid_input_is_a_problem_document_naming_every_faulty_field(
    system: dict[str, Any],
) -> None:
    body = synthetic_referral()
    del body["referrer"]["email"]
    body["children"].append({"first_name": "Only"})
    body["concern"]["summary"] = ""
    response = await system["intake"].post("/v1/contacts", json=body, headers=REFERRER)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"referrer", "children[1]", "concern.summary"}


async def test_a_birth_date_in_the_future_is_refused_and_nothing_is_stored(
    system: dict[str, Any],
) -> None:
    body = synthetic_referral()
    body["children"][0]["date_of_birth"] = "2999-01-01"
    response = await system["intake"].post("/v1/contacts", json=body, headers=REFERRER)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "children[0].date_of_birth"
    assert error["message"].startswith("must not be in the future")
    listed = (await system["intake"].get("/v1/contacts", headers=REFERRER)).json()
    assert listed == []


async def test_another_agency_cannot_see_a_contact_and_every_read_is_audited(
    system: dict[str, Any],
) -> None:
    accepted = (await system["intake"].post("/v1/contacts", json=synthetic_referral(),
                                            headers=REFERRER)).json()
    path = f"/v1/contacts/{accepted['contact_id']}"
    own = await system["intake"].get(path, headers=REFERRER)
    other = await system["intake"].get(path, headers=auth("referrer", "police"))
    assert own.status_code == 200
    assert other.status_code == 404

    engine = make_engine(system["settings"].database_url_for("intake"))
    with Session(engine) as session:
        reads = session.exec(select(AuditEntry).where(AuditEntry.action == "read")
                             .order_by(col(AuditEntry.id))).all()
    engine.dispose()
    assert [(r.agency, r.outcome) for r in reads] == [("education", "allowed"),
                                                      ("police", "refused")]


async def test_callers_without_a_token_or_the_right_role_are_refused(
    system: dict[str, Any],
) -> None:
    no_token = await system["intake"].post("/v1/contacts", json=synthetic_referral())
    wrong_role = await system["intake"].post("/v1/contacts", json=synthetic_referral(),
                                             headers=auth("navigator", "police"))
    assert no_token.status_code == 401
    assert wrong_role.status_code == 403
    assert no_token.headers["content-type"].startswith("application/problem+json")


async def test_hub_staff_see_only_their_own_partnerships_cases(system: dict[str, Any]) -> None:
    accepted = (await system["intake"].post("/v1/contacts", json=synthetic_referral(),
                                            headers=REFERRER)).json()
    await eventually(lambda: case_in_triage(system["triage"], accepted["contact_id"]),
                     what="the case in its own partnership's queue")
    elsewhere = auth("team_manager", "local-authority", partnership="medway")
    queue = (await system["triage"].get("/v1/cases", headers=elsewhere)).json()
    read = await system["triage"].get(f"/v1/cases/{accepted['case_reference']}",
                                      headers=elsewhere)
    assert accepted["contact_id"] not in [c["contact_id"] for c in queue]
    assert read.status_code == 404
