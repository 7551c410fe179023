"""`mash watch` lines: what happened, never who it happened to."""

from __future__ import annotations

from datetime import UTC, datetime

from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.watch import describe

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def message(event_type: str, data: dict[str, object]) -> Message:
    event = Event(type=event_type, source="/mash/test", subject="MASH-2026-AAAAAAAA", time=AT,
                  recordedtime=AT, partnership="coventry", data=data)
    return event.to_message("mash.triage.cases.v1")


def test_a_decision_shows_its_codes_and_deadlines_but_no_free_text() -> None:
    line = describe(message("mash.triage.threshold.decided.v1", {
        "brag": "red", "route": "mash_enquiries",
        "level_of_need": {"code": "L4", "name": "L4 Statutory"},
        "rationale": "Synthetic: Sam Example disclosed abuse.",
        "enquiries_due_at": "2026-11-24T14:00:00+00:00"}))
    assert line == ("2026-11-24T10:00:00+00:00  mash.triage.threshold.decided.v1  "
                    "MASH-2026-AAAAAAAA  [coventry]  brag=red route=mash_enquiries "
                    "level_of_need=L4 (L4 Statutory) enquiries_due_at=2026-11-24T14:00:00+00:00")
    assert "Sam" not in line


def test_a_free_text_reason_is_never_printed_but_a_coded_one_is() -> None:
    free = describe(message("mash.triage.case.re-rated.v1", {
        "previous_brag": "amber", "new_brag": "red", "reason": "Synthetic: mum's new partner"}))
    assert "reason" not in free and "partner" not in free
    coded = describe(message("mash.intake.contact.forwarded-to-allocated-worker.v1",
                             {"reason": "open_case"}))
    assert coded.endswith("reason=open_case")


def test_bytes_that_are_not_an_event_are_reported_not_raised() -> None:
    line = describe(Message(topic="mash.triage.cases.v1", key=b"k", value=b"\x00", headers=()))
    assert line == "mash.triage.cases.v1: a message that is not a readable event"
