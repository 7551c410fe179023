"""Findings that ask why (issue 20): a fact reported without why, since when or how often."""

from __future__ import annotations

import copy
from typing import Any

from intake.checks.quality import assess
from intake.contacts.api_models import REFERRAL_EXAMPLE, ReferralIn
from mashcore.plainwords import matcher_for
from mashcore.policy import PolicyBook

PLAIN = matcher_for(PolicyBook.load(), "default")


def bare(summary: str, **more: Any) -> ReferralIn:
    """The exemplary referral whose concern says only ``summary`` (and ``more``)."""
    body = copy.deepcopy(REFERRAL_EXAMPLE)
    body["concern"] = {"summary": summary, "past_or_present": "present",
                       "when": [{"on": "2026-11-19"}], "child_spoken_to": "no", **more}
    return ReferralIn.model_validate(body)


def asks(submission: ReferralIn) -> list[tuple[str, str]]:
    return [(f.field, f.message) for f in assess(submission, "education", PLAIN).findings
            if f.code == "fact_without_context"]


def test_a_missed_appointment_and_an_injury_without_context_are_asked_about():
    found = asks(bare("Missed 3 apointments at the clinic. Bruising on his arm."))
    assert [field for field, _ in found] == ["concern.summary", "concern.summary"]
    assert "mentions a missed appointment but not why, since when or how often" in found[0][1]
    assert "mentions an injury" in found[1][1]
    assert not any("apointments" in message or "Bruising" in message for _, message in found)


def test_absence_and_behaviour_change_in_another_field_name_that_field():
    found = asks(bare("Concerns about Sam.", impact_on_child="Absent a lot, more withdrawn."))
    assert [(field, "absence" in m or "behaviour" in m) for field, m in found] == [
        ("concern.impact_on_child", True), ("concern.impact_on_child", True)]


def test_no_question_when_the_why_or_how_often_is_given():
    assert asks(bare("Missed appointments because mum was in hospital.")) == []
    assert asks(bare("Absent from school.", frequency="Twice a week since September.")) == []
    assert asks(bare("Absent from school.", frequency="Every Monday.")) == []


def test_no_question_about_a_negated_fact():
    assert asks(bare("Seen in PE, no marks seen, denies any injury.")) == []


def test_the_exemplary_referral_is_not_asked_and_scores_are_unchanged():
    example = ReferralIn.model_validate(copy.deepcopy(REFERRAL_EXAMPLE))
    assert asks(example) == []
    submission = bare("Missed appointments. Bruising on his arm.")
    with_plain = assess(submission, "education", PLAIN)
    without = assess(submission, "education")
    assert with_plain.event_data() == without.event_data()
    assert "fact_without_context" not in with_plain.event_data()["missing_or_unclear"]
