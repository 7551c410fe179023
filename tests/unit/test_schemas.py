from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mashcore.schemas import SchemaRegistry, SchemaViolation, _format_check

pytestmark = pytest.mark.unit


def test_an_event_type_without_a_schema_is_refused() -> None:
    with pytest.raises(SchemaViolation, match="no schema"):
        SchemaRegistry().validate("mash.nobody.thing.happened.v1", {})


def test_a_violation_names_the_field_but_never_echoes_its_value() -> None:
    registry = SchemaRegistry()
    data = {
        "contact_id": "3f2b8c1e-7a4d-4e55-9a61-2c0f4b7d9e10",
        "case_reference": "MASH-2026-K7QX3MZP",
        "kind": "referral",
        "partnership": "coventry",
        "referrer": {"agency": "education", "role": "teacher"},
        "children": [{"first_name": 12345, "identity_unknown": False}],
        "concern": {"summary": "x"},
        "received_at": "2026-11-23T09:15:00+00:00",
    }
    with pytest.raises(SchemaViolation) as caught:
        registry.validate("mash.intake.contact.received.v1", data)
    assert "children/0/first_name" in str(caught.value)
    assert "12345" not in str(caught.value)


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(SchemaViolation, match="case_reference"):
        SchemaRegistry().validate("mash.triage.case.opened.v1", {})


def _breach(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "clock_id": "3f2b8c1e-7a4d-4e55-9a61-2c0f4b7d9e10", "clock": "mash_enquiries",
        "case_reference": "MASH-2026-K7QX3MZP", "brag": "red", "partnership": "coventry",
        "agency": None, "started_at": "2026-11-23T05:15:00+00:00",
        "national_return_started_at": None, "due_at": "2026-11-23T09:15:00+00:00",
        "duration": {"amount": 4.0, "unit": "elapsed_hours"},
        "breached_at": "2026-11-23T09:15:00.2+00:00", "overdue_by_seconds": 0,
    }
    return data | changes


def test_the_compiled_validator_refuses_what_jsonschema_refuses_for_its_format() -> None:
    # The compiled (Rust) validator checks formats with jsonschema's own checkers: its
    # built-in date-time would let a leap second through, jsonschema's refuses it.
    registry = SchemaRegistry()
    registry.validate("mash.sla.clock.breached.v1", _breach())
    for field, value in (("breached_at", "2026-11-23T23:59:60Z"), ("due_at", "not a time"),
                         ("clock_id", "not-a-uuid")):
        with pytest.raises(SchemaViolation, match=field):
            registry.validate("mash.sla.clock.breached.v1", _breach(**{field: value}))


def test_a_value_json_has_no_type_for_is_refused_by_jsonschema() -> None:
    # The compiled validator cannot read a datetime object; jsonschema names the field.
    with pytest.raises(SchemaViolation, match="due_at"):
        SchemaRegistry().validate("mash.sla.clock.breached.v1",
                                  _breach(due_at=datetime(2026, 11, 23, tzinfo=UTC)))


_FORMATS = Draft202012Validator.FORMAT_CHECKER
_UUIDISH = st.text(alphabet="0123456789abcdefABCDEFg-{}:urn", min_size=30, max_size=45)
# A uuid with one character changed (a hyphen moved, a non-hex letter, a brace ...).
_NEAR_UUID = st.tuples(st.uuids().map(str), st.integers(0, 35), st.sampled_from("g-{}: Z0A")
                       ).map(lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + 1:])
_TIMEISH = st.text(alphabet="0123456789-T:Z+.tz ", min_size=15, max_size=35)


@pytest.mark.parametrize("name", sorted(_FORMATS.checkers))
@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.text(max_size=40), _UUIDISH, _NEAR_UUID, _TIMEISH, st.uuids().map(str),
                       st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)))
def test_the_compiled_validators_format_checks_answer_as_jsonschemas(
    name: str, value: str,
) -> None:
    """The format checks the compiled validator calls (issue 17: called directly, a
    canonical uuid accepted without parsing) accept exactly what jsonschema's accept."""
    assert _format_check(_FORMATS, name)(value) == _FORMATS.conforms(value, name)
    for upper in (value.upper(), value.lower()):
        assert _format_check(_FORMATS, name)(upper) == _FORMATS.conforms(upper, name)
