"""The AsyncAPI document passes the official parser and agrees with schemas, code and README."""

from __future__ import annotations

import ast
import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracttools.asyncapi import (
    CASE_KEY_REF,
    DEFAULT_DOCUMENT,
    DEFAULT_README,
    LIVE,
    RECEIVE,
    SEND,
    AsyncApiDocument,
    generated_section,
    render_readme_table,
)
from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore import topics as topics_module
from mashcore.envelope import Event
from mashcore.topics import dead_letter_topic

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
EVENTS = CONTRACTS / "events"
VALIDATOR_DIR = REPO / "tools" / "asyncapi"
VALIDATOR = VALIDATOR_DIR / "validate.mjs"
PARSER_PACKAGE = VALIDATOR_DIR / "node_modules" / "@asyncapi" / "parser" / "package.json"
DEAD_LETTER_MESSAGE = "deadLetter"


@cache
def document() -> AsyncApiDocument:
    return AsyncApiDocument.load(DEFAULT_DOCUMENT)


def schema_types() -> set[str]:
    return {p.name.removesuffix(".schema.json") for p in EVENTS.glob("*.schema.json")}


def run_validator(path: Path) -> subprocess.CompletedProcess[str]:
    """Run tools/asyncapi/validate.mjs on a document; fail (never skip) if it cannot run."""
    if shutil.which("node") is None:
        pytest.fail("Node.js is not installed: run `make system-deps` (Debian nodejs and npm)")
    if not PARSER_PACKAGE.exists():
        pytest.fail(
            "tools/asyncapi/node_modules is missing: run `make node-deps` "
            "(npm ci --prefix tools/asyncapi) to install the AsyncAPI parser"
        )
    return subprocess.run(
        ["node", str(VALIDATOR), str(path)],
        capture_output=True, text=True, timeout=180, check=False, cwd=REPO,
    )


@pytest.fixture(scope="module")
def validated() -> dict[str, Any]:
    """The validator's JSON summary of contracts/asyncapi.yaml."""
    result = run_validator(DEFAULT_DOCUMENT)
    assert result.returncode == 0, (
        f"validate.mjs exited {result.returncode}:\n{result.stderr}\n{result.stdout}"
    )
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_the_official_asyncapi_parser_accepts_the_document(validated: dict[str, Any]) -> None:
    assert validated["asyncapi"] == "3.0.0"
    assert validated["parser"].startswith("@asyncapi/parser ")
    parsed = {c["address"]: set(c["messages"]) for c in validated["channels"]}
    ours = {
        document().topic_of(cid): set(c.get("messages") or {})
        for cid, c in document().channels().items()
    }
    assert parsed == ours, "the parser and contracttools read the same channels and messages"
    payload_formats = {
        m["schemaFormat"] for m in validated["messages"] if m["id"] != DEAD_LETTER_MESSAGE
    }
    assert payload_formats == {"application/schema+json;version=2020-12"}


def test_every_event_schema_has_exactly_one_message_and_every_event_message_its_schema() -> None:
    doc = document()
    names = [
        str(m.get("name")) for m in doc.messages().values() if doc.event_schema_ref(m) is not None
    ]
    assert sorted(names) == sorted(set(names)), "one message per event type"
    assert set(names) == schema_types()
    for name, message in doc.event_messages().items():
        assert doc.event_schema_ref(message) == f"./events/{name}.schema.json"
        assert message["contentType"] == "application/json"
        carriers = [cid for cid in doc.channels() if name in doc.channel_message_names(cid)]
        assert len(carriers) == 1, f"{name} travels on exactly one topic, not {carriers}"


def test_each_message_is_keyed_by_case_reference_unless_its_event_is_not_about_a_case() -> None:
    doc = document()
    for name, message in doc.event_messages().items():
        schema = json.loads((EVENTS / f"{name}.schema.json").read_text())
        about_a_case = "case_reference" in schema.get("required", [])
        key = doc.key_ref(message)
        assert (key == CASE_KEY_REF) == about_a_case, f"{name}: key {key}"
        narrowed = message["headers"]["allOf"][1]["properties"]
        assert narrowed["ce_subject"] == {"$ref": key}, f"{name}: ce_subject is the key"


def test_each_message_has_the_cloudevents_headers_of_its_own_type_and_producer() -> None:
    doc = document()
    producer = {
        op.channel_id: op.service for op in doc.operations()
        if op.action == SEND and doc.kind_of(op.channel_id) != "dead-letter"
    }
    for name, message in doc.event_messages().items():
        shared, narrowed = message["headers"]["allOf"]
        assert shared == {"$ref": "#/components/schemas/CloudEventsHeaders"}
        (channel,) = [cid for cid in doc.channels() if name in doc.channel_message_names(cid)]
        assert narrowed["properties"]["ce_type"] == {"const": name}
        assert narrowed["properties"]["ce_source"] == {"const": f"/mash/{producer[channel]}"}


def test_the_cloudevents_headers_schema_lists_exactly_what_the_envelope_writes() -> None:
    headers = document().resolve("#/components/schemas/CloudEventsHeaders")
    now = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
    first = Event(type="mash.triage.case.opened.v1", source="/mash/triage",
                  subject="MASH-2026-K7QX3MZP", time=now, recordedtime=now,
                  partnership="coventry", data={})
    caused = first.follow_up(type="mash.triage.rating.given.v1", source="/mash/triage",
                             data={}, recordedtime=now)
    assert set(headers["required"]) == {k for k, _ in first.headers()}
    assert set(headers["properties"]) == {k for k, _ in caused.headers()}
    assert headers["properties"]["ce_specversion"]["const"] == "1.0"


def test_the_dead_letter_headers_are_the_ones_the_consumer_writes() -> None:
    source = (REPO / "libs" / "mashcore" / "mashcore" / "consumer.py").read_text()
    written = {
        node.value for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value.startswith("dlq_")
    }
    schema = document().resolve("#/components/schemas/DeadLetterHeaders")
    assert written == set(schema["required"]) == set(schema["properties"])


def test_every_topic_constant_in_mashcore_topics_has_a_channel() -> None:
    constants = {
        name: value for name, value in vars(topics_module).items()
        if name.isupper() and isinstance(value, str) and value.startswith("mash.")
    }
    assert constants, "mashcore.topics names the topics"
    missing = {name: value for name, value in constants.items() if value not in document().topics()}
    assert missing == {}


def test_every_channel_id_is_its_topic_and_every_topic_is_versioned() -> None:
    doc = document()
    for cid in doc.channels():
        topic = doc.topic_of(cid)
        assert cid == topic
        assert topic.removesuffix(".dlq").rsplit(".", 1)[-1][1:].isdigit(), topic


def test_every_consumed_topic_has_its_dead_letter_channel_written_by_its_consumers() -> None:
    doc = document()
    consumed = doc.consumed_topics()
    assert consumed, "something consumes"
    for topic in consumed:
        dlq = dead_letter_topic(topic)
        assert dlq in doc.channels(), f"{topic} has no dead-letter channel {dlq}"
        assert doc.kind_of(dlq) == "dead-letter"
        assert doc.dead_letter_of(dlq) == topic
        assert doc.channel_message_names(dlq) == ["mash.dead-letter"]
        consumers = {
            (op.service, op.status) for op in doc.operations()
            if op.action == RECEIVE and op.topic == topic and op.status != "external"
        }
        writers = {
            (op.service, op.status) for op in doc.operations()
            if op.action == SEND and op.topic == dlq
        }
        assert writers == consumers, f"the consumers of {topic} dead-letter to {dlq}"
    dead_letter_channels = {cid for cid in doc.channels() if doc.kind_of(cid) == "dead-letter"}
    assert dead_letter_channels == {dead_letter_topic(t) for t in consumed}


def test_operations_are_named_service_action_channel_and_their_services_are_declared() -> None:
    doc = document()
    services = doc.services()
    for op in doc.operations():
        assert op.id == f"{op.service}.{op.action}.{op.channel_id}"
        assert op.action in (SEND, RECEIVE)
        assert op.service in services, f"{op.id}: undeclared service {op.service}"
        if services[op.service].status != LIVE:
            assert op.status == services[op.service].status, op.id
    assert services["sla-timekeeper"].status == LIVE
    assert services["ops-dashboard"].status == "external"
    sla_consumers = {op.service for op in doc.operations() if op.action == RECEIVE
                     and op.topic == topics_module.SLA}
    assert "ops-dashboard" in sla_consumers


def test_live_operations_are_exactly_what_the_services_definitions_produce_and_consume() -> None:
    doc = document()
    for definition in iter_definitions(list(SERVICE_MODULES)):
        consumed = [t for spec in definition.consumers for t in spec.topics]
        expected = (
            {(SEND, t) for t in definition.produces}
            | {(RECEIVE, t) for t in consumed}
            | {(SEND, dead_letter_topic(t)) for t in consumed}
        )
        live = {
            (op.action, op.topic) for op in doc.operations()
            if op.service == definition.name and op.status == LIVE
        }
        assert live == expected, (
            f"{definition.name}: mark operations live in contracts/asyncapi.yaml exactly when "
            "the service's ServiceDefinition produces or consumes the topic"
        )
        assert doc.services()[definition.name].status == LIVE


def test_every_reference_stays_inside_the_repository() -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(dict(document().raw)):
        assert ref.startswith(("#/", "./events/")), ref
        if ref.startswith("#/"):
            document().resolve(ref)


def test_the_readme_topic_tables_are_generated_from_the_asyncapi_document() -> None:
    section = generated_section(DEFAULT_README.read_text(encoding="utf-8"))
    assert section == render_readme_table(document()), (
        "contracts/README.md has drifted from contracts/asyncapi.yaml: "
        "run `.venv/bin/python -m contracttools.asyncapi --write`"
    )


def test_the_readme_names_every_topic_and_event_type() -> None:
    section = generated_section(DEFAULT_README.read_text(encoding="utf-8"))
    for topic in document().topics():
        assert f"| `{topic}` |" in section
    for event_type in schema_types():
        assert f"`{event_type}`" in section


Breakage = Callable[[dict[str, Any], Path], None]


def _break_message_ref(raw: dict[str, Any], _events: Path) -> None:
    channel = raw["channels"]["mash.triage.cases.v1"]
    channel["messages"]["mash.triage.case.closed.v1"] = {
        "$ref": "#/components/messages/mash.triage.case.closed.v1"
    }


def _break_operation_channel(raw: dict[str, Any], _events: Path) -> None:
    raw["operations"]["triage.receive.mash.intake.contacts.v1"]["messages"].append(
        {"$ref": "#/channels/mash.triage.cases.v1/messages/mash.triage.case.opened.v1"}
    )


def _break_payload_schema(_raw: dict[str, Any], events: Path) -> None:
    path = events / "mash.triage.case.opened.v1.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["opened_at"]["type"] = "timestamp"
    path.write_text(json.dumps(schema))


def _break_example(_raw: dict[str, Any], events: Path) -> None:
    path = events / "mash.triage.case.opened.v1.schema.json"
    schema = json.loads(path.read_text())
    schema["examples"][0]["case_reference"] = "not-a-case-reference"
    path.write_text(json.dumps(schema))


def _break_schema_format(raw: dict[str, Any], _events: Path) -> None:
    payload = raw["components"]["messages"]["mash.triage.case.opened.v1"]["payload"]
    payload["schemaFormat"] = "application/schema+json;version=2019-09"


# What to break, and what the validator must say about it.
BREAKAGES: dict[str, tuple[Breakage, str]] = {
    "a channel refers to a message that does not exist": (
        _break_message_ref, "mash.triage.case.closed.v1"),
    "an operation lists a message of another channel": (
        _break_operation_channel, "does not belong to the specified channel"),
    "a referenced payload schema is not valid JSON Schema 2020-12": (
        _break_payload_schema, "not valid JSON Schema 2020-12"),
    "a referenced payload schema's example does not conform to it": (
        _break_example, "examples/0 does not conform"),
    "a payload declares a schema format no parser handles": (
        _break_schema_format, "no schema parser"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES), ids=lambda b: b.replace(" ", "_"))
def test_the_validator_rejects_a_broken_copy_of_the_document(
    breakage: str, tmp_path: Path
) -> None:
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_DOCUMENT.read_text(encoding="utf-8")))
    shutil.copytree(EVENTS, tmp_path / "events")
    break_it, expected = BREAKAGES[breakage]
    break_it(raw, tmp_path / "events")
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")

    result = run_validator(broken)

    assert result.returncode == 1, f"{breakage}: validator passed\n{result.stderr}"
    assert expected in result.stderr, result.stderr
    assert result.stdout == ""
