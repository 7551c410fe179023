"""Pure mapping for the conference pages: form fields to the strategy API's bodies, and
API answers to what the pages show (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from workbench import views

FAMILY_ROLES = ("child", "parent_or_carer", "family_member", "supporter", "advocate")

# The strategy API's cancellation codes (conferences.cancellation.REASONS), in words.
CANCEL_REASONS: dict[str, str] = {
    "chair_unavailable": "The chair cannot attend",
    "key_practitioners_unavailable": "Key practitioners cannot attend",
    "family_unavailable": "The family cannot attend",
    "reports_not_ready": "Reports are not ready",
    "venue_or_dial_in_unavailable": "The venue or dial-in is not available",
    "arranged_in_error": "Arranged in error",
}

FORMATS: dict[str, str] = {
    "meeting": "A meeting in person",
    "video_call": "An online meeting",
    "phone_calls": "Phone calls",
}

CATEGORIES: dict[str, str] = {
    "neglect": "Neglect",
    "physical": "Physical abuse",
    "emotional": "Emotional abuse",
    "sexual": "Sexual abuse",
}

SCHEDULE_FIELDS = ("scheduled_for", "chaired_by_iro", "invitees", "family_not_invited_reason",
                   "format", "ends_at", "location", "dial_in")
CANCEL_FIELDS = ("reason",)


def participants(text: str) -> list[dict[str, str]]:
    """One participant a line: ``role, agency[, user id]`` for a practitioner, ``role`` for
    the family side (never a name)."""
    people = []
    for line in views.lines(text):
        parts = [part.strip() for part in line.split(",")]
        person = {"role": parts[0].lower().replace(" ", "_")}
        if len(parts) > 1 and parts[1]:
            person["agency"] = parts[1].lower().replace(" ", "_")
        if len(parts) > 2 and parts[2]:
            person["user_id"] = parts[2]
        people.append(person)
    return people


def participant_lines(people: Iterable[Mapping[str, Any]]) -> str:
    """The inverse of ``participants``: the textarea's text for a list of participants."""
    return "\n".join(", ".join(str(p[k]) for k in ("role", "agency", "user_id") if p.get(k))
                     for p in people)


def _datetime(value: str) -> str:
    """A ``datetime-local`` input (no zone) as the API's ISO 8601 UTC; other text as typed,
    so the API names it."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.isoformat() if parsed.tzinfo else parsed.isoformat() + "+00:00"


def schedule_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The ICPC schedule form as ``IcpcScheduleIn``: blank optional fields left out."""
    body: dict[str, Any] = {"invitees": participants(fields.get("invitees", ""))}
    for name in ("scheduled_for", "ends_at"):
        if fields.get(name, "").strip():
            body[name] = _datetime(fields[name].strip())
    for name in ("chaired_by_iro", "family_not_invited_reason", "format", "location",
                 "dial_in"):
        if fields.get(name, "").strip():
            body[name] = fields[name].strip()
    return body


def cancel_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The cancel form as ``MeetingCancelIn``: the coded reason only."""
    return {"reason": fields["reason"]} if fields.get("reason") else {}


def schedule_values(conference: Mapping[str, Any]) -> dict[str, str]:
    """The schedule form pre-filled from the current arrangement (rescheduling)."""
    values = {name: str(conference.get(name) or "") for name in SCHEDULE_FIELDS}
    for name in ("scheduled_for", "ends_at"):
        values[name] = values[name][:16]
    values["invitees"] = participant_lines(conference.get("invitees") or [])
    return values


def conference_rows(conferences: Iterable[Mapping[str, Any]],
                    now: datetime) -> list[dict[str, Any]]:
    """A case's conferences, those still to be held first, each earliest deadline first,
    with the time left before the deadline."""
    rows = []
    for conference in conferences:
        open_ = conference.get("status") != "held"
        text, late = (views.time_left(str(conference["due_at"]), now)
                      if open_ and conference.get("due_at") else ("", False))
        rows.append({**conference, "time_left": text, "late": late})
    rows.sort(key=lambda row: (row.get("status") == "held", str(row.get("due_at"))))
    return rows


def status_words(status: str) -> str:
    """``awaiting_schedule`` as ``Awaiting schedule``."""
    return status.replace("_", " ").capitalize()
