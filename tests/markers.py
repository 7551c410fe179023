"""Referrals with a unique synthetic marker in every free-text and identity field, and the
ways to spoil them, for the tests that grep every log line for personal data (issue 12 §4)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from tests.support import SAMPLE_TIME

TODAY = SAMPLE_TIME.date()
SPOILERS = ("valid", "unknown_field", "wrong_type", "unnamed_child", "bad_postcode",
            "control_character", "future_birth", "malformed_json", "unnamed_young_parent")
"""How a referral is sent: valid, failing validation in one of seven ways, or valid with an
unnamed parent under 18 (whose linked referral used to be a 500)."""
ACCEPTED = ("valid", "unnamed_young_parent")


def refused_with(how: str) -> int:
    """The status a spoiled referral is refused with: 400 for JSON that does not parse, 422
    for JSON that breaks the contract."""
    return 400 if how == "malformed_json" else 422


class Markers:
    """Unique synthetic values for one referral; every value handed out is remembered."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: list[str] = []
        self.dates: list[str] = []
        self._k = 0

    def _keep(self, value: str) -> str:
        self.values.append(value)
        return value

    def text(self, field: str) -> str:
        self._k += 1
        return self._keep(f"Zqx{self.n}q{self._k} {field}")

    def name(self) -> str:
        self._k += 1
        return self._keep(f"Zqxname{self.n}q{self._k}")

    def email(self) -> str:
        self._k += 1
        return self._keep(f"zqx{self.n}q{self._k}@example.org")

    def postcode(self) -> str:
        digits = f"{self.n % 100:02d}"
        return self._keep(f"QX{digits} {self.n % 10}ZQ")

    def nhs(self) -> str:
        return self._keep(f"{900_000_0000 + self.n:010d}")

    def born(self, years_ago: int) -> str:
        born = TODAY - timedelta(days=365 * years_ago + self.n % 300)
        return self.date(born)

    def date(self, value: date) -> str:
        self.dates.append(value.isoformat())
        return self._keep(value.isoformat())


def referral(m: Markers, *, sections: bool) -> dict[str, Any]:
    """A referral with a marker in every free-text and identity field."""
    child = {"first_name": m.name(), "last_name": m.name(), "date_of_birth": m.born(9),
             "gender": m.text("gender"), "ethnicity": m.text("ethnicity"),
             "religion": m.text("religion"), "language": m.text("language"),
             "disability": m.text("disability"), "school": m.text("school"),
             "gp": m.text("gp"), "nhs_number": m.nhs()}
    body: dict[str, Any] = {
        "kind": "referral",
        "referrer": {"name": m.name(), "role": m.text("role"), "email": m.email(),
                     "phone": m.text("phone"), "availability": m.text("availability"),
                     "deputy": {"name": m.name(), "email": m.email()}},
        "children": [child],
        "parents_carers": [{"first_name": m.name(), "last_name": m.name(),
                            "relationship": m.text("relationship"),
                            "date_of_birth": m.born(35), "phone": m.text("phone"),
                            "email": m.email()}],
        "siblings": [{"first_name": m.name(), "last_name": m.name(),
                      "date_of_birth": m.born(6)}],
        "address": {"lines": [m.text("street")], "town": m.text("town"),
                    "postcode": m.postcode()},
        "concern": {"summary": m.text("summary"), "who": m.text("who"),
                    "where": m.text("where"), "frequency": m.text("frequency"),
                    "impact_on_child": m.text("impact"),
                    "when": [{"on": "2026-11-20", "what_happened": m.text("what")}]},
    }
    if sections:
        body.update({
            "what_has_been_tried": [{"what": m.text("tried"), "details": m.text("details")}],
            "other_professionals": [{"name": m.name(), "agency": m.text("agency"),
                                     "email": m.email(), "involvement": m.text("involved")}],
            "consent": {"consent_to_referral": "no", "reasons_if_not": m.text("reasons")},
            "signs_of_safety": {"worries": {"harm": m.text("harm")},
                                "working_well": {"strengths": m.text("strengths")}},
            "referrer_view_of_need": {"view": m.text("view")},
            "staff_linked": False,
        })
    return body


def spoil(body: dict[str, Any], how: str, m: Markers) -> dict[str, Any] | bytes:
    """The referral made invalid the given way (or with an unnamed young parent)."""
    child = body["children"][0]
    if how == "unknown_field":
        child["nickname"] = m.name()
    elif how == "wrong_type":
        child["first_name"] = {"given": m.name()}
    elif how == "unnamed_child":
        child.pop("first_name")
        child.pop("last_name")
    elif how == "bad_postcode":
        body["address"]["postcode"] = m.text("postcode")
    elif how == "control_character":
        body["concern"]["summary"] = m.text("summary") + "\x00"
    elif how == "future_birth":
        child["date_of_birth"] = m.date(TODAY + timedelta(days=40 + m.n % 50))
    elif how == "malformed_json":
        return json.dumps(body).encode()[:-7] + m.name().encode()
    elif how == "unnamed_young_parent":
        body["parents_carers"] = [{"relationship": m.text("relationship"),
                                   "date_of_birth": m.born(15)}]
    return body


def leaks(markers: Markers, logged: str) -> list[str]:
    """The markers (or pydantic's cut-short repr of a date: ``'2010-0...``) in the log."""
    found = [value for value in markers.values if value in logged]
    found += [value for value in markers.dates if f"'{value[:6]}" in logged]
    if "zqx" in logged.lower():
        found.append("zqx")
    return found
