import pytest

from mashcore.schemas import SchemaRegistry, SchemaViolation

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
