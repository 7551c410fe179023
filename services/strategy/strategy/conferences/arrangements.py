"""What a calendar invite needs besides the start (issue 15): the format, the end, and
where (an office address for a meeting in person, never the family's) or how to join (a
link or number for a video call or phone calls). Shared by the ICPC, review conferences
and core groups; all optional, so a conference arranged without them still works (the
invitation then lasts an hour and names no place)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mashcore.problems import invalid_fields


@dataclass(frozen=True)
class Arrangement:
    format: str | None = None
    ends_at: datetime | None = None
    location: str | None = None
    dial_in: str | None = None


class _Arranged(Protocol):
    format: str | None
    ends_at: datetime | None
    location: str | None
    dial_in: str | None


def check(scheduled_for: datetime, a: Arrangement) -> None:
    """A 422 naming the fields when the end is not after the start or the format lacks
    its place (meeting: location; video call or phone calls: dial_in)."""
    errors: list[tuple[str, str]] = []
    if a.ends_at is not None and a.ends_at <= scheduled_for:
        errors.append(("ends_at", "must be after scheduled_for"))
    if a.format == "meeting" and not a.location:
        errors.append(("location", "a meeting in person needs a location"))
    if a.format in ("video_call", "phone_calls") and not a.dial_in:
        errors.append(("dial_in", "an online meeting or phone calls need a dial-in"))
    if errors:
        raise invalid_fields("Schedule refused", errors)


def store(row: _Arranged, a: Arrangement) -> None:
    """The latest arrangement replaces the previous one (a reschedule restates it)."""
    row.format, row.ends_at, row.location, row.dial_in = \
        a.format, a.ends_at, a.location, a.dial_in


def fields(row: _Arranged) -> dict[str, Any]:
    """For the scheduled event and the views: only what was given."""
    return {k: v for k, v in (
        ("format", row.format), ("ends_at", row.ends_at.isoformat() if row.ends_at else None),
        ("location", row.location), ("dial_in", row.dial_in)) if v is not None}
