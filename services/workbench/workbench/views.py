"""Pure helpers that turn API answers into what the pages show (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from workbench import questions

# GOV.UK tag colours for the BRAG ratings (DOMAIN.md): the text is always shown too.
BRAG_TAGS: dict[str, str] = {
    "red": "govuk-tag--red",
    "amber": "govuk-tag--orange",
    "green": "govuk-tag--green",
    "blue": "govuk-tag--blue",
}

STATUS_TAGS: dict[str, str] = {
    "pending": "govuk-tag--light-blue",
    "answered": "govuk-tag--green",
    "declined": "govuk-tag--grey",
    "withdrawn": "govuk-tag--grey",
}

DECLINE_REASONS: dict[str, str] = {
    "consent_required": "Consent is required",
    "insufficient_identifying_details": "Not enough details to identify them",
    "disproportionate_to_purpose": "Disproportionate to the purpose",
    "legal_restriction": "A legal restriction applies",
    "wrong_agency": "Wrong agency",
    "other": "Other",
}


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    """A short, human duration: ``2 days 3 hours``, ``4 hours 5 minutes``, ``7 minutes``."""
    total = max(0, int(seconds)) // 60
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _plural(days, "day") + (f" {_plural(hours, 'hour')}" if hours else "")
    if hours:
        return _plural(hours, "hour") + (f" {_plural(minutes, 'minute')}" if minutes else "")
    return _plural(minutes, "minute")


def time_left(deadline: str, now: datetime) -> tuple[str, bool]:
    """``(text, late)``: how long until ``deadline`` (ISO 8601), or how late it is."""
    due = datetime.fromisoformat(deadline)
    seconds = (due - now).total_seconds()
    if seconds < 0:
        return f"Late by {duration(-seconds)}", True
    return f"{duration(seconds)} left", False


def queue_rows(entries: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The navigator's queue lines: open requests first, each group earliest deadline first,
    with the time left, whether it is late, and the tags to show."""
    rows = []
    for entry in entries:
        status = str(entry["status"])
        text, late = time_left(str(entry["deadline"]), now)
        late = bool(entry.get("overdue")) or late
        rows.append({**entry, "time_left": text if status == "pending" else "",
                     "late": late and status == "pending",
                     "brag_tag": BRAG_TAGS.get(str(entry["brag"]), ""),
                     "status_tag": STATUS_TAGS.get(status, "")})
    rows.sort(key=lambda row: (row["status"] != "pending", str(row["deadline"])))
    return rows


def field_errors(problem: Mapping[str, Any],
                 fields: Sequence[str] | questions.Form) -> dict[str, str]:
    """A problem's errors by form field (see :func:`workbench.questions.form_errors`): with
    a form's questions, worded for them; with bare field names, the API's messages.
    ``risk_indicators.0`` is the ``risk_indicators`` field; an error on no known field goes
    under ``""`` (the summary only); the first message per field is kept."""
    return questions.form_errors(problem, fields)


def lines(text: str) -> list[str]:
    """The non-empty lines of a textarea, trimmed (one list item per line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def case_rows(entries: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A triage queue's lines (already most urgent first) with the time left to decide."""
    rows = []
    for entry in entries:
        due = entry.get("threshold_decision_due_at")
        text, late = time_left(str(due), now) if due else ("", False)
        rows.append({**entry, "time_left": text, "late": late or bool(entry.get("overdue")),
                     "brag_tag": BRAG_TAGS.get(str(entry.get("brag")), "")})
    return rows
