"""Every refused access is audited for the record's owner, and the caller learns nothing
(issue 12), on the real PostgreSQL server.

A read (or change) of another partnership's record is a 404 exactly like a missing one. Its
audit entry is ``refused``, with the case reference, filed under the record's partnership: that
partnership's team manager sees the attempt in ``GET /v1/audit``; the caller's partnership
sees nothing of it. A record that does not exist is ``not_found``, without a case reference,
under the caller's partnership.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from mashcore.audit import AuditEntry
from tests.support import SAMPLE_TIME, auth, eventually, services_on_postgres, synthetic_referral


def manager(partnership: str) -> dict[str, str]:
    return auth("team_manager", "local_authority", subject=f"tm-{partnership}",
                partnership=partnership)


def hub_officer(partnership: str) -> dict[str, str]:
    return auth("information_officer", "local_authority", subject=f"io-{partnership}",
                partnership=partnership)


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["intake", "sla-timekeeper"],
                                    SAMPLE_TIME) as services:
        yield services


def entries(system: dict[str, Any], service: str, resource_id: str) -> list[tuple[Any, ...]]:
    """(actor, action, outcome, case reference, partnership) of each entry about a record."""
    with Session(system["ctx"][service].engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.resource_id == resource_id)
                            .order_by(col(AuditEntry.id)))
        return [(r.actor, r.action, r.outcome, r.case_reference, r.partnership) for r in rows]


async def audit_log(client: Any, case_reference: str, headers: dict[str, str]) -> list[Any]:
    response = await client.get("/v1/audit", params={"case_reference": case_reference},
                                headers=headers)
    assert response.status_code == 200, response.text
    return [(e["who"], e["action"], e["resource"], e["outcome"]) for e in response.json()]


def without(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {k: v.replace(text, "ID") if isinstance(v, str) else v for k, v in body.items()}


async def test_a_refused_read_of_a_contact_is_shown_to_its_partnership_only(
    system: dict[str, Any],
) -> None:
    intake = system["intake"]
    recorded = await intake.post("/v1/contacts", json=synthetic_referral(1401),
                                 headers=hub_officer("coventry"))
    assert recorded.status_code == 202, recorded.text
    contact_id, reference = recorded.json()["contact_id"], recorded.json()["case_reference"]
    missing_id = str(uuid.uuid4())

    refused = await intake.get(f"/v1/contacts/{contact_id}", headers=hub_officer("medway"))
    missing = await intake.get(f"/v1/contacts/{missing_id}", headers=hub_officer("medway"))

    # The caller learns nothing: the same answer as for a contact that does not exist.
    assert (refused.status_code, missing.status_code) == (404, 404)
    assert without(refused.json(), contact_id) == without(missing.json(), missing_id)
    assert reference not in refused.text
    # Audited for the owner, with the case reference; the missing one for the caller.
    assert entries(system, "intake", contact_id)[-1] == (
        "io-medway", "read", "refused", reference, "coventry")
    assert entries(system, "intake", missing_id) == [
        ("io-medway", "read", "not_found", None, "medway")]
    # Coventry's manager sees the attempt; medway's sees nothing of coventry's case.
    assert ("io-medway", "read", "contact", "refused") in await audit_log(
        intake, reference, manager("coventry"))
    assert await audit_log(intake, reference, manager("medway")) == []


async def test_a_refused_change_of_a_contact_is_audited_for_its_owner(
    system: dict[str, Any],
) -> None:
    intake = system["intake"]
    recorded = await intake.post("/v1/contacts", json=synthetic_referral(1402),
                                 headers=hub_officer("coventry"))
    contact_id, reference = recorded.json()["contact_id"], recorded.json()["case_reference"]
    forward = await intake.post(f"/v1/contacts/{contact_id}/forward",
                                headers=hub_officer("medway"))
    assert forward.status_code == 404
    assert entries(system, "intake", contact_id)[-1] == (
        "io-medway", "write", "refused", reference, "coventry")


async def test_a_refused_clock_extension_is_audited_for_the_clocks_partnership(
    system: dict[str, Any],
) -> None:
    recorded = await system["intake"].post("/v1/contacts", json=synthetic_referral(1403),
                                           headers=hub_officer("coventry"))
    reference = recorded.json()["case_reference"]
    timekeeper = system["sla-timekeeper"]

    async def clock_id() -> str | None:
        clocks = (await timekeeper.get("/v1/clocks", params={"case_reference": reference},
                                       headers=manager("coventry"))).json()
        return str(clocks[0]["clock_id"]) if clocks else None

    clock = await eventually(clock_id, what="the contact's clock")
    extension = {"new_due_at": "2026-11-30T09:00:00Z",
                 "reason_code": "awaiting_partner_information"}
    refused = await timekeeper.post(f"/v1/clocks/{clock}/extension", json=extension,
                                    headers=manager("medway"))
    missing_id = str(uuid.uuid4())
    missing = await timekeeper.post(f"/v1/clocks/{missing_id}/extension", json=extension,
                                    headers=manager("medway"))

    assert (refused.status_code, missing.status_code) == (404, 404), refused.text
    assert without(refused.json(), clock) == without(missing.json(), missing_id)
    assert entries(system, "sla-timekeeper", clock)[-1] == (
        "tm-medway", "write", "refused", reference, "coventry")
    assert entries(system, "sla-timekeeper", missing_id) == [
        ("tm-medway", "write", "not_found", None, "medway")]
    assert ("tm-medway", "write", "sla_clock", "refused") in await audit_log(
        timekeeper, reference, manager("coventry"))
    assert await audit_log(timekeeper, reference, manager("medway")) == []

    # Medway asking for coventry's case's clocks gets an empty list, as for a case without
    # clocks; coventry's manager sees the attempt.
    for asked in (reference, "MASH-2026-N0SUCH00"):
        listed = await timekeeper.get("/v1/clocks", params={"case_reference": asked},
                                      headers=manager("medway"))
        assert (listed.status_code, listed.json()) == (200, [])
    assert entries(system, "sla-timekeeper", reference)[-1] == (
        "tm-medway", "read", "refused", reference, "coventry")
    assert entries(system, "sla-timekeeper", "MASH-2026-N0SUCH00") == [
        ("tm-medway", "read", "not_found", None, "medway")]
    assert ("tm-medway", "read", "sla_clock", "refused") in await audit_log(
        timekeeper, reference, manager("coventry"))
