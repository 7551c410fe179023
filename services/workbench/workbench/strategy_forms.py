"""The strategy pages' pure mappings (no I/O): the coded values the strategy API takes, with
their words; what a form posts → the API's request body; a discussion → its next deadline;
an API view → the values a form starts with.

The codes mirror ``strategy.api_models`` (a unit test keeps them equal); the API stays the
one judge of a form: what cannot be read here (an unreadable date) is sent as typed, so the
API's own problem is shown next to the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mashcore.workingtime import WorkingCalendar
from workbench import questions
from workbench.questions import Question
from workbench.views import time_left

LONDON = ZoneInfo("Europe/London")
INPUT_FORMATS = ("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H.%M")

FORMATS: dict[str, str] = {
    "meeting": "A meeting in person",
    "video_call": "An online meeting",
    "phone_calls": "Phone calls",
}
URGENCIES: dict[str, str] = {
    "immediate": "Immediately",
    "within_1_working_day": "Within 1 working day",
    "within_3_working_days": "Within 3 working days",
}
URGENCY_WORKING_DAYS = {"within_1_working_day": 1, "within_3_working_days": 3}
ROLES: dict[str, str] = {
    "social_worker": "Social worker", "team_manager": "Team manager",
    "service_manager": "Service manager", "iro": "Independent reviewing officer",
    "information_officer": "Information officer", "navigator": "MASH navigator",
    "referrer": "Referrer", "practitioner": "Practitioner",
    "designated_safeguarding_lead": "Designated safeguarding lead",
    "line_manager": "Line manager", "assistant_director": "Assistant director",
    "deputy_director": "Deputy director",
    "partnership_representative": "Safeguarding partnership representative",
    "legal_adviser": "Legal adviser", "minute_taker": "Minute taker",
}
AGENCIES: dict[str, str] = {
    "police": "Police", "health": "Health", "education": "Education",
    "probation": "Probation", "housing": "Housing", "camhs": "CAMHS",
    "youth_offending": "Youth offending", "early_years": "Early years",
    "local_authority": "Local authority (children's social care)", "other": "Other",
}
CRIMINAL_INVESTIGATION: dict[str, str] = {
    "required": "Required",
    "not_required": "Not required",
    "already_underway": "Already under way",
}
S47_OUTCOMES: dict[str, str] = {
    "not_substantiated": "Not substantiated",
    "substantiated_no_continuing_risk": "Substantiated, no continuing risk",
    "substantiated_continuing_risk": "Substantiated, continuing risk",
}
NEXT_STEPS: dict[str, str] = {
    "no_further_action": "No further action",
    "supportive_services": "Supportive services",
    "plan_without_conference": "A plan without a conference",
    "icpc": "Initial child protection conference",
}
STATUSES: dict[str, tuple[str, str]] = {  # words and GOV.UK tag colour
    "requested": ("Requested", "govuk-tag--light-blue"),
    "scheduled": ("Scheduled", "govuk-tag--blue"),
    "cancelled": ("Cancelled", "govuk-tag--grey"),
    "held": ("Held", "govuk-tag--yellow"),
    "minutes_signed_off": ("Minutes signed off", "govuk-tag--yellow"),
    "minutes_circulated": ("Minutes circulated", "govuk-tag--green"),
    "open": ("Open", "govuk-tag--light-blue"),
    "awaiting_agreement": ("Awaiting agreement", "govuk-tag--yellow"),
    "concluded": ("Concluded", "govuk-tag--green"),
}

PEOPLE_FIELDS = ("role", "agency", "user_id")
ACTION_FIELDS = ("action", "owner_role", "owner_agency", "due_by")

# The forms' questions, worded as the GOV.UK Design System asks (``workbench.questions``);
# their keys are the strategy API's fields (``strategy.api_models``), in the forms' order.
SCHEDULE: questions.Form = {
    "format": Question.choice("how the discussion takes place"),
    "starts_at": Question.when("the date and time the discussion starts", "The start"),
    "ends_at": Question.when("the date and time the discussion ends", "The end"),
    "location": Question.text("the location", "Location"),
    "dial_in": Question.text("the dial-in link or number", "The dial-in"),
    "chair_id": Question.user_id("the chair's MASH user ID", "The chair's MASH user ID"),
    "invitees": Question.people("invitees", "invitee"),
    "invite_referrer": Question.yes_no("the referrer is invited"),
    "referrer_not_invited_reason": Question.text(
        "why the professional referrer is not invited", "The reason the referrer is not "
        "invited"),
}
HELD: questions.Form = {
    "held_at": Question.when("the date and time the discussion was held",
                             "The date and time it was held"),
    "attendees": Question.people("attendees", "attendee"),
    "apologies": Question.people("apologies", "apology"),
    "criminal_investigation": Question.choice("whether a criminal investigation is required"),
    "criminal_investigation_start_by": Question.when(
        "the date and time the criminal investigation starts",
        "The start of the criminal investigation"),
    "s47_decisions": Question.choice("yes or no for section 47 enquiries for each child"),
    "s47_decision_rationale": Question.text("the reason for the section 47 decision",
                                            "The reason for the section 47 decision"),
    "actions": Question(
        missing="Enter each action with its owner's role and agency",
        wrong="Select the owner's role and agency of each action",
        too_long="Each action must be {limit} characters or fewer",
        by_code={"too_long": "Enter {limit} actions or fewer",
                 **dict.fromkeys(questions.NOT_A_TIME,
                                 "Each action's due by must be a real date and time")}),
}
CANCEL: questions.Form = {
    "reason": Question.text("why the discussion is called off", "The reason"),
}
MINUTES: questions.Form = {
    "minutes": Question.text("the minutes", "Minutes"),
}
OUTCOME: questions.Form = {
    "outcome": Question.choice("the outcome of the section 47 enquiry"),
    "next_step": Question.choice("the next step"),
    "rationale": Question.text("why you chose this outcome", "The reason"),
}
AGREEMENT: questions.Form = {
    "agree": Question.yes_no("you agree the outcome"),
    "rationale": Question.text("your rationale", "Your rationale"),
}
SCHEDULE_FIELDS = tuple(SCHEDULE)
HELD_FIELDS = tuple(HELD)
CANCEL_FIELDS = tuple(CANCEL)
MINUTES_FIELDS = tuple(MINUTES)
OUTCOME_FIELDS = tuple(OUTCOME)
AGREEMENT_FIELDS = tuple(AGREEMENT)
DEFAULT_INVITEES = (("social_worker", "local_authority"), ("practitioner", "health"),
                    ("navigator", "police"))
SPARE_ROWS = 2


def instant(text: str) -> str:
    """A typed date and time (UK local, e.g. ``24/11/2026 14:00``) as ISO 8601 in UTC; an
    ISO 8601 instant passes through; anything else is returned as typed, for the API to
    refuse by name."""
    text = text.strip()
    for pattern in INPUT_FORMATS:
        try:
            local = datetime.strptime(text, pattern).replace(tzinfo=LONDON)
        except ValueError:
            continue
        return local.astimezone(UTC).isoformat()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    return parsed.isoformat() if parsed.tzinfo else parsed.replace(tzinfo=LONDON).astimezone(
        UTC).isoformat()


def typed(iso: str | None) -> str:
    """An API instant as the forms take it back: UK local ``DD/MM/YYYY HH:MM``."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(LONDON).strftime("%d/%m/%Y %H:%M")


def shown(iso: str | None) -> str:
    """An API instant as the pages show it: ``Tue 24 Nov 2026, 14:00`` (UK time)."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(LONDON).strftime("%a %d %b %Y, %H:%M")


def _optional(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name, "").strip()
    return value or None


def people(fields: Mapping[str, str], prefix: str) -> list[dict[str, str]]:
    """The rows ``prefix-N-role``/``-agency``/``-user_id`` a form posted, in order; a blank
    row is left out, a half-filled one is sent as it is (the API names what it lacks)."""
    rows = []
    for n in _row_numbers(fields, prefix):
        row = {key: fields.get(f"{prefix}-{n}-{key}", "").strip() for key in PEOPLE_FIELDS}
        if any(row.values()):
            rows.append({key: value for key, value in row.items() if value})
    return rows


def _row_numbers(fields: Mapping[str, str], prefix: str) -> list[int]:
    numbers = set()
    for name in fields:
        head, _, rest = name.partition("-")
        number = rest.split("-", 1)[0]
        if head == prefix and number.isdigit():
            numbers.add(int(number))
    return sorted(numbers)


def schedule_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The schedule form → ``POST /v1/strategy-discussions/{id}/schedule``."""
    body: dict[str, Any] = {"invitees": people(fields, "invitees")}
    for name in ("format", "location", "dial_in", "chair_id", "referrer_not_invited_reason"):
        if value := _optional(fields, name):
            body[name] = value
    for name in ("starts_at", "ends_at"):
        if value := _optional(fields, name):
            body[name] = instant(value)
    if fields.get("invite_referrer") in ("yes", "no"):
        body["invite_referrer"] = fields["invite_referrer"] == "yes"
    return body


def held_body(fields: Mapping[str, str], child_numbers: Iterable[int]) -> dict[str, Any]:
    """The held form → ``POST /v1/strategy-discussions/{id}/held``: one yes/no s47 decision
    per child of the discussion (a child left unanswered is left out: the API names it)."""
    body: dict[str, Any] = {"attendees": people(fields, "attendees"),
                            "apologies": people(fields, "apologies"),
                            "s47_decisions": [], "actions": []}
    for name in ("criminal_investigation", "s47_decision_rationale"):
        if value := _optional(fields, name):
            body[name] = value
    for name in ("held_at", "criminal_investigation_start_by"):
        if value := _optional(fields, name):
            body[name] = instant(value)
    for child in child_numbers:
        answer = fields.get(f"s47-{child}")
        if answer in ("yes", "no"):
            body["s47_decisions"].append({"child_number": child, "s47": answer == "yes"})
    for n in _row_numbers(fields, "actions"):
        row = {key: fields.get(f"actions-{n}-{key}", "").strip() for key in ACTION_FIELDS}
        if any(row.values()):
            action: dict[str, Any] = {k: v for k, v in row.items() if v and k != "due_by"}
            if row["due_by"]:
                action["due_by"] = instant(row["due_by"])
            body["actions"].append(action)
    return body


def outcome_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The s47 outcome form → ``POST /v1/s47-enquiries/{id}/outcome``."""
    return {name: fields[name].strip() for name in OUTCOME_FIELDS
            if fields.get(name, "").strip()}


def agreement_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The manager's agreement form → ``POST /v1/s47-enquiries/{id}/agreement``."""
    body: dict[str, Any] = {}
    if fields.get("agree") in ("yes", "no"):
        body["agree"] = fields["agree"] == "yes"
    if rationale := _optional(fields, "rationale"):
        body["rationale"] = rationale
    return body


def text_body(fields: Mapping[str, str], name: str) -> dict[str, Any]:
    """A one-text form (cancel's reason, the minutes)."""
    value = _optional(fields, name)
    return {name: value} if value else {}


def _rows(prefix: str, people_rows: Iterable[Mapping[str, Any]],
          spare: int = SPARE_ROWS) -> dict[str, str]:
    values: dict[str, str] = {}
    listed = list(people_rows)
    for n, person in enumerate(listed):
        for key in PEOPLE_FIELDS:
            values[f"{prefix}-{n}-{key}"] = str(person.get(key) or "")
    for n in range(len(listed), len(listed) + spare):
        for key in PEOPLE_FIELDS:
            values[f"{prefix}-{n}-{key}"] = ""
    return values


def schedule_values(discussion: Mapping[str, Any], user_id: str,
                    is_team_manager: bool) -> dict[str, str]:
    """What the schedule form starts with: the current arrangement when rescheduling (the
    chair and the referrer, whom the API adds itself, left out), otherwise the three
    agencies a discussion needs and the signed-in team manager as chair."""
    current = discussion.get("schedule") or {}
    if current:
        chair = str(current.get("chaired_by") or "")
        invitees = [p for p in current.get("invitees") or []
                    if p.get("role") != "referrer" and p.get("user_id") != chair]
        return {"format": str(current.get("format") or ""),
                "starts_at": typed(current.get("starts_at")),
                "ends_at": typed(current.get("ends_at")),
                "location": str(current.get("location") or ""),
                "dial_in": str(current.get("dial_in") or ""), "chair_id": chair,
                "invite_referrer": "yes" if current.get("referrer_invited") else "",
                **_rows("invitees", invitees)}
    defaults = [{"role": role, "agency": agency} for role, agency in DEFAULT_INVITEES]
    return {"chair_id": user_id if is_team_manager else "", "invite_referrer": "yes",
            **_rows("invitees", defaults)}


def held_values(discussion: Mapping[str, Any]) -> dict[str, str]:
    """What the held form starts with: the invitees as attendees, the planned start."""
    current = discussion.get("schedule") or {}
    attendees = [p for p in current.get("invitees") or []]
    values = {"held_at": typed(current.get("starts_at")), **_rows("attendees", attendees),
              **_rows("apologies", [], spare=2)}
    for n in range(3):
        for key in ACTION_FIELDS:
            values[f"actions-{n}-{key}"] = ""
    return values


def row_count(values: Mapping[str, str], prefix: str) -> int:
    """How many rows of ``prefix`` the form shows (the posted ones, or the prefilled)."""
    numbers = _row_numbers(values, prefix)
    return (max(numbers) + 1) if numbers else SPARE_ROWS


def deadline(entry: Mapping[str, Any], calendar: WorkingCalendar) -> tuple[str, str | None]:
    """A discussion's next deadline as ``(what, ISO instant)``: to be held (its urgency from
    the request, in working days of England), to meet (scheduled), minutes to circulate
    (held, 24 h); none once the minutes are circulated."""
    status = str(entry.get("status"))
    if status in ("requested", "cancelled"):
        requested = datetime.fromisoformat(str(entry["requested_at"]))
        days = URGENCY_WORKING_DAYS.get(str(entry.get("urgency")))
        due = calendar.add_working_days(requested, days) if days else requested
        return "Hold by", due.astimezone(UTC).isoformat()
    if status == "scheduled" and entry.get("starts_at"):
        return "Meets", str(entry["starts_at"])
    if status in ("held", "minutes_signed_off") and entry.get("minutes_due_at"):
        return "Minutes due", str(entry["minutes_due_at"])
    return "", None


def discussion_rows(entries: Iterable[Mapping[str, Any]], now: datetime,
                    calendar: WorkingCalendar) -> list[dict[str, Any]]:
    """The strategy work list: earliest deadline first, finished discussions last, each
    with its deadline, the time left or how late, and its status tag."""
    rows = []
    for entry in entries:
        what, due = deadline(entry, calendar)
        text, late = time_left(due, now) if due else ("", False)
        words, tag = STATUSES.get(str(entry.get("status")), (str(entry.get("status")), ""))
        rows.append({**entry, "deadline_kind": what, "deadline": due,
                     "deadline_shown": shown(due), "time_left": text, "late": late,
                     "status_words": words, "status_tag": tag})
    rows.sort(key=lambda row: (row["deadline"] is None,
                               datetime.fromisoformat(row["deadline"]) if row["deadline"]
                               else now))
    return rows
