"""Consumer pacts: what MASH enquiries needs from intake and from triage.

From intake's ``contact.received``: the children and, new for partner searches, the family
and household and the postcode. From triage's ``threshold.decided``: the route, BRAG, the
manager, whether it proceeds without consent and when enquiries are due; from
``case.re-rated``: the new BRAG and the new enquiries deadline. Each example is fed through
MASH enquiries' real handlers on a migrated SQLite file, and must open the episode (one
request per agency, with the people to search for) or move its deadlines. Passing, the pacts
are written to ``contracts/pacts/mash-enquiries-{intake,triage}.json`` for the providers'
verification (``test_pact_intake_provides_its_events.py``,
``test_pact_triage_provides_its_events.py``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pact import Pact, match
from sqlmodel import Session, select

from mash_enquiries.handlers import intake_handlers, triage_handlers
from mash_enquiries.models import CaseRecord, Episode, InformationRequest
from mash_enquiries.service import SERVICE as ENQUIRIES
from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event, parse_time
from mashcore.migrations import upgrade_to_head
from tests.contract.test_pact_triage_consumes_intake import (
    PACT_DIR,
    RFC3339,
    as_kafka_message,
    cloudevent_headers,
)
from tests.support import contact_received_event, service_context

CONTACT_RECEIVED = "mash.intake.contact.received.v1"
THRESHOLD_DECIDED = "mash.triage.threshold.decided.v1"
CASE_RE_RATED = "mash.triage.case.re-rated.v1"
FAMILY_REFERRAL = "a referral naming the family and household has been received"
DECIDED_FOR_ENQUIRIES = "an amber case has been decided for MASH enquiries"
RE_RATED_RED = "an amber case in MASH enquiries has been re-rated red"
USER_ID = r"^[^@\s]{1,128}$"
DATE = r"^\d{4}-\d{2}-\d{2}$"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def intake_pact() -> Pact:
    pact = Pact("mash-enquiries", "intake").with_specification("V4")
    (
        pact.upon_receiving(f"{CONTACT_RECEIVED} naming the family and household", "Async")
        .given(FAMILY_REFERRAL)
        .with_body({
            "children": match.each_like({"first_name": match.str("Sam"),
                                         "last_name": match.str("Testchild"),
                                         "date_of_birth": match.regex("2015-06-01",
                                                                      regex=DATE)}, min=1),
            "family": match.each_like({
                "relationship": match.regex("parent", regex=r"^(parent|carer|sibling|"
                                            r"other_adult_in_household|"
                                            r"other_child_in_household)$"),
                "first_name": match.str("Synthetic"), "last_name": match.str("Parent"),
                "date_of_birth": match.regex("1990-02-03", regex=DATE)}, min=1),
            "postcode": match.regex("CV1 2AB", regex=r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$"),
            "received_at": match.regex("2026-11-24T09:00:00+00:00", regex=RFC3339),
        }, "application/json")
        .with_metadata(cloudevent_headers(event_id="1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b",
                                          case_reference="MASH-2026-FAM1LY00",
                                          time="2026-11-24T09:00:00Z"))
    )
    return pact


def triage_pact() -> Pact:
    pact = Pact("mash-enquiries", "triage").with_specification("V4")
    (
        pact.upon_receiving(f"{THRESHOLD_DECIDED} routed to MASH enquiries", "Async")
        .given(DECIDED_FOR_ENQUIRIES)
        .with_body({
            "route": "mash_enquiries",
            "brag": match.regex("amber", regex=r"^(amber|red)$"),
            "decided_at": match.regex("2026-11-24T10:00:00+00:00", regex=RFC3339),
            "decided_by": {"user_id": match.regex("tm-1", regex=USER_ID)},
            "proceeding_without_consent": match.bool(False),
            "enquiries_due_at": match.regex("2026-11-25T10:00:00+00:00", regex=RFC3339),
        }, "application/json")
        .with_metadata(cloudevent_headers(event_id="2c3d4e5f-6071-4829-9bac-1d2e3f4a5b6c",
                                          case_reference="MASH-2026-DEC1DED0",
                                          time="2026-11-24T10:00:00Z",
                                          event_type=THRESHOLD_DECIDED))
    )
    (
        pact.upon_receiving(f"{CASE_RE_RATED} from amber to red", "Async")
        .given(RE_RATED_RED)
        .with_body({
            "new_brag": match.regex("red", regex=r"^(blue|green|amber|red)$"),
            "re_rated_at": match.regex("2026-11-24T11:00:00+00:00", regex=RFC3339),
            "re_rated_by": {"user_id": match.regex("tm-1", regex=USER_ID),
                            "role": match.regex("team_manager", regex=r"^[a-z_]+$")},
            "enquiries_due_at": match.regex("2026-11-24T15:00:00+00:00", regex=RFC3339),
        }, "application/json")
        .with_metadata(cloudevent_headers(event_id="3d4e5f60-7182-4930-8cbd-2e3f4a5b6c7d",
                                          case_reference="MASH-2026-RERATED0",
                                          time="2026-11-24T11:00:00Z",
                                          event_type=CASE_RE_RATED))
    )
    return pact


def test_mash_enquiries_acts_on_each_message_it_expects_and_writes_the_pacts(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'enquiries.sqlite'}")
    upgrade_to_head(engine, ENQUIRIES.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="mash-enquiries")
    handle = {**intake_handlers(ctx), **triage_handlers(ctx)}
    seen: list[str] = []

    def apply(event: Event) -> None:
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()

    def known_case(reference: str) -> None:
        apply(contact_received_event(reference, contact_id=None))

    def decision(reference: str, body: dict[str, Any]) -> Event:
        return Event(type=THRESHOLD_DECIDED, source="/mash/triage", subject=reference, time=NOW,
                     recordedtime=NOW, partnership="default", data=body)

    def consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        if event.type == CONTACT_RECEIVED:
            apply(event)
            with Session(engine) as session:
                case = session.get(CaseRecord, event.subject)
                assert case is not None
                assert json.loads(case.family) == event.data["family"]
                assert case.postcode == event.data["postcode"]
        elif event.type == THRESHOLD_DECIDED:
            known_case(event.subject)
            apply(event)
            with Session(engine) as session:
                [episode] = session.exec(select(Episode).where(
                    Episode.case_reference == event.subject)).all()
                requests = session.exec(select(InformationRequest).where(
                    InformationRequest.episode_id == episode.id)).all()
            assert episode.due_at == parse_time(event.data["enquiries_due_at"])
            assert episode.opened_by == event.data["decided_by"]["user_id"]
            assert sorted(r.agency for r in requests) == [
                "education", "health", "police", "probation"]
        else:
            known_case(event.subject)
            apply(decision(event.subject, {
                "route": "mash_enquiries", "brag": "amber", "decided_at": NOW.isoformat(),
                "decided_by": {"user_id": "tm-1", "role": "team_manager"},
                "proceeding_without_consent": False,
                "enquiries_due_at": "2026-11-25T12:00:00+00:00"}))
            apply(event)
            with Session(engine) as session:
                deadlines = {r.deadline for r in session.exec(select(InformationRequest).where(
                    InformationRequest.case_reference == event.subject))}
            assert deadlines == {parse_time(event.data["enquiries_due_at"])}
        seen.append(event.type)

    for pact in (intake_pact(), triage_pact()):
        pact.verify(consumes, "Async")
        pact.write_file(PACT_DIR, overwrite=True)
    assert sorted(seen) == sorted([CONTACT_RECEIVED, THRESHOLD_DECIDED, CASE_RE_RATED])
    assert (PACT_DIR / "mash-enquiries-intake.json").is_file()
    assert (PACT_DIR / "mash-enquiries-triage.json").is_file()
