"""Pure mapping for the conference pages: form fields to the strategy API's bodies, and
API answers to what the pages show (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from workbench import questions, views
from workbench.questions import Question

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


# The forms' questions, worded as the GOV.UK Design System asks (``workbench.questions``);
# their keys are the strategy API's fields (``strategy.conferences.api``), in form order.
def _participants(plural: str, singular: str) -> Question:
    """A textarea of participants, one a line."""
    return Question.people(
        plural, singular, missing=f"Enter {plural}, one a line",
        wrong=f"Enter each {singular} as role, agency (and user ID if known), for example "
              "social_worker, local_authority",
        too_short=f"Enter {plural}, one a line")


ARRANGEMENT: questions.Form = {
    "format": Question.choice("how it takes place"),
    "ends_at": Question.when("the date and time it ends", "The end"),
    "location": Question.text("the office address", "The office address"),
    "dial_in": Question.text("the link or number to join", "The link or number to join"),
}
CHAIR: questions.Form = {
    "chaired_by_iro": Question.user_id("the chairing IRO's user ID",
                                       "The chairing IRO's user ID"),
}
SCHEDULED_FOR = Question.when("the date and time it takes place",
                              "The date and time it takes place")
SCHEDULE: questions.Form = {  # in the page's order, as the error summary lists them
    "scheduled_for": SCHEDULED_FOR,
    "ends_at": ARRANGEMENT["ends_at"],
    **CHAIR,
    **ARRANGEMENT,
    "invitees": _participants("who is invited", "invitee"),
    "family_not_invited_reason": Question.text("why the family is not invited",
                                               "The reason the family is not invited"),
}
CANCEL: questions.Form = {
    "reason": Question.choice("why it is called off"),
}
SCHEDULE_FIELDS = tuple(SCHEDULE)
CANCEL_FIELDS = tuple(CANCEL)


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


YES_NO: dict[str, str] = {"yes": "Yes", "no": "No"}

REVIEW_DECISIONS: dict[str, str] = {
    "continue": "The plan continues",
    "change": "The plan continues, changed",
    "end": "The plan ends",
    "step_down_child_in_need": "Step down to a child in need plan",
    "step_down_early_help": "Step down to early help",
}

HELD_AT = Question.when("the date and time it was held", "The date and time it was held")
ATTENDEES = _participants("who attended", "attendee")
HELD: questions.Form = {
    "held_at": HELD_AT,
    "attendees": ATTENDEES,
    "decision_summary": Question.text("the summary of the decision", "The summary"),
}


def child_questions(child_number: int) -> questions.Form:
    """One child's decision on the ICPC held form (``ChildDecisionIn``)."""
    child = f"child {child_number}"
    return {
        "plan": Question.yes_no(f"{child} needs a child protection plan"),
        "category_of_abuse": Question.choice(f"the category of abuse for {child}"),
        "core_group": _participants(f"the core group members of {child}",
                                    "core group member"),
        "outline_plan": Question.text(f"the outline plan for {child}",
                                      f"The outline plan for {child}"),
        "first_review_due_on": Question.date(
            f"the date the first review for {child} is due",
            f"The date the first review for {child} is due"),
    }


NEW_ACTIONS = Question(
    missing="Enter each new action as what; role, agency; due date",
    wrong="Enter each new action as what; role, agency; due date",
    too_long="Each new action must be {limit} characters or fewer",
    by_code={"too_long": "Enter {limit} new actions or fewer",
             **dict.fromkeys(questions.NOT_A_DATE,
                             "Each new action's due date must be a real date, for example "
                             "2027-01-31")})
CORE_GROUP_SCHEDULE: questions.Form = {
    "scheduled_for": SCHEDULED_FOR,
    "invitees": _participants("who is invited", "invitee"),
    **ARRANGEMENT,
}
CORE_GROUP_HELD: questions.Form = {
    "held_at": HELD_AT, "attendees": ATTENDEES, "new_actions": NEW_ACTIONS,
}
MINUTES: questions.Form = {"minutes": Question.text("the minutes", "Minutes")}
REVIEW_SCHEDULE: questions.Form = {
    "scheduled_for": SCHEDULED_FOR,
    **CHAIR,
    "invitees": _participants("who is invited", "invitee"),
    **ARRANGEMENT,
}
REVIEW_HELD: questions.Form = {
    "held_at": HELD_AT,
    "attendees": ATTENDEES,
    "decision": Question.choice("the decision"),
    "category_of_abuse": Question.choice("the category of abuse"),
    "next_review_due_on": Question.date("the date the next review is due",
                                        "The date the next review is due"),
    "rationale": Question.text("the rationale", "Rationale"),
}
HELD_FIELDS = tuple(HELD)
CHILD_FIELDS = tuple(child_questions(1))
CORE_GROUP_SCHEDULE_FIELDS = tuple(CORE_GROUP_SCHEDULE)
CORE_GROUP_HELD_FIELDS = tuple(CORE_GROUP_HELD)
MINUTES_FIELDS = tuple(MINUTES)
REVIEW_SCHEDULE_FIELDS = tuple(REVIEW_SCHEDULE)
REVIEW_HELD_FIELDS = tuple(REVIEW_HELD)


def child_field(child_number: int, name: str) -> str:
    """The held form's field for one child's decision: ``child-2-plan``."""
    return f"child-{child_number}-{name}"


def _categories(fields: Mapping[str, Any], name: str) -> list[str]:
    value = fields.get(name) or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def held_body(fields: Mapping[str, Any], child_numbers: Iterable[int]) -> dict[str, Any]:
    """The ICPC held form as ``IcpcHeldIn``: a decision per child (plan yes/no as the
    boolean, the categories ticked, the core group a participant a line)."""
    decisions = []
    for n in child_numbers:
        decision: dict[str, Any] = {"child_number": n}
        plan = fields.get(child_field(n, "plan"))
        if plan in YES_NO:
            decision["plan"] = plan == "yes"
        decision["category_of_abuse"] = _categories(fields, child_field(n, "category_of_abuse"))
        decision["core_group"] = participants(str(fields.get(child_field(n, "core_group"), "")))
        for name in ("outline_plan", "first_review_due_on"):
            if str(fields.get(child_field(n, name), "")).strip():
                decision[name] = str(fields[child_field(n, name)]).strip()
        decisions.append(decision)
    body: dict[str, Any] = {"attendees": participants(str(fields.get("attendees", ""))),
                            "decisions": decisions}
    if str(fields.get("held_at", "")).strip():
        body["held_at"] = _datetime(str(fields["held_at"]).strip())
    if str(fields.get("decision_summary", "")).strip():
        body["decision_summary"] = str(fields["decision_summary"]).strip()
    return body


def held_errors(problem: Mapping[str, Any], child_numbers: list[int]) -> dict[str, str]:
    """A held problem's errors by form field, worded for the questions: an error on
    ``decisions.0.category_of_abuse`` (or deeper) is the first child's categories field,
    worded for that child; others as ``views.field_errors`` with :data:`HELD`."""
    errors: dict[str, str] = {}
    rest = []
    for error in problem.get("errors") or []:
        parts = str(error.get("field", "")).replace("[", ".").replace("]", "").split(".")
        if (parts[0] == "decisions" and len(parts) > 2 and parts[1].isdigit()
                and int(parts[1]) < len(child_numbers) and parts[2] in CHILD_FIELDS):
            number = child_numbers[int(parts[1])]
            message = str(error.get("message") or "Check this answer")
            worded = child_questions(number)[parts[2]].message(str(error.get("code") or ""),
                                                               message)
            errors.setdefault(child_field(number, parts[2]), worded or message)
        else:
            rest.append(error)
    if rest or not errors:
        for key, message in views.field_errors({**problem, "errors": rest},
                                               HELD).items():
            errors.setdefault(key, message)
    return errors


def arranged_body(fields: Mapping[str, str], names: Iterable[str]) -> dict[str, Any]:
    """A core group or review schedule form (``names``) as the API's body."""
    return schedule_body({k: v for k, v in fields.items() if k in set(names)})


def actions(text: str) -> list[dict[str, Any]]:
    """New plan actions, one a line: ``what; role[, agency]; YYYY-MM-DD``."""
    found = []
    for line in views.lines(text):
        what, _, rest = line.partition(";")
        owner, _, due = rest.partition(";")
        role, _, agency = owner.partition(",")
        action: dict[str, Any] = {"what": what.strip(),
                                  "owner_role": role.strip().lower().replace(" ", "_"),
                                  "due_on": due.strip()}
        if agency.strip():
            action["owner_agency"] = agency.strip().lower().replace(" ", "_")
        found.append(action)
    return found


def core_group_held_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The core group held form as ``CoreGroupHeldIn``."""
    body: dict[str, Any] = {"attendees": participants(fields.get("attendees", "")),
                            "new_actions": actions(fields.get("new_actions", ""))}
    if fields.get("held_at", "").strip():
        body["held_at"] = _datetime(fields["held_at"].strip())
    return body


def review_held_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The review held form as ``ReviewHeldIn``."""
    body: dict[str, Any] = {"attendees": participants(str(fields.get("attendees", ""))),
                            "category_of_abuse": _categories(fields, "category_of_abuse")}
    if str(fields.get("held_at", "")).strip():
        body["held_at"] = _datetime(str(fields["held_at"]).strip())
    for name in ("decision", "next_review_due_on", "rationale"):
        if str(fields.get(name, "")).strip():
            body[name] = str(fields[name]).strip()
    return body


def unprefixed(fields: Mapping[str, str], prefix: str) -> dict[str, str]:
    """One of several forms on a page (ids unique by ``prefix``): its fields by API name."""
    return {key.removeprefix(prefix): value for key, value in fields.items()}


COPY: questions.Form = {
    "given_on": Question.date("the date the copy was given", "The date the copy was given"),
    "form": Question.choice("the form the copy was given in"),
    "language": Question.text("the language of the copy", "The language",
                              string_too_short="The language must be 2 characters or more"),
}
COPY_FIELDS = tuple(COPY)
COPY_FORMS: dict[str, str] = {
    "written": "Written", "easy_read": "Easy read", "translated": "Translated",
    "audio": "Audio", "braille": "Braille", "verbal": "Explained verbally", "other": "Other",
}


def copy_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The copy-given-to-child form as ``CopyIn``: blank fields left out."""
    return {name: fields[name].strip() for name in COPY_FIELDS
            if fields.get(name, "").strip()}
