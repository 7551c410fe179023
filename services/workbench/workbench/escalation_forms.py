"""The escalation pages' pure mappings (no I/O): the codes the strategy API takes for a
professional disagreement, with their words; what the raise, answer and escalate forms post
→ the API's bodies; the API's problems → the forms' fields (GOV.UK wording, from
``workbench.questions``); the waiting list → what its table shows.

The codes mirror ``strategy.api_models`` and the ladder's roles
``mashcore.policy.model.EscalationRole`` (a unit test keeps them equal); the API stays the one
judge of a form: blank answers are left out so that its problem names the question.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from workbench import questions
from workbench.questions import Question
from workbench.views import time_left

ABOUT: dict[str, str] = {
    "threshold_decision": "The threshold decision",
    "mash_outcome": "The outcome of the MASH enquiries",
    "information_sharing": "Sharing information",
    "strategy_decision": "A strategy discussion's decision",
    "s47_outcome": "The outcome of a section 47 enquiry",
    "other": "Another decision",
}
LADDER_ROLES: dict[str, str] = {
    "line_manager": "Line manager",
    "team_manager": "Team manager",
    "designated_safeguarding_lead": "Designated safeguarding lead",
    "service_manager": "Service manager",
    "assistant_director": "Assistant director",
    "deputy_director": "Deputy director",
    "partnership_representative": "Safeguarding partnership representative",
}
"""Whom a stage is escalated to (the default ladder: stage 1 a line or team manager; 2 a
designated safeguarding lead or service manager; 3 an assistant or deputy director; 4 the
safeguarding partnership). The partnership's own ladder may narrow a stage: the API says."""
STATUSES: dict[str, tuple[str, str]] = {  # words and GOV.UK tag colour
    "awaiting_answer": ("Awaiting an answer", "govuk-tag--yellow"),
    "unresolved": ("Not resolved", "govuk-tag--red"),
    "resolved": ("Resolved", "govuk-tag--green"),
}
YES_NO: dict[str, str] = {"yes": "Yes", "no": "No"}

_TO = "escalated_to_"
ESCALATED_TO: dict[str, Question] = {
    f"{_TO}role": Question.choice("the role of the person it goes to"),
    f"{_TO}agency": Question.choice("their agency"),
    f"{_TO}user_id": Question.text(
        "their MASH user ID", "Their MASH user ID",
        string_pattern_mismatch="Their MASH user ID must start with a letter or number and "
                                "only include letters, numbers and . _ @ : -"),
}
RAISE: questions.Form = {
    "about": Question.choice("the decision you disagree with"),
    "summary": Question.text("the disagreement and what you ask to be reconsidered",
                             "The disagreement"),
    **ESCALATED_TO,
}
ANSWER: questions.Form = {
    "resolved": Question.yes_no("the disagreement is resolved"),
    "resolution": Question.text("your answer", "Your answer"),
}
ESCALATE: questions.Form = {
    "summary": Question.text("why the answer does not resolve the disagreement",
                             "Why the answer does not resolve it"),
    **ESCALATED_TO,
}


def _text(fields: Mapping[str, str], name: str) -> str:
    return str(fields.get(name) or "").strip()


def escalated_to(fields: Mapping[str, str]) -> dict[str, str]:
    """The person the stage goes to (``EscalatedToIn``): the answered parts only."""
    return {name: _text(fields, _TO + name) for name in ("role", "agency", "user_id")
            if _text(fields, _TO + name)}


def raise_body(fields: Mapping[str, str], case_reference: str) -> dict[str, Any]:
    """The raise form as ``EscalationIn`` (the case from the page's address)."""
    body: dict[str, Any] = {"case_reference": case_reference,
                            "escalated_to": escalated_to(fields)}
    for name in ("about", "summary"):
        if _text(fields, name):
            body[name] = _text(fields, name)
    return body


def answer_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The answer form as ``EscalationAnswerIn``: resolved yes/no as the boolean."""
    body: dict[str, Any] = {}
    if fields.get("resolved") in YES_NO:
        body["resolved"] = fields["resolved"] == "yes"
    if _text(fields, "resolution"):
        body["resolution"] = _text(fields, "resolution")
    return body


def escalate_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """The escalate form as ``EscalateIn``."""
    body: dict[str, Any] = {"escalated_to": escalated_to(fields)}
    if _text(fields, "summary"):
        body["summary"] = _text(fields, "summary")
    return body


def errors(problem: Mapping[str, Any], form: questions.Form) -> dict[str, str]:
    """The problem's messages by the form's fields: ``escalated_to.role`` is the
    ``escalated_to_role`` question; an error on the whole ``escalated_to`` (a stage the
    ladder does not have) is for the summary only."""
    renamed = []
    for error in problem.get("errors") or []:
        field = str(error.get("field", ""))
        if field.startswith("escalated_to."):
            field = _TO + field.removeprefix("escalated_to.").split(".")[0]
        elif field == "escalated_to":
            field = ""
        renamed.append({**error, "field": field})
    return questions.form_errors({**problem, "errors": renamed}, form)


def waiting_rows(entries: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The stages waiting for your answer, the earliest deadline first, with the time left
    (or how late) and the words for the decision disputed and who raised it."""
    rows = []
    for entry in entries:
        text, late = time_left(str(entry["due_at"]), now)
        raised_by = entry.get("raised_by") or {}
        rows.append({**entry, "time_left": text, "late": late,
                     "about_words": ABOUT.get(str(entry.get("about")), str(entry.get("about"))),
                     "raised_by_agency": str(raised_by.get("agency") or "")})
    rows.sort(key=lambda row: str(row["due_at"]))
    return rows


def forms_for(escalation: Mapping[str, Any], subject: str, may_answer: bool,
              ) -> dict[str, bool]:
    """Which forms the page offers: the answer to whom the stage was escalated (signed in
    with a role that answers stages), the escalation to whoever raised it once a stage is
    answered unresolved. The API checks again (the partnership's ladder may say no)."""
    status = escalation.get("status")
    to = escalation.get("escalated_to") or {}
    raised_by = escalation.get("raised_by") or {}
    return {"answer": may_answer and status == "awaiting_answer"
            and to.get("user_id") == subject,
            "escalate": status == "unresolved" and raised_by.get("user_id") == subject}
