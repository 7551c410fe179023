from datetime import UTC, datetime, timedelta, timezone

import pytest

from mashcore.envelope import Event, InvalidEnvelope
from mashcore.messages import Message

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)


def _event(**overrides: object) -> Event:
    fields: dict[str, object] = dict(
        type="mash.intake.contact.received.v1", source="/mash/intake",
        subject="MASH-2026-ABCDEFGH", time=WHEN - timedelta(hours=2), recordedtime=WHEN,
        partnership="coventry", data={"contact_id": "c-1"},
    )
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


def test_an_event_survives_the_round_trip_through_kafka_binary_mode() -> None:
    event = _event(causationid="cause-1", correlationid="corr-1")
    decoded = Event.from_message(event.to_message("mash.intake.contacts.v1"))
    assert decoded == event


def test_the_message_is_keyed_by_case_reference_with_ce_headers() -> None:
    message = _event().to_message("t")
    assert message.key == b"MASH-2026-ABCDEFGH"
    assert message.header("ce_specversion") == "1.0"
    assert message.header("ce_type") == "mash.intake.contact.received.v1"
    assert message.header("ce_time") == "2026-11-23T07:15:00Z"
    assert message.header("ce_recordedtime") == "2026-11-23T09:15:00Z"
    assert message.header("ce_partnership") == "coventry"
    assert message.header("content-type") == "application/json"


def test_times_in_other_offsets_are_normalised_to_utc() -> None:
    bst = timezone(timedelta(hours=1))
    event = _event(time=datetime(2026, 7, 1, 10, 0, tzinfo=bst))
    assert event.to_message("t").header("ce_time") == "2026-07-01T09:00:00Z"


def test_a_correlation_id_defaults_to_the_event_id() -> None:
    event = _event()
    assert event.correlationid == event.id


def test_a_follow_up_event_keeps_case_and_correlation_and_names_its_cause() -> None:
    first = _event(correlationid="corr-9")
    second = first.follow_up(type="mash.triage.case.opened.v1", source="/mash/triage",
                             data={}, recordedtime=WHEN + timedelta(seconds=1))
    assert (second.subject, second.partnership, second.correlationid) == (
        first.subject, first.partnership, "corr-9")
    assert second.causationid == first.id
    assert second.id != first.id


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        _event(time=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        (Message("t", b"k", b"{}", ()), "missing or invalid CloudEvents attributes"),
        (Message("t", b"k", b"not json", _event().headers()), "data is not JSON"),
        (Message("t", b"k", b"[1, 2]", _event().headers()), "data must be a JSON object"),
        (Message("t", b"k", b"{}", tuple((k, b"yesterday") if k == "ce_time" else (k, v)
                                         for k, v in _event().headers())), "bad timestamp"),
    ],
)
def test_a_malformed_message_is_refused_with_the_reason(message: Message, complaint: str) -> None:
    with pytest.raises(InvalidEnvelope, match=complaint):
        Event.from_message(message)
