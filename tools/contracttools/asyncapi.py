"""The AsyncAPI document (``contracts/asyncapi.yaml``) as data, and the README tables made from it.

The document says, per Kafka topic (one channel each), which event types travel on it (one message
each) and which service sends or receives them (operations carrying ``x-service`` and
``x-status``). This module derives one row per topic from that, renders the tables of
``contracts/README.md`` between its generated-section markers, and checks or rewrites them::

    python -m contracttools.asyncapi            # print the generated section
    python -m contracttools.asyncapi --write    # rewrite it in contracts/README.md
    python -m contracttools.asyncapi --check    # exit 1 if contracts/README.md has drifted
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
DEFAULT_DOCUMENT = CONTRACTS / "asyncapi.yaml"
DEFAULT_README = CONTRACTS / "README.md"
BEGIN_MARKER = "<!-- BEGIN GENERATED: topics -->"
END_MARKER = "<!-- END GENERATED: topics -->"

LIVE = "live"
STATUSES = (LIVE, "planned", "external")
SEND = "send"
RECEIVE = "receive"
DEAD_LETTER = "dead-letter"
SLA = "sla"
DOMAIN = "domain"
CASE_KEY_REF = "#/components/schemas/CaseReference"
EVENT_SCHEMA_PREFIX = "./events/"
EVENT_SCHEMA_SUFFIX = ".schema.json"


class AsyncApiError(ValueError):
    """The AsyncAPI document does not have the shape this module relies on."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One service sending to or receiving from one channel."""

    id: str
    action: str
    service: str
    status: str
    channel_id: str
    topic: str
    message_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Participant:
    """A service at one end of a topic, with the status of its operation there."""

    service: str
    status: str

    def label(self) -> str:
        """The service, with its status unless it is live."""
        return self.service if self.status == LIVE else f"{self.service} ({self.status})"


@dataclass(frozen=True, slots=True)
class TopicRow:
    """One topic: what travels on it, who sends and who receives it, and notes."""

    topic: str
    kind: str
    event_types: tuple[str, ...]
    producers: tuple[Participant, ...]
    consumers: tuple[Participant, ...]
    dead_letter_of: str | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Service:
    """A service named by the operations (a tag in ``components.tags``)."""

    name: str
    status: str
    description: str


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AsyncApiError(f"{where} must be a mapping")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise AsyncApiError(f"{where} must be a non-empty string")
    return value


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


class AsyncApiDocument:
    """An AsyncAPI 3 document as plain data, with the derived views the README and tests need."""

    def __init__(self, raw: Mapping[str, Any], path: Path | None = None) -> None:
        if str(raw.get("asyncapi", "")).split(".")[0] != "3":
            raise AsyncApiError("expected an AsyncAPI 3.x document")
        self.raw = raw
        self.path = path

    @classmethod
    def load(cls, path: Path = DEFAULT_DOCUMENT) -> AsyncApiDocument:
        """Read the YAML document at ``path``."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(_mapping(raw, str(path)), path)

    # -- raw access -------------------------------------------------------------------------

    def resolve(self, ref: str) -> Any:
        """The node a local reference (``#/a/b``) points at."""
        if not ref.startswith("#/"):
            raise AsyncApiError(f"only local references can be resolved here: {ref}")
        node: Any = self.raw
        for token in ref[2:].split("/"):
            key = _unescape(token)
            if not isinstance(node, Mapping) or key not in node:
                raise AsyncApiError(f"dangling reference {ref}")
            node = node[key]
        return node

    def deref(self, node: Any) -> Any:
        """Follow local references until a node that is not one."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise AsyncApiError(f"reference cycle through {ref}")
            seen.add(ref)
            node = self.resolve(ref)
        return node

    def section(self, name: str) -> Mapping[str, Any]:
        """A top-level mapping such as ``channels`` or ``operations`` (empty if absent)."""
        return _mapping(self.raw.get(name) or {}, name)

    def component(self, name: str) -> Mapping[str, Any]:
        """A mapping under ``components`` such as ``messages`` (empty if absent)."""
        return _mapping(self.section("components").get(name) or {}, f"components.{name}")

    # -- channels and messages --------------------------------------------------------------

    def channels(self) -> Mapping[str, Mapping[str, Any]]:
        """Channel id to channel object."""
        return {cid: _mapping(c, f"channels.{cid}") for cid, c in self.section("channels").items()}

    def topic_of(self, channel_id: str) -> str:
        """The Kafka topic (channel address) of a channel."""
        return _string(self.channels()[channel_id].get("address"), f"channels.{channel_id}.address")

    def topics(self) -> list[str]:
        """Every topic, in document order."""
        return [self.topic_of(cid) for cid in self.channels()]

    def kind_of(self, channel_id: str) -> str:
        """``domain``, ``sla`` or ``dead-letter``, from the channel's tags."""
        channel = self.channels()[channel_id]
        tags = {str(self.deref(tag).get("name")) for tag in channel.get("tags") or []}
        for kind in (DEAD_LETTER, SLA):
            if kind in tags:
                return kind
        return DOMAIN

    def channel_message_names(self, channel_id: str) -> list[str]:
        """The ``name`` of every message a channel carries, in document order."""
        messages = _mapping(self.channels()[channel_id].get("messages") or {}, channel_id)
        return [self.message_name(message) for message in messages.values()]

    def message_name(self, message: Any) -> str:
        """A message's name (for event messages, the CloudEvents type)."""
        resolved = _mapping(self.deref(message), "message")
        return _string(resolved.get("name"), "message name")

    def messages(self) -> Mapping[str, Mapping[str, Any]]:
        """Component message id to message object."""
        return {mid: _mapping(m, mid) for mid, m in self.component("messages").items()}

    @staticmethod
    def event_schema_ref(message: Mapping[str, Any]) -> str | None:
        """The ``./events/<type>.schema.json`` file an event message's payload refers to."""
        payload = message.get("payload")
        if not isinstance(payload, Mapping):
            return None
        schema = payload.get("schema")
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        if isinstance(ref, str) and ref.startswith(EVENT_SCHEMA_PREFIX):
            return ref
        return None

    def event_messages(self) -> dict[str, Mapping[str, Any]]:
        """Event type to its message: every message whose payload is an event schema file."""
        found: dict[str, Mapping[str, Any]] = {}
        for mid, message in self.messages().items():
            if self.event_schema_ref(message) is not None:
                name = _string(message.get("name"), f"components.messages.{mid}.name")
                if name in found:
                    raise AsyncApiError(f"two messages are named {name}")
                found[name] = message
        return found

    def key_ref(self, message: Mapping[str, Any]) -> str | None:
        """The ``$ref`` of a message's Kafka key schema, if it is a reference."""
        bindings = message.get("bindings") or {}
        kafka = bindings.get("kafka") if isinstance(bindings, Mapping) else None
        key = kafka.get("key") if isinstance(kafka, Mapping) else None
        ref = key.get("$ref") if isinstance(key, Mapping) else None
        return ref if isinstance(ref, str) else None

    # -- services and operations ------------------------------------------------------------

    def services(self) -> dict[str, Service]:
        """Every service tag in ``components.tags``, by name."""
        found: dict[str, Service] = {}
        for tid, tag in self.component("tags").items():
            tag = _mapping(tag, f"components.tags.{tid}")
            name = _string(tag.get("name"), f"components.tags.{tid}.name")
            found[name] = Service(
                name=name,
                status=_string(tag.get("x-status"), f"components.tags.{tid}.x-status"),
                description=str(tag.get("description", "")).strip(),
            )
        return found

    def operations(self) -> list[Operation]:
        """Every operation, in document order."""
        found = []
        for oid, op in self.section("operations").items():
            where = f"operations.{oid}"
            op = _mapping(op, where)
            channel = _mapping(op.get("channel"), f"{where}.channel")
            channel_ref = _string(channel.get("$ref"), f"{where}.channel.$ref")
            if not channel_ref.startswith("#/channels/"):
                raise AsyncApiError(f"{where}.channel must refer to #/channels/...")
            channel_id = _unescape(channel_ref.removeprefix("#/channels/"))
            if channel_id not in self.channels():
                raise AsyncApiError(f"{where}.channel refers to a missing channel {channel_id}")
            refs = op.get("messages")
            names = (
                tuple(self.message_name(ref) for ref in refs)
                if refs is not None
                else tuple(self.channel_message_names(channel_id))
            )
            status = _string(op.get("x-status"), f"{where}.x-status")
            if status not in STATUSES:
                raise AsyncApiError(f"{where}.x-status must be one of {STATUSES}")
            found.append(
                Operation(
                    id=oid,
                    action=_string(op.get("action"), f"{where}.action"),
                    service=_string(op.get("x-service"), f"{where}.x-service"),
                    status=status,
                    channel_id=channel_id,
                    topic=self.topic_of(channel_id),
                    message_names=names,
                )
            )
        return found

    def consumed_topics(self) -> list[str]:
        """Topics that some operation receives, excluding dead-letter topics."""
        topics = {
            op.topic
            for op in self.operations()
            if op.action == RECEIVE and self.kind_of(op.channel_id) != DEAD_LETTER
        }
        return [t for t in self.topics() if t in topics]

    def dead_letter_of(self, channel_id: str) -> str | None:
        """The topic a dead-letter channel collects the failures of."""
        value = self.channels()[channel_id].get("x-dead-letter-of")
        return value if isinstance(value, str) else None

    # -- the README -------------------------------------------------------------------------

    def rows(self) -> list[TopicRow]:
        """One row per topic: event types, producers, consumers and notes."""
        operations = self.operations()
        events = self.event_messages()
        rows = []
        for channel_id in self.channels():
            ops = [op for op in operations if op.channel_id == channel_id]
            kind = self.kind_of(channel_id)
            names = tuple(self.channel_message_names(channel_id))
            event_types = tuple(n for n in names if n in events)
            producers = _participants(op for op in ops if op.action == SEND)
            consumers = _participants(op for op in ops if op.action == RECEIVE)
            of = self.dead_letter_of(channel_id)
            notes: list[str] = []
            if kind == DEAD_LETTER:
                notes.append(
                    f"dead letters of `{of}`: original key and bytes plus `dlq_*` headers; "
                    "written by its consumers, read by operators"
                )
            elif kind == SLA:
                notes.append("SLA clocks for ops dashboards; no personal data")
            not_case = [n for n in event_types if self.key_ref(events[n]) != CASE_KEY_REF]
            if not_case:
                listed = ", ".join(f"`{n}`" for n in not_case)
                notes.append(f"not cases, keyed by their own id: {listed}")
            if producers and all(p.status != LIVE for p in producers):
                notes.append("no live producer yet")
            rows.append(
                TopicRow(
                    topic=self.topic_of(channel_id),
                    kind=kind,
                    event_types=event_types,
                    producers=producers,
                    consumers=consumers,
                    dead_letter_of=of,
                    notes=tuple(notes),
                )
            )
        return rows


def _participants(ops: Iterator[Operation] | Sequence[Operation]) -> tuple[Participant, ...]:
    seen: dict[str, Participant] = {}
    for op in ops:
        seen.setdefault(op.service, Participant(op.service, op.status))
    return tuple(seen.values())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _names(participants: Sequence[Participant]) -> str:
    return ", ".join(p.label() for p in participants) or "—"


def render_readme_table(document: AsyncApiDocument | None = None) -> str:
    """The generated section of contracts/README.md (between the markers), ending in a newline."""
    doc = document or AsyncApiDocument.load()
    lines = [
        "<!-- Generated from contracts/asyncapi.yaml by "
        "`python -m contracttools.asyncapi --write`; edit the YAML, not this section. -->",
        "",
        "### Topics",
        "",
        "Every topic is keyed by the case reference (the CloudEvents subject) unless noted, and "
        "every message carries the CloudEvents `ce_*` headers.",
        "",
        "| Topic | Event types | Producers | Consumers | Notes |",
        "|---|---|---|---|---|",
    ]
    for row in doc.rows():
        types = "<br>".join(f"`{t}`" for t in row.event_types) or "any (as it arrived)"
        lines.append(
            f"| `{row.topic}` | {types} | {_cell(_names(row.producers))} | "
            f"{_cell(_names(row.consumers))} | {_cell('; '.join(row.notes)) or '—'} |"
        )
    lines += [
        "",
        "### Who handles what",
        "",
        "| Consumer | Topic | Event types handled | Status |",
        "|---|---|---|---|",
    ]
    for op in doc.operations():
        if op.action != RECEIVE:
            continue
        channel_types = doc.channel_message_names(op.channel_id)
        if list(op.message_names) == channel_types:
            handled = f"all {len(channel_types)}"
        else:
            handled = "<br>".join(f"`{n}`" for n in op.message_names)
        lines.append(f"| {op.service} | `{op.topic}` | {handled} | {op.status} |")
    lines += [
        "",
        "### Services",
        "",
        "Status: **live** = built and running today (not every event type an operation lists "
        "need be emitted yet); **planned** = designed here, not built yet; **external** = "
        "outside this repository.",
        "",
        "| Service | Status | What it is |",
        "|---|---|---|",
    ]
    for service in doc.services().values():
        lines.append(
            f"| {service.name} | {service.status} | {_cell(service.description)} |"
        )
    return "\n".join(lines) + "\n"


def generated_section(readme_text: str) -> str:
    """What lies between the markers of a README (the text after the BEGIN marker's line)."""
    start = readme_text.find(BEGIN_MARKER)
    end = readme_text.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise AsyncApiError(f"README lacks the markers {BEGIN_MARKER} ... {END_MARKER}")
    return readme_text[start + len(BEGIN_MARKER) : end].removeprefix("\n")


def with_generated_section(readme_text: str, body: str) -> str:
    """The README with the generated section replaced by ``body``."""
    generated_section(readme_text)  # the markers must be there
    head, rest = readme_text.split(BEGIN_MARKER, 1)
    _, tail = rest.split(END_MARKER, 1)
    return f"{head}{BEGIN_MARKER}\n{body}{END_MARKER}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Print, write or check the generated section of contracts/README.md."""
    parser = argparse.ArgumentParser(
        prog="python -m contracttools.asyncapi",
        description="The topic tables of contracts/README.md, made from the AsyncAPI document.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the README's generated section")
    mode.add_argument("--check", action="store_true", help="exit 1 if the README section drifted")
    parser.add_argument("--document", type=Path, default=DEFAULT_DOCUMENT)
    parser.add_argument("--readme", type=Path, default=DEFAULT_README)
    args = parser.parse_args(argv)

    body = render_readme_table(AsyncApiDocument.load(args.document))
    if not (args.write or args.check):
        sys.stdout.write(body)
        return 0
    readme: Path = args.readme
    current = readme.read_text(encoding="utf-8")
    if args.check:
        if generated_section(current) != body:
            sys.stderr.write(
                f"{readme} is out of date: run `python -m contracttools.asyncapi --write`\n"
            )
            return 1
        return 0
    updated = with_generated_section(current, body)
    if updated != current:
        readme.write_text(updated, encoding="utf-8")
        sys.stderr.write(f"updated {readme}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
