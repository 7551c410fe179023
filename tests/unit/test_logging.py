import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from pydantic import BaseModel

from mashcore.logging import (
    REDACTED,
    bind_event_context,
    clear_event_context,
    configure_logging,
    is_personal_data_key,
    redact_personal_data,
)

pytestmark = pytest.mark.unit

PERSONAL_VALUES = [
    "Pat Referrer",
    "Jane",
    "Doe",
    "Jane Doe",
    "2015-04-01",
    "1 High Street",
    "CV1 2AB",
    "07700 900123",
    "pat@example.org",
    "943 476 5919",
    "Bruising seen on both arms",
    "Mother says he fell",
    "Stepfather Sam",
    "Threshold met because",
]


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Configure logging into a buffer, restoring the previous configuration afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config()
    buffer = io.StringIO()
    configure_logging("intake", level="INFO", stream=buffer)
    try:
        yield buffer
    finally:
        structlog.contextvars.clear_contextvars()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def only_line(buffer: io.StringIO) -> dict[str, Any]:
    (line,) = lines(buffer)
    return line


def assert_no_personal_data(text: str) -> None:
    for value in PERSONAL_VALUES:
        assert value not in text, f"{value!r} leaked into the log"


def test_a_log_line_is_json_with_utc_timestamp_level_service_and_logger(
    output: io.StringIO,
) -> None:
    structlog.get_logger("intake.api").info("contact_received", channel="api")

    line = only_line(output)
    assert line["event"] == "contact_received"
    assert line["level"] == "info"
    assert line["service"] == "intake"
    assert line["logger"] == "intake.api"
    assert line["channel"] == "api"
    stamped = datetime.fromisoformat(line["timestamp"])
    assert stamped.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - stamped) < timedelta(minutes=1)


def test_personal_data_at_any_depth_never_reaches_the_output_but_identifiers_do(
    output: io.StringIO,
) -> None:
    structlog.get_logger().info(
        "contact_received",
        event_id="5f0c8a52-0c5e-4a4e-9a49-0d8f2b3b9c11",
        case_reference="MASH-2026-000123",
        agency="police",
        referrer_name="Pat Referrer",
        contact={
            "children": [
                {
                    "first_name": "Jane",
                    "family_name": "Doe",
                    "dateOfBirth": "2015-04-01",
                    "addresses": [{"line_1": "1 High Street", "postcode": "CV1 2AB"}],
                    "nhs_number": "943 476 5919",
                    "risk_flags": ["neglect"],
                },
            ],
            "referrer": {"Telephone": "07700 900123", "email": "pat@example.org"},
            "concern": "Bruising seen on both arms",
            "history": [{"notes": ["Mother says he fell"]}, ({"father_name": "Stepfather Sam"},)],
        },
        decision={"rationale": "Threshold met because", "outcome": "strategy"},
    )

    text = output.getvalue()
    assert_no_personal_data(text)
    line = only_line(output)
    assert line["event_id"] == "5f0c8a52-0c5e-4a4e-9a49-0d8f2b3b9c11"
    assert line["case_reference"] == "MASH-2026-000123"
    assert line["agency"] == "police"
    assert line["referrer_name"] == REDACTED
    child = line["contact"]["children"][0]
    assert child["first_name"] == child["dateOfBirth"] == child["addresses"] == REDACTED
    assert child["risk_flags"] == ["neglect"]
    assert line["contact"]["history"][1][0]["father_name"] == REDACTED
    assert line["decision"] == {"rationale": REDACTED, "outcome": "strategy"}


def test_stdlib_loggers_such_as_uvicorn_and_aiokafka_are_routed_through_redaction() -> None:
    uvicorn_own = logging.StreamHandler(io.StringIO())
    logging.getLogger("uvicorn.error").addHandler(uvicorn_own)
    logging.getLogger("uvicorn.error").propagate = False
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config()
    buffer = io.StringIO()
    try:
        configure_logging("triage", stream=buffer)

        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        logging.getLogger("aiokafka.consumer").warning(
            "rebalance", extra={"child_dob": "2015-04-01", "topic": "mash.contacts"}
        )
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)

    uvicorn_line, kafka_line = lines(buffer)
    assert uvicorn_line["event"] == "Started server process [42]"
    assert uvicorn_line["logger"] == "uvicorn.error"
    assert uvicorn_line["service"] == "triage"
    assert kafka_line["level"] == "warning"
    assert kafka_line["child_dob"] == REDACTED
    assert kafka_line["topic"] == "mash.contacts"
    assert uvicorn_own not in logging.getLogger("uvicorn.error").handlers


def test_bound_event_context_appears_on_every_line_until_replaced(output: io.StringIO) -> None:
    log = structlog.get_logger()

    bind_event_context(event_id="e-1", case_reference="MASH-1", correlation_id="c-1")
    log.info("first")
    bind_event_context(event_id="e-2", correlation_id="c-2")
    log.info("second")
    clear_event_context()
    log.info("third")

    first, second, third = lines(output)
    assert (first["event_id"], first["case_reference"], first["correlation_id"]) == (
        "e-1",
        "MASH-1",
        "c-1",
    )
    assert (second["event_id"], second["correlation_id"]) == ("e-2", "c-2")
    assert "case_reference" not in second
    assert not {"event_id", "case_reference", "correlation_id"} & third.keys()


def test_lines_below_the_configured_level_are_dropped(output: io.StringIO) -> None:
    structlog.get_logger().debug("noisy")
    logging.getLogger("aiokafka").debug("noisy too")

    assert lines(output) == []


def test_pydantic_models_and_dataclasses_are_redacted_by_their_field_names(
    output: io.StringIO,
) -> None:
    class Child(BaseModel):
        name: str
        dob: str
        agency: str

    @dataclass
    class Referrer:
        full_name: str
        mobile: str
        agency: str

    structlog.get_logger().info(
        "payloads",
        child=Child(name="Jane Doe", dob="2015-04-01", agency="health"),
        referrer=Referrer(full_name="Pat Referrer", mobile="07700 900123", agency="police"),
    )

    assert_no_personal_data(output.getvalue())
    line = only_line(output)
    assert line["child"]["agency"] == "health"
    assert line["referrer"]["agency"] == "police"


def test_an_exception_is_logged_with_its_class_and_code_locations_not_its_message(
    output: io.StringIO,
) -> None:
    try:
        raise ValueError("bad offset Jane Doe")
    except ValueError:
        structlog.get_logger().exception("handler_failed", case_reference="MASH-9")

    line = only_line(output)
    assert line["exception"].startswith("ValueError (message withheld)")
    assert "test_logging.py:" in line["exception"]
    assert "Jane Doe" not in output.getvalue()
    assert line["level"] == "error"


def test_console_output_is_redacted_too() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config()
    buffer = io.StringIO()
    try:
        configure_logging("notifications", json=False, stream=buffer)
        structlog.get_logger().info("sent", email="pat@example.org", case_reference="MASH-2")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)

    assert "pat@example.org" not in buffer.getvalue()
    assert "MASH-2" in buffer.getvalue()


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError):
        configure_logging("intake", level="CHATTY")


def test_the_redaction_processor_leaves_the_callers_objects_untouched() -> None:
    child = {"name": "Jane Doe", "agency": "health"}
    event_dict = {"event": "x", "children": [child]}

    redacted = redact_personal_data(None, "info", event_dict)

    assert redacted["children"] == [{"name": REDACTED, "agency": "health"}]
    assert child == {"name": "Jane Doe", "agency": "health"}


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "Name",
        "first_name",
        "lastName",
        "full_name",
        "given_name",
        "family_name",
        "father_name",
        "referrer_name",
        "surname",
        "referrername",
        "date_of_birth",
        "dateOfBirth",
        "DOB",
        "child_dob",
        "birth_date",
        "address",
        "address_line_1",
        "addressLine2",
        "postcode",
        "post_code",
        "phone",
        "telephone",
        "mobile_number",
        "email",
        "e_mail",
        "nhs_number",
        "NHSNumber",
        "concern",
        "concerns",
        "description",
        "details",
        "notes",
        "narrative",
        "summary",
        "free_text",
        "text",
        "rationale",
        "decision_rationale",
        "message_body",
    ],
)
def test_keys_naming_personal_data_are_recognised(key: str) -> None:
    assert is_personal_data_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "event",
        "event_id",
        "case_reference",
        "correlation_id",
        "service",
        "level",
        "timestamp",
        "logger",
        "agency",
        "partnership",
        "topic",
        "context",
        "namespace",
        "outcome",
        "attempt",
        "status_code",
        "exception",
    ],
)
def test_operational_keys_are_kept(key: str) -> None:
    assert not is_personal_data_key(key)
