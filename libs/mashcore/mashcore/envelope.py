"""CloudEvents 1.0 envelope, carried in Kafka binary content mode (``ce_*`` headers).

Extensions: ``recordedtime`` (when the system recorded the fact, as opposed to ``time``,
when it happened), ``correlationid``, ``causationid`` and ``partnership`` (the safeguarding
partnership whose policy applies).

Decision: hand-written rather than the ``cloudevents`` SDK. Binary mode is a fixed mapping of a
dozen attributes to headers, and owning it lets us keep the envelope immutable, typed, and
strict about timezone-aware times, which the SDK does not enforce.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mashcore.ids import new_id
from mashcore.messages import Message

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_REQUIRED = ("id", "source", "type", "subject", "time", "recordedtime", "correlationid",
             "partnership")


class InvalidEnvelope(ValueError):
    """A message that is not a well-formed CloudEvent of ours."""


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a trailing Z."""
    if value.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without offset: {value}")
    return parsed.astimezone(UTC)


def new_event_id() -> str:
    """A fresh globally unique event id."""
    return new_id()


@dataclass(frozen=True, slots=True)
class Event:
    """An immutable CloudEvent whose subject is the case reference."""

    type: str
    source: str
    subject: str
    time: datetime
    recordedtime: datetime
    partnership: str
    data: Mapping[str, Any]
    correlationid: str = ""
    causationid: str | None = None
    id: str = field(default_factory=new_event_id)

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.recordedtime.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        if not self.correlationid:
            object.__setattr__(self, "correlationid", self.id)

    @property
    def case_reference(self) -> str:
        """The case this event belongs to (the CloudEvents subject)."""
        return self.subject

    def follow_up(
        self,
        *,
        type: str,
        source: str,
        data: Mapping[str, Any],
        recordedtime: datetime,
        time: datetime | None = None,
    ) -> Event:
        """An event caused by this one: same case, partnership and correlation."""
        return Event(
            type=type,
            source=source,
            subject=self.subject,
            time=time or recordedtime,
            recordedtime=recordedtime,
            partnership=self.partnership,
            data=data,
            correlationid=self.correlationid,
            causationid=self.id,
        )

    def headers(self) -> tuple[tuple[str, bytes], ...]:
        """CloudEvents binary-mode Kafka headers."""
        attributes = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_subject": self.subject,
            "ce_time": format_time(self.time),
            "ce_recordedtime": format_time(self.recordedtime),
            "ce_correlationid": self.correlationid,
            "ce_partnership": self.partnership,
            "content-type": CONTENT_TYPE,
        }
        if self.causationid:
            attributes["ce_causationid"] = self.causationid
        return tuple((k, v.encode("utf-8")) for k, v in attributes.items())

    def encode_data(self) -> bytes:
        """The JSON body."""
        return json.dumps(self.data, separators=(",", ":"), sort_keys=True).encode("utf-8")

    def to_message(self, topic: str) -> Message:
        """Binary-mode message keyed by case reference, so a case's events stay ordered."""
        return Message(
            topic=topic,
            key=self.subject.encode("utf-8"),
            value=self.encode_data(),
            headers=self.headers(),
        )

    @classmethod
    def from_message(cls, message: Message) -> Event:
        """Decode a binary-mode message; raise InvalidEnvelope naming what is wrong."""
        try:
            attrs = {
                key[3:]: value.decode("utf-8", errors="strict")
                for key, value in message.headers
                if key.startswith("ce_")
            }
        except UnicodeDecodeError as exc:
            raise InvalidEnvelope("a ce_* header is not UTF-8") from exc
        missing = [name for name in _REQUIRED if not attrs.get(name)]
        if attrs.get("specversion") != SPEC_VERSION:
            missing.append("specversion")
        if missing:
            raise InvalidEnvelope(f"missing or invalid CloudEvents attributes: {sorted(missing)}")
        content_type = message.header("content-type") or CONTENT_TYPE
        if not content_type.startswith(CONTENT_TYPE):
            raise InvalidEnvelope(f"unsupported content-type {content_type!r}")
        try:
            data = json.loads(message.value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEnvelope(f"data is not JSON: {exc.__class__.__name__}") from exc
        if not isinstance(data, dict):
            raise InvalidEnvelope("data must be a JSON object")
        try:
            time = parse_time(attrs["time"])
            recordedtime = parse_time(attrs["recordedtime"])
        except ValueError as exc:
            raise InvalidEnvelope(f"bad timestamp: {exc}") from exc
        return cls(
            id=attrs["id"],
            source=attrs["source"],
            type=attrs["type"],
            subject=attrs["subject"],
            time=time,
            recordedtime=recordedtime,
            partnership=attrs["partnership"],
            correlationid=attrs["correlationid"],
            causationid=attrs.get("causationid") or None,
            data=data,
        )


