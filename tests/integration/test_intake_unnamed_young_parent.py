"""The linked referral for a parent under 18 known only by relationship and date of birth
(issue 12 §4): it is readable, not a 500 whose traceback quoted the date of birth."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from intake.contacts.models import Contact
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS
from tests.support import auth, eventually, running_services, synthetic_referral

SCHOOL = auth("referrer", "education", subject="school-mis")
OFFICER = auth("information_officer", "local-authority", subject="io-7")


@pytest.fixture
async def intake(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path)
    async with running_services(settings, ["intake"], bus) as clients:
        yield {"client": clients["intake"], "bus": bus}
    await bus.stop()


async def linked_referral(bus: EmbeddedBus) -> Event:
    async def created() -> list[Event]:
        messages = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS], 10_000)
        return [e for e in map(Event.from_message, messages)
                if e.type == "mash.intake.linked-referral.created.v1"]

    [event] = await eventually(created, what="the linked referral")
    return event


async def test_the_linked_referral_of_an_unnamed_parent_under_18_can_be_read(
    intake: dict[str, Any],
) -> None:
    body = synthetic_referral(parents_carers=[
        {"relationship": "mother", "date_of_birth": "2010-05-05"}])
    response = await intake["client"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text

    linked = await linked_referral(intake["bus"])
    assert linked.data["subject"]["date_of_birth"] == "2010-05-05"
    assert linked.data["subject"]["identity_unknown"] is True  # said, not left blank
    for reader in (SCHOOL, OFFICER):
        view = await intake["client"].get(f"/v1/contacts/{linked.data['contact_id']}",
                                          headers=reader)
        assert view.status_code == 200, view.text
        assert view.json()["case_reference"] == linked.subject


async def test_such_a_linked_referral_recorded_before_the_fix_can_be_read_too(
    intake: dict[str, Any],
) -> None:
    body = synthetic_referral(parents_carers=[
        {"relationship": "father", "date_of_birth": "2009-11-30"}])
    assert (await intake["client"].post("/v1/contacts", json=body,
                                        headers=SCHOOL)).status_code == 202
    linked = await linked_referral(intake["bus"])
    ctx = intake["client"]._transport.app.state.context
    with ctx.unit_of_work() as uow:  # the shape the old code stored
        contact = uow.session.get(Contact, linked.data["contact_id"])
        submission = json.loads(contact.submission)
        submission["children"][0]["identity_unknown"] = False
        contact.submission = json.dumps(submission)
        uow.session.add(contact)
        uow.commit()
    view = await intake["client"].get(f"/v1/contacts/{linked.data['contact_id']}",
                                      headers=OFFICER)
    assert view.status_code == 200, view.text
