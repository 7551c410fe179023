"""Error messages worded for the question, as the GOV.UK Design System asks (pure, no I/O).

The APIs answer a refused form with an RFC 9457 problem whose ``errors`` name each field, with
a ``code`` (pydantic's error type: ``missing``, ``string_too_long``, ``literal_error``...)
and the API's generic ``message`` ("Field required"). A form declares its questions once::

    OUTCOME = {
        "outcome": Question.choice("the outcome"),
        "rationale": Question.text("the rationale", "Rationale"),
    }

and :func:`form_errors` turns a problem into ``{field: message}`` for ``_error_summary.html``
and ``_field.html``: "Select the outcome", "Enter the rationale", "Rationale must be 10000
characters or fewer". A code the question has no wording for, or a field the form does not
ask, keeps the API's own message (an error on no field of the form goes under ``""``: the
summary only). Errors come out in the form's order, the first per field, as the summary
should list them.

Dates follow the GOV.UK date input pattern ("Enter the date the copy was given", "The date
the copy was given must be a real date"); a list of people words its rows' errors as the
list's ("Select the role and agency of each invitee", "Add at least one invitee"). A rule
the API checks itself (a partnership's pack, "needs police") has no ``code``: its words are
kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MISSING = frozenset({"missing", "string_too_short", "too_short"})  # empty after trimming
TOO_LONG = frozenset({"string_too_long", "too_long"})
WRONG_CHOICE = frozenset({"literal_error", "enum", "bool_type", "bool_parsing",
                          "string_pattern_mismatch", "string_type"})
NOT_A_DATE = frozenset({"iso_date", "date_parsing", "date_from_datetime_parsing",
                        "date_from_datetime_inexact"})
NOT_A_TIME = frozenset({"iso_date_time", "datetime_parsing", "datetime_from_date_parsing",
                        "timezone_aware"})
_LIMIT = re.compile(r"at most (\d+)")


@dataclass(frozen=True)
class Question:
    """What to say when one question's answer is refused, by the kind of fault.

    ``{limit}`` in a wording is the API's maximum, read from its message (no number found:
    the API's message is kept). ``by_code`` words a code more specifically."""

    missing: str | None = None
    too_long: str | None = None
    wrong: str | None = None
    by_code: Mapping[str, str] = field(default_factory=dict)  # anything more specific

    @classmethod
    def choice(cls, thing: str, **by_code: str) -> Question:
        """A radio question: "Select the outcome"."""
        return cls(missing=f"Select {thing}", wrong=f"Select {thing}",
                   by_code=by_code)

    @classmethod
    def yes_no(cls, if_what: str, **by_code: str) -> Question:
        """A yes/no question: "Select yes if there are safeguarding concerns"."""
        return cls(missing=f"Select yes if {if_what}", wrong=f"Select yes if {if_what}",
                   by_code=by_code)

    @classmethod
    def text(cls, thing: str, name: str, **by_code: str) -> Question:
        """A text question: "Enter the rationale", "Rationale must be ... or fewer"."""
        return cls(missing=f"Enter {thing}",
                   too_long=f"{name} must be {{limit}} characters or fewer",
                   wrong=f"{name} must only include letters, numbers and punctuation",
                   by_code=by_code)

    @classmethod
    def user_id(cls, thing: str, name: str) -> Question:
        """A MASH user ID: "Enter the chair's MASH user ID", and what it may contain."""
        return cls.text(thing, name, string_pattern_mismatch=(
            f"{name} must start with a letter or number and only include letters, numbers "
            "and . _ @ : -"))

    @classmethod
    def when(cls, thing: str, name: str, **by_code: str) -> Question:
        """A date and time (the GOV.UK date input's wording): "Enter the date and time it
        starts", "The start must be a real date and time"."""
        real = f"{name} must be a real date and time"
        return cls(missing=f"Enter {thing}", wrong=real,
                   by_code={**dict.fromkeys(NOT_A_TIME, real), **by_code})

    @classmethod
    def date(cls, thing: str, name: str, **by_code: str) -> Question:
        """A date (the GOV.UK date input's wording): "Enter the date the copy was given",
        "The date the copy was given must be a real date"."""
        real = f"{name} must be a real date"
        return cls(missing=f"Enter {thing}", wrong=real,
                   by_code={**dict.fromkeys(NOT_A_DATE, real), **by_code})

    @classmethod
    def people(cls, plural: str, singular: str, *, missing: str | None = None,
               wrong: str | None = None, **by_code: str) -> Question:
        """A list of people by role and agency (each row's errors are the list's):
        "Add at least one invitee", "Select the role and agency of each invitee",
        "Enter 50 invitees or fewer"."""
        return cls(
            missing=missing or f"Select the role and agency of each {singular}",
            wrong=wrong or f"Select the role and agency of each {singular}",
            too_long=f"Each {singular}'s MASH user ID must be {{limit}} characters or fewer",
            by_code={"too_short": f"Add at least one {singular}",
                     "too_long": f"Enter {{limit}} {plural} or fewer",
                     "string_pattern_mismatch": f"Each {singular}'s MASH user ID must start "
                                                "with a letter or number and only include "
                                                "letters, numbers and . _ @ : -",
                     **by_code})

    def message(self, code: str, api_message: str) -> str | None:
        """The wording for ``code``, or None to keep the API's message."""
        if code in self.by_code:
            wording: str | None = self.by_code[code]
        elif code in MISSING:
            wording = self.missing
        elif code in TOO_LONG:
            wording = self.too_long
        elif code in WRONG_CHOICE:
            wording = self.wrong
        else:
            wording = None
        if wording and "{limit}" in wording:
            found = _LIMIT.search(api_message)
            return wording.format(limit=found.group(1)) if found else None
        return wording


Form = Mapping[str, Question]


def form_errors(problem: Mapping[str, Any], form: Form | Sequence[str]) -> dict[str, str]:
    """A refused form's messages by field (``""``: not about one field), in form order.

    ``form`` may also be just the field names: then every message is the API's."""
    if not isinstance(form, Mapping):
        form = {name: Question() for name in form}
    found: dict[str, str] = {}
    for error in problem.get("errors") or []:
        name = str(error.get("field", "")).split(".")[0].split("[")[0]
        api_message = str(error.get("message") or "Check this answer")
        question = form.get(name)
        if question is None:
            found.setdefault("", api_message)
            continue
        worded = question.message(str(error.get("code") or ""), api_message)
        found.setdefault(name, worded or api_message)
    if not found:
        found[""] = str(problem.get("detail") or problem.get("title") or "Check your answers")
    order = {name: i for i, name in enumerate(form)}
    return dict(sorted(found.items(), key=lambda item: order.get(item[0], -1)))


# The workbench's forms. Field names are the APIs' (and the form inputs').

RATING: Form = {
    "brag": Question.choice("a BRAG rating"),
    "safeguarding_concerns": Question.yes_no("there are safeguarding concerns"),
    "rationale": Question.text("why you chose this rating", "The reason for this rating"),
}

CONSENT_GATE: Form = {
    "outcome": Question.choice("how the case leaves the consent gate"),
    "rationale": Question.text("why the case leaves the consent gate this way", "The reason"),
}

THRESHOLD_DECISION: Form = {
    "level_code": Question.choice("the level of need"),
    "brag": Question.choice("the final BRAG rating"),
    "route": Question.choice("the route"),
    "rationale": Question.text("the rationale for the decision", "Rationale"),
}

OUTCOME: Form = {
    "outcome": Question.choice("the outcome of the MASH enquiries"),
    "rationale": Question.text("the rationale for the outcome", "Rationale"),
}

NAVIGATOR_ANSWER: Form = {
    "known": Question.yes_no("your agency holds information about them"),
    "summary": Question.text("what your systems show", "What your systems show"),
    "risk_indicators": Question.text(
        "the risk indicators, one per line", "Each risk indicator",
        too_long="Enter {limit} risk indicators or fewer, one per line"),
}

NAVIGATOR_DECLINE: Form = {
    "reason_code": Question.choice("why your agency is declining"),
    "explanation": Question.text("an explanation", "Explanation"),
}
