"""Consumer pact: what intake needs from triage's ``domestic-abuse.confirmed`` (issue 20).

Intake reads the case (the CloudEvents subject) and who confirmed the flag
(``contacts.dash_on_confirmation``), and asks the police for the DASH with
``dash.requested``. The example is fed through intake's real handler on a migrated SQLite
file holding the contact, and must produce exactly one request naming that user. Passing,
the pact is written to ``contracts/pacts/intake-triage.json`` for triage's verification
(``test_pact_triage_provides_its_flag.py``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pact import Pact, match
from sqlalchemy import text

from intake.contacts import service as contacts
from intake.contacts.api_models import ReferralIn
from intake.contacts.dash_on_confirmation import DOMESTIC_ABUSE_CONFIRMED, event_handlers
from intake.events import DASH_REQUESTED
from intake.service import SERVICE as INTAKE
from mashcore.auth import Principal, Role
from mashcore.clock import FrozenClock
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from tests.contract.test_pact_triage_consumes_intake import (
    CASE_REFERENCE,
    PACT_DIR,
    as_kafka_message,
    cloudevent_headers,
)
from tests.support import service_context

STATE = "hub staff have confirmed the domestic-abuse flag a concern's words suggested"
REFERENCE = "MASH-2026-FLAGDA01"
EVENT_ID = "b5c6d7e8-f9a0-4b1c-8d2e-3f405162a7b8"
AT = "2026-11-24T10:05:00+00:00"
NOW = datetime(2026, 11, 24, 10, 6, tzinfo=UTC)
SCHOOL = Principal(subject="pact-school", role=Role.REFERRER, agency="education",
                   partnership="coventry")


def triage_flag_pact() -> Pact:
    pact = Pact("intake", "triage").with_specification("V4")
    headers = cloudevent_headers(event_id=EVENT_ID, case_reference=REFERENCE, time=AT,
                                 event_type=DOMESTIC_ABUSE_CONFIRMED)
    headers["ce_source"] = match.regex("/mash/triage", regex=r"^/mash/triage$")
    (
        pact.upon_receiving(f"{DOMESTIC_ABUSE_CONFIRMED} by an information officer", "Async")
        .given(STATE)
        .with_body({
            "case_reference": match.regex(REFERENCE, regex=CASE_REFERENCE),
            "confirmed_by": {"user_id": match.regex("io-coventry", regex=r"^[^@\s]{1,128}$")},
        }, "application/json")
        .with_metadata(headers)
    )
    return pact


def test_intake_asks_for_the_dash_once_per_confirmation_and_writes_the_pact(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    upgrade_to_head(engine, INTAKE.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="intake")
    emitted: list[Event] = []
    contacts.submit_contact(ctx, SCHOOL, ReferralIn.model_validate({
        "kind": "referral",
        "referrer": {"name": "Testreferrer", "role": "Designated safeguarding lead",
                     "email": "dsl@school.example"},
        "children": [{"first_name": "Synthetic", "last_name": "Child",
                      "date_of_birth": "2015-06-01"}],
        "concern": {"summary": "Synthetic: police were called to a domestic last night."},
    }), idempotency_key=None)
    with engine.begin() as connection:  # the contact under the pact's reference
        connection.execute(text("UPDATE contact SET case_reference = :r"), {"r": REFERENCE})

    def to_bus(_uow: UnitOfWork, event: Event, _topic: str) -> None:
        emitted.append(event)

    ctx.emit = to_bus  # type: ignore[method-assign,assignment]
    handle = event_handlers(ctx)

    def consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()
        [request] = [e for e in emitted if e.type == DASH_REQUESTED]
        assert request.subject == event.subject
        assert request.data["requested_from"] == "police"
        assert request.data["requested_by"] == event.data["confirmed_by"]["user_id"]
        ctx.registry.validate(DASH_REQUESTED, json.loads(json.dumps(request.data)))

    pact = triage_flag_pact()
    pact.verify(consumes, "Async")
    pact.write_file(PACT_DIR, overwrite=True)
    engine.dispose()
    assert len([e for e in emitted if e.type == DASH_REQUESTED]) == 1
    assert (PACT_DIR / "intake-triage.json").is_file()
