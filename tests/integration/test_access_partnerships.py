"""Nobody reads outside their partnership and agency (issue 12; OWASP API1, BOLA), on the
real PostgreSQL server: another partnership's record is a 404 exactly like a missing one,
lists leave it out, repeat links never reveal it, and every read is audited."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from mashcore.audit import AuditEntry
from mashcore.policy import PolicyBook, default_policy_dir
from tests.support import SAMPLE_TIME, auth, eventually, services_on_postgres, synthetic_referral


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["intake"],
                                    SAMPLE_TIME) as services:
        yield services


def hub_officer(partnership: str) -> dict[str, str]:
    return auth("information_officer", "local_authority", subject=f"io-{partnership}",
                partnership=partnership)


def manager(partnership: str) -> dict[str, str]:
    return auth("team_manager", "local_authority", subject=f"tm-{partnership}",
                partnership=partnership)


def authority_system(partnership: str) -> dict[str, str]:
    return auth("referrer", "local_authority", subject=f"la-{partnership}",
                partnership=partnership)


async def record(intake: Any, headers: dict[str, str], n: int, **overrides: Any) -> Any:
    response = await intake.post("/v1/contacts", json=synthetic_referral(n, **overrides),
                                 headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def audit_rows(system: dict[str, Any]) -> list[AuditEntry]:
    with Session(system["ctx"]["intake"].engine) as session:
        return list(session.exec(select(AuditEntry).order_by(AuditEntry.id)))  # type: ignore[arg-type]


async def test_another_partnerships_contact_is_a_404_and_not_in_the_list(
    system: dict[str, Any],
) -> None:
    intake = system["intake"]
    contact = await record(intake, hub_officer("coventry"), 1201)
    url = f"/v1/contacts/{contact['contact_id']}"

    for outsider in (authority_system("medway"), manager("medway"), hub_officer("medway")):
        response = await intake.get(url, headers=outsider)
        assert response.status_code == 404, response.text
        missing = await intake.get("/v1/contacts/no-such-contact", headers=outsider)
        assert response.json()["title"] == missing.json()["title"]
        listed = await intake.get("/v1/contacts", headers=outsider)
        assert listed.status_code == 200
        assert contact["case_reference"] not in listed.text

    for insider in (authority_system("coventry"), manager("coventry")):
        assert (await intake.get(url, headers=insider)).status_code == 200
        listed = await intake.get("/v1/contacts", headers=insider)
        assert contact["case_reference"] in listed.text

    # Every read is audited, and so are the lists. The refusals are filed for the owner
    # (coventry, with the case reference), never where medway could read them.
    rows = [r for r in audit_rows(system) if r.action == "read"]
    refused = [r for r in rows if r.resource_id == contact["contact_id"]
               and r.outcome == "refused"]
    assert {r.actor for r in refused} == {"la-medway", "tm-medway", "io-medway"}
    assert {(r.case_reference, r.partnership) for r in refused} == {
        (contact["case_reference"], "coventry")}
    listed_reads = [r for r in rows if r.resource == "contact_list"]
    assert {r.actor for r in listed_reads} >= {"la-coventry", "tm-coventry", "tm-medway"}
    assert any(r.case_reference == contact["case_reference"] and r.actor == "tm-coventry"
               for r in listed_reads)
    assert not any(r.case_reference == contact["case_reference"] and r.partnership == "medway"
                   for r in rows)


async def test_a_repeat_from_another_partnership_is_never_shown(system: dict[str, Any]) -> None:
    intake = system["intake"]
    child = [{"first_name": "Synthetic", "last_name": "Mover", "date_of_birth": "2014-02-03"}]
    medway = await record(intake, authority_system("medway"), 1202, children=child)
    coventry_first = await record(intake, authority_system("coventry"), 1203, children=child)
    coventry = await record(intake, authority_system("coventry"), 1204, children=child)

    view = (await intake.get(f"/v1/contacts/{coventry['contact_id']}",
                             headers=manager("coventry"))).json()
    assert [link["case_reference"] for link in view["linked_contacts"]] == [
        coventry_first["case_reference"]]
    assert medway["case_reference"] not in str(view)
    assert medway["contact_id"] not in str(view)

    # The repeat link shown is a read of the linked record: audited under its reference.
    assert any(r.resource == "contact_link" and r.actor == "tm-coventry"
               and r.case_reference == coventry_first["case_reference"]
               for r in audit_rows(system))


async def test_a_pack_may_share_only_that_a_link_exists_and_whom_to_ask(
    system: dict[str, Any], tmp_path: Path,
) -> None:
    packs = tmp_path / "packs"
    shutil.copytree(default_policy_dir(), packs)
    medway_pack = packs / "medway.yaml"
    medway_pack.write_text(medway_pack.read_text() + "cross_border_links:\n"
                           "  mash_contact: Medway MASH, 01634 000000 (synthetic)\n")
    system["ctx"]["intake"].policy = PolicyBook.load(packs)
    intake = system["intake"]
    child = [{"first_name": "Synthetic", "last_name": "Traveller",
              "date_of_birth": "2013-05-06"}]
    medway = await record(intake, authority_system("medway"), 1205, children=child)
    coventry = await record(intake, authority_system("coventry"), 1206, children=child)

    view = (await intake.get(f"/v1/contacts/{coventry['contact_id']}",
                             headers=manager("coventry"))).json()
    assert view["linked_contacts"] == [
        {"other_partnership_link": True, "contact": "Medway MASH, 01634 000000 (synthetic)"}]
    assert medway["case_reference"] not in str(view)
    assert medway["contact_id"] not in str(view)
    # Medway's manager sees in its audit log that coventry learned of the link.
    medway_audit = (await intake.get("/v1/audit", headers=manager("medway"), params={
        "case_reference": medway["case_reference"]})).json()
    assert [(e["who"], e["outcome"]) for e in medway_audit
            if e["resource"] == "contact_link"] == [("tm-coventry", "existence_only")]


async def test_a_token_without_a_partnership_sees_the_deployments_default_partnership_clocks(
    postgres_server: Any, tmp_path: Path,
) -> None:
    async with services_on_postgres(postgres_server, tmp_path, ["intake", "sla-timekeeper"],
                                    SAMPLE_TIME) as running:
        timekeeper = running["ctx"]["sla-timekeeper"]
        timekeeper.settings = timekeeper.settings.model_copy(
            update={"partnership_default": "coventry"})
        contact = await record(running["intake"], authority_system("coventry"), 1207)
        params = {"case_reference": contact["case_reference"]}

        async def clocks(headers: dict[str, str]) -> list[Any]:
            response = await running["sla-timekeeper"].get("/v1/clocks", params=params,
                                                           headers=headers)
            assert response.status_code == 200
            result: list[Any] = response.json()
            return result

        async def started() -> list[Any]:
            return await clocks(manager("coventry"))
        await eventually(started, what="the contact's clock")
        unclaimed = auth("team_manager", "local_authority", subject="tm-unclaimed")
        assert await clocks(unclaimed)  # MASH_PARTNERSHIP_DEFAULT, not a literal "default"
        assert not await clocks(manager("medway"))


async def test_the_audit_log_of_a_case_is_for_its_partnerships_manager_and_ops_only(
    system: dict[str, Any],
) -> None:
    intake = system["intake"]
    contact = await record(intake, authority_system("coventry"), 1208)
    await intake.get(f"/v1/contacts/{contact['contact_id']}", headers=manager("coventry"))
    await intake.get(f"/v1/contacts/{contact['contact_id']}", headers=manager("medway"))
    params = {"case_reference": contact["case_reference"]}

    response = await intake.get("/v1/audit", params=params, headers=manager("coventry"))
    assert response.status_code == 200
    entries = response.json()
    assert [(e["who"], e["role"], e["action"], e["resource"], e["outcome"])
            for e in entries] == [
        ("la-coventry", "referrer", "write", "contact", "allowed"),
        ("tm-coventry", "team_manager", "read", "contact", "allowed"),
        # Medway's attempt is shown to coventry's manager (whose case it is), not to medway.
        ("tm-medway", "team_manager", "read", "contact", "refused")]
    assert all(e["at"] and e["agency"] for e in entries)
    assert "Child1208" not in response.text and "Synthetic" not in response.text

    ops = auth("ops", "local_authority", subject="ops-1")
    assert len((await intake.get("/v1/audit", params=params, headers=ops)).json()) == 4
    assert (await intake.get("/v1/audit", params=params, headers=manager("medway"))).json() == []
    for refused in (authority_system("coventry"), hub_officer("coventry")):
        assert (await intake.get("/v1/audit", params=params, headers=refused)).status_code == 403

    # Reading the audit log is itself audited (and shown to the next reader).
    again = (await intake.get("/v1/audit", params=params, headers=manager("coventry"))).json()
    assert [(e["who"], e["resource"]) for e in again[3:]] == [
        ("tm-coventry", "audit_log"), ("ops-1", "audit_log")]
