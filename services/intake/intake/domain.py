"""Intake's rules: a contact arrives, gets a case reference, and is announced to the hub."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

CONTACT_RECEIVED = "mash.intake.contact.received.v1"

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone


def new_case_reference(received_at: datetime) -> str:
    """A case reference a person can read out: MASH-<year>-<8 characters>."""
    suffix = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"MASH-{received_at.year}-{suffix}"


def new_contact_id() -> str:
    """A fresh contact id."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class FieldError:
    """A rule a submitted field breaks."""

    field: str
    message: str


def date_of_birth_errors(children: list[dict[str, Any]], today: date) -> list[FieldError]:
    """A child cannot be born in the future (an unborn child has an expected date instead)."""
    return [
        FieldError(f"children[{i}].date_of_birth", "must not be in the future")
        for i, child in enumerate(children)
        if child.get("date_of_birth") is not None
        and date.fromisoformat(str(child["date_of_birth"])) > today
    ]


CHILD_EVENT_FIELDS = ("first_name", "last_name", "date_of_birth")


def child_for_event(child: dict[str, Any]) -> dict[str, Any]:
    """The part of a child's details that ``contact.received.v1`` carries (its contract)."""
    return {**{field: child.get(field) for field in CHILD_EVENT_FIELDS},
            "identity_unknown": bool(child.get("identity_unknown", False))}


def contact_received_data(
    *,
    contact_id: str,
    case_reference: str,
    kind: str,
    partnership: str,
    referrer_agency: str,
    referrer_role: str,
    children: list[dict[str, Any]],
    concern_summary: str,
    received_at: datetime,
) -> dict[str, Any]:
    """The data of ``contact.received.v1``."""
    return {
        "contact_id": contact_id,
        "case_reference": case_reference,
        "kind": kind,
        "partnership": partnership,
        "referrer": {"agency": referrer_agency, "role": referrer_role},
        "children": [child_for_event(child) for child in children],
        "concern": {"summary": concern_summary},
        "received_at": received_at.isoformat(),
    }
