"""Consumer pact: what triage needs from intake's ``contact.received`` and ``referral.accepted``.

Triage declares the message it expects, as an asynchronous-message pact (Pact V4), with
matchers for what it relies on rather than literal values. The pact's example of each
message is then fed through triage's real handler: it is decoded from Kafka-style headers
and body by ``Event.from_message`` (as the consumer does), applied in a unit of work on a
migrated SQLite file, and must open a case. Passing, the pact is written to
``contracts/pacts/triage-intake.json`` (the provider verifies it in
``test_pact_intake_provides_contact_received.py``).

Only what triage reads is declared: the envelope's type, id, subject (the case reference),
partnership and the other attributes ``Event.from_message`` requires; in contact.received's
data ``contact_id``, ``kind``, ``referrer.agency``, ``children``, ``concern.summary`` and
``received_at``; in referral.accepted's the consent to the referral, the referrer's agency,
the domestic-abuse and staff-linked flags, the DASH risk level, and the indicators and
signals decision support matches on. Fields
triage ignores are left out, so intake stays free to change them. (The whole data is also
checked against the JSON schema by the consumer runtime; that contract is intake's and is
tested in ``test_event_schemas.py`` and ``test_emitted_events.py``.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pact import Pact, match
from sqlmodel import Session, select

from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event, parse_time
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import OutboxRecord
from mashcore.topics import INTAKE_CONTACTS
from tests.support import contact_received_event, service_context
from triage import domain, rules, views
from triage.handlers import event_handlers
from triage.models import TriageCase
from triage.service import SERVICE as TRIAGE

PACT_DIR = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
CONTACT_RECEIVED = "mash.intake.contact.received.v1"
REFERRAL_ACCEPTED = "mash.intake.referral.accepted.v1"

# Pact's `match.datetime` takes one fixed pattern, and Python's isoformat() leaves the
# fraction out when microseconds are zero, so no single pattern fits every instant intake
# can send (checked against pact_ffi 0.5.12). RFC 3339 with a mandatory offset, which is
# what `parse_time` needs, is therefore a regex.
RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
CASE_REFERENCE = r"^MASH-[0-9]{4}-[A-Z0-9]{8}$"
NON_EMPTY = r"^.+$"
INDICATOR_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
# Pact adds its own `contentType` to a message's metadata; it is not a Kafka header.
PACT_CONTENT_TYPE = "contentType"

NAMED_CHILD = "a referral about a named child has been received"
UNKNOWN_CHILD = "a contact about a child whose identity is unknown has been received"
DA_WITHOUT_CONSENT = ("a police domestic-abuse referral without consent, with indicators "
                      "ticked, has been accepted")


def cloudevent_headers(*, event_id: str, case_reference: str, time: str,
                       event_type: str = CONTACT_RECEIVED) -> dict[str, Any]:
    """The binary-mode CloudEvents headers triage needs (``Event.from_message``)."""
    return {
        "ce_specversion": "1.0",
        "ce_type": event_type,
        "ce_id": match.uuid(event_id),
        "ce_source": match.regex("/mash/intake", regex=NON_EMPTY),
        "ce_subject": match.regex(case_reference, regex=CASE_REFERENCE),
        "ce_time": match.regex(time, regex=RFC3339),
        "ce_recordedtime": match.regex(time, regex=RFC3339),
        "ce_correlationid": match.regex(event_id, regex=NON_EMPTY),
        # triage_case.partnership is at most 100 characters.
        "ce_partnership": match.regex("coventry", regex=r"^.{1,100}$"),
        "content-type": match.regex("application/json", regex=r"^application/json"),
    }


def contact_received(
    *, contact_id: str, kind: str, child: dict[str, Any], received_at: str
) -> dict[str, Any]:
    """The parts of the event's data that triage reads."""
    return {
        # triage_case.contact_id is a 36-character column.
        "contact_id": match.uuid(contact_id),
        "kind": match.regex(kind, regex=r"^(contact|referral)$"),
        "referrer": {"agency": match.regex("education", regex=r"^[a-z_]{1,40}$")},
        "children": match.each_like(child, min=1),
        "concern": {"summary": match.str("Synthetic example: bruising noticed at school.")},
        "received_at": match.regex(received_at, regex=RFC3339),
    }


def triage_pact() -> Pact:
    """Triage's expectations of intake, one interaction per provider state."""
    pact = Pact("triage", "intake").with_specification("V4")
    (
        pact.upon_receiving(f"{CONTACT_RECEIVED} for a referral about a named child", "Async")
        .given(NAMED_CHILD)
        .with_body(
            contact_received(
                contact_id="3f2b8c1e-7a4d-4e55-9a61-2c0f4b7d9e10",
                kind="referral",
                child={
                    "first_name": match.str("Sam"),
                    "last_name": match.str("Testchild"),
                    "identity_unknown": match.bool(False),
                },
                received_at="2026-11-23T09:15:00.123456+00:00",
            ),
            "application/json",
        )
        .with_metadata(cloudevent_headers(
            event_id="0b6f2a64-1c1e-4f7e-9d8e-5f0b1b7a9c21",
            case_reference="MASH-2026-K7QX3MZP",
            time="2026-11-23T09:15:00.123456Z",
        ))
    )
    (
        pact.upon_receiving(
            f"{CONTACT_RECEIVED} for a contact about a child whose identity is unknown", "Async"
        )
        .given(UNKNOWN_CHILD)
        .with_body(
            contact_received(
                contact_id="9d4e7a10-2b3c-4d5e-8f60-71a2b3c4d5e6",
                kind="contact",
                child={"identity_unknown": match.bool(True)},
                received_at="2026-11-23T16:45:00+00:00",
            ),
            "application/json",
        )
        .with_metadata(cloudevent_headers(
            event_id="5c8d2e4f-6a7b-4c9d-8e0f-1a2b3c4d5e6f",
            case_reference="MASH-2026-R4ND2MWT",
            time="2026-11-23T16:45:00Z",
        ))
    )
    (
        pact.upon_receiving(f"{REFERRAL_ACCEPTED} for a domestic-abuse referral without "
                            "consent", "Async")
        .given(DA_WITHOUT_CONSENT)
        .with_body(
            {
                "referrer": {"agency": match.regex("police", regex=r"^[a-z_]{1,40}$")},
                "consent": {"referral": match.regex(
                    "refused", regex=r"^(given|refused|not_sought|unknown)$")},
                "flags": {"domestic_abuse": match.bool(True),
                          "staff_linked": match.bool(False)},
                "domestic_abuse_assessment": {"risk_level": match.regex(
                    "high", regex=r"^(standard|medium|high|unknown)$")},
                "threshold_indicators": match.each_like(
                    match.regex("fe-domestic-abuse-high-risk", regex=INDICATOR_CODE), min=1),
                "signals": match.each_like(
                    match.regex("child_under_1", regex=r"^[a-z_0-9]+$"), min=1),
            },
            "application/json",
        )
        .with_metadata(cloudevent_headers(
            event_id="7e1f3a52-9b8c-4d2e-a6f0-3c5d7e9f1a2b",
            case_reference="MASH-2026-D0M3ST1C",
            time="2026-11-23T10:05:00Z",
            event_type=REFERRAL_ACCEPTED,
        ))
    )
    return pact


def as_kafka_message(body: str | bytes | None, metadata: dict[str, object]) -> Message:
    """The pact's example as the record triage's consumer would read from the topic."""
    assert body is not None, "the message has no body"
    value = body if isinstance(body, bytes) else str(body).encode("utf-8")
    headers = tuple(
        (key, str(header).encode("utf-8"))
        for key, header in metadata.items()
        if key != PACT_CONTENT_TYPE
    )
    subject = str(metadata["ce_subject"]).encode("utf-8")
    return Message(topic=INTAKE_CONTACTS, key=subject, value=value, headers=headers)


def test_triage_opens_a_case_from_each_message_it_expects_and_writes_the_pact(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'triage.sqlite'}")
    upgrade_to_head(engine, TRIAGE.migrations)
    now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(now))
    handle = event_handlers(ctx)
    opened: list[str] = []

    def triage_consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        if event.type == REFERRAL_ACCEPTED:
            referral_accepted(event)
            return
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()

        with Session(engine) as session:
            case = session.get(TriageCase, event.subject)
            assert case is not None, f"triage opened no case for {event.subject}"
            assert case.status == rules.AWAITING_INITIAL_RATING
            assert case.contact_id == event.data["contact_id"]
            assert case.kind == event.data["kind"]
            assert case.partnership == event.partnership
            assert case.concern_summary == event.data["concern"]["summary"]
            assert json.loads(case.children) == event.data["children"]
            assert case.received_at == parse_time(event.data["received_at"])
            announced = session.exec(
                select(OutboxRecord).where(OutboxRecord.event_type == domain.CASE_OPENED)
                .where(OutboxRecord.key == event.subject)
            ).all()
            assert len(announced) == 1, "triage did not announce the case it opened"
        opened.append(event.subject)

    def referral_accepted(event: Event) -> None:
        with unit_of_work(engine) as uow:  # the case intake's contact.received opened
            handle[CONTACT_RECEIVED](contact_received_event(
                event.subject, contact_id="0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"), uow)
            uow.commit()
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()
        with Session(engine) as session:
            case = session.get(TriageCase, event.subject)
            assert case is not None
            assert case.consent_to_referral == event.data["consent"]["referral"]
            assert case.referrer_agency == event.data["referrer"]["agency"]
            facts = views.facts(case)
        assert facts.domestic_abuse is event.data["flags"]["domestic_abuse"]
        assert facts.domestic_abuse_risk == event.data["domestic_abuse_assessment"]["risk_level"]
        assert list(facts.ticked_by_referrer) == event.data["threshold_indicators"]
        assert list(facts.referral_signals) == event.data["signals"]
        enriched.append(event.subject)

    enriched: list[str] = []
    pact = triage_pact()
    pact.verify(triage_consumes, "Async")

    assert sorted(opened) == ["MASH-2026-K7QX3MZP", "MASH-2026-R4ND2MWT"]
    assert enriched == ["MASH-2026-D0M3ST1C"]
    pact.write_file(PACT_DIR, overwrite=True)
    assert (PACT_DIR / "triage-intake.json").is_file()
