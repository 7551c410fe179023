"""Triage's rules for a new contact: open a case awaiting its initial BRAG rating.

The threshold decision is due within one working day of the contact being received
(DOMAIN.md §6, §8); the rule for counting working days is in docs/working-days.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mashcore.workingtime import WorkingCalendar

CASE_OPENED = "mash.triage.case.opened.v1"
AWAITING_INITIAL_RATING = "awaiting_initial_rating"
THRESHOLD_DECISION_WORKING_DAYS = 1


def threshold_decision_due(received_at: datetime, calendar: WorkingCalendar) -> datetime:
    """When the team manager's threshold decision is due."""
    return calendar.add_working_days(received_at, THRESHOLD_DECISION_WORKING_DAYS)


def case_opened_data(
    *,
    case_reference: str,
    contact_id: str,
    partnership: str,
    received_at: datetime,
    opened_at: datetime,
    decision_due_at: datetime,
) -> dict[str, Any]:
    """The data of ``case.opened.v1``: identifiers and times only, no personal data."""
    return {
        "case_reference": case_reference,
        "contact_id": contact_id,
        "partnership": partnership,
        "status": AWAITING_INITIAL_RATING,
        "received_at": received_at.isoformat(),
        "opened_at": opened_at.isoformat(),
        "threshold_decision_due_at": decision_due_at.isoformat(),
    }
