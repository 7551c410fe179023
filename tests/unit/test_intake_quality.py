"""The completeness score and what the referrer is told is missing or unclear (DOMAIN.md §4)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from intake.checks.quality import (
    AGENCY_SECTIONS,
    GLOSSARY,
    QUALITY_CODES,
    WEIGHTS,
    DateError,
    age_on,
    assess,
    date_errors,
)
from intake.contacts.api_models import REFERRAL_EXAMPLE, ReferralIn
from mashcore.schemas import default_contracts_dir
from tests.support import synthetic_referral

pytestmark = pytest.mark.unit

SEED_REFERRALS = Path(__file__).resolve().parents[1] / "fixtures" / "seed_referrals"
ACCEPTED_SCHEMA = "mash.intake.referral.accepted.v1.schema.json"
TODAY = date(2026, 11, 23)


def referral(**changes: Any) -> ReferralIn:
    """The exemplary (OpenAPI example) referral with top-level changes."""
    body = copy.deepcopy(REFERRAL_EXAMPLE)
    body.update(changes)
    return ReferralIn.model_validate(body)


def concern(**changes: Any) -> dict[str, Any]:
    """The exemplary referral's concern with changes."""
    return {**REFERRAL_EXAMPLE["concern"], **changes}


def fields(submission: ReferralIn, agency: str = "education") -> list[tuple[str, str]]:
    """(code, field) of every finding."""
    return [(f.code, f.field) for f in assess(submission, agency).findings]


def seed(name: str) -> dict[str, Any]:
    """A seed referral fixture."""
    loaded: dict[str, Any] = json.loads((SEED_REFERRALS / f"{name}.json").read_text("utf-8"))
    return loaded


def leaf_strings(value: object) -> list[str]:
    """Every string value inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in leaf_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in leaf_strings(v)]
    return []


# --- The codes and the weighting -------------------------------------------------------------


def test_the_codes_are_exactly_those_of_the_released_event_schema() -> None:
    for folder in ("events", "baseline"):
        schema = json.loads((default_contracts_dir() / folder / ACCEPTED_SCHEMA).read_text())
        items = schema["properties"]["quality"]["properties"]["missing_or_unclear"]["items"]
        assert list(QUALITY_CODES) == items["enum"]


def test_the_weights_cover_every_code_and_sum_to_100() -> None:
    assert set(WEIGHTS) == set(QUALITY_CODES)
    assert sum(WEIGHTS.values()) == 100


def test_the_quality_block_fits_the_accepted_event_schema() -> None:
    schema = json.loads((default_contracts_dir() / "events" / ACCEPTED_SCHEMA).read_text())
    for submission in (referral(), ReferralIn.model_validate(synthetic_referral(1))):
        jsonschema.validate(assess(submission, "health").event_data(),
                            schema["properties"]["quality"])


# --- The exemplary referral and the minimal one ----------------------------------------------


def test_a_complete_exemplary_referral_scores_100_with_no_findings() -> None:
    assessment = assess(referral(), "education")
    assert assessment.completeness_score == 100
    assert assessment.missing_or_unclear == []
    assert assessment.findings == []


@pytest.mark.parametrize("agency", ["police", "public", "youth_offending", "early_years",
                                    "local_authority", "other"])
def test_an_agency_without_its_own_section_is_not_asked_for_one(agency: str) -> None:
    assert assess(referral(agency_sections=None), agency).completeness_score == 100


def test_the_minimal_payload_is_accepted_but_told_what_is_missing() -> None:
    assessment = assess(ReferralIn.model_validate(synthetic_referral(1)), "education")
    assert [(f.code, f.field) for f in assessment.findings] == [
        ("no_parent_contact", "parents_carers"),
        ("no_parent_contact", "address"),
        ("no_consent_answer", "consent"),
        ("past_or_present_unclear", "concern.past_or_present"),
        ("past_or_present_unclear", "concern.when"),
        ("child_not_spoken_to_unknown", "concern.child_spoken_to"),
        ("missing_agency_section", "agency_sections.education"),
    ]
    assert assessment.missing_or_unclear == [
        "no_parent_contact", "no_consent_answer", "past_or_present_unclear",
        "child_not_spoken_to_unknown", "missing_agency_section",
    ]
    assert assessment.completeness_score == 100 - 15 - 20 - 15 - 10 - 10


# --- The seed's worked examples (Coventry, 001) ----------------------------------------------


def test_the_gp_surgerys_referral_about_a_pregnant_19_year_old_gets_exactly_these_findings(
) -> None:
    fixture = seed("gp_surgery_pregnant_mother")
    submission = ReferralIn.model_validate(fixture["referral"])
    assessment = assess(submission, fixture["referrer_agency"])
    assert [(f.code, f.field) for f in assessment.findings] == [
        # Ages ("19 year old", "9 month old son") instead of dates of birth; no due date.
        ("no_date_of_birth", "children[0].expected_date"),
        ("no_date_of_birth", "children[1].date_of_birth"),
        ("no_date_of_birth", "parents_carers[0].date_of_birth"),
        ("no_consent_answer", "consent"),
        # "on 26th", "today, 27th": no month, no structured timing.
        ("past_or_present_unclear", "concern.past_or_present"),
        ("past_or_present_unclear", "concern.when"),
        ("child_not_spoken_to_unknown", "concern.child_spoken_to"),
        # "UHCW": a hospital's initials the reader may not know.
        ("jargon_in_concern", "concern.summary"),
        # Which part of health, treatment and advice given: the health section.
        ("missing_agency_section", "agency_sections.health"),
    ]
    # The surgery had the mother's phone number and address: no no_parent_contact.
    assert "no_parent_contact" not in assessment.missing_or_unclear
    assert assessment.completeness_score == 100 - 25 - 20 - 15 - 10 - 5 - 10
    by_field = {f.field: f.message for f in assessment.findings}
    assert "unborn baby" in by_field["children[0].expected_date"]
    assert "An age alone is not enough" in by_field["parents_carers[0].date_of_birth"]
    assert "1 capitalised abbreviation that is not explained" in by_field["concern.summary"]


def test_the_ambulance_report_where_it_is_unclear_who_the_patient_is_gets_exactly_these_findings(
) -> None:
    fixture = seed("ambulance_unclear_patient")
    submission = ReferralIn.model_validate(fixture["referral"])
    assessment = assess(submission, fixture["referrer_agency"])
    assert [(f.code, f.field) for f in assessment.findings] == [
        ("no_date_of_birth", "children[0].date_of_birth"),
        ("no_parent_contact", "parents_carers"),
        ("no_parent_contact", "address"),
        ("no_consent_answer", "consent"),
        ("past_or_present_unclear", "concern.past_or_present"),
        ("past_or_present_unclear", "concern.when"),
        ("child_not_spoken_to_unknown", "concern.child_spoken_to"),
        ("jargon_in_concern", "concern.summary"),
        ("missing_agency_section", "agency_sections.health"),
    ]
    assert assessment.missing_or_unclear == list(QUALITY_CODES)
    assert assessment.completeness_score == 10
    by_field = {f.field: f.message for f in assessment.findings}
    # Why it matters: the seed's report could be read as being about a parent.
    who = by_field["children[0].date_of_birth"]
    assert "Say exactly who the concern is about" in who
    assert "parent" in who
    jargon = by_field["concern.summary"]
    assert "pt (patient)" in jargon
    assert "question mark before a word" in jargon


def test_saying_who_the_ambulance_patient_was_clears_the_identity_finding() -> None:
    body = copy.deepcopy(seed("ambulance_unclear_patient")["referral"])
    body["children"] = [{"first_name": "Mia", "last_name": "Testteen",
                         "date_of_birth": "2012-03-04"}]
    codes = assess(ReferralIn.model_validate(body), "health").missing_or_unclear
    assert "no_date_of_birth" not in codes


@pytest.mark.parametrize("name", ["gp_surgery_pregnant_mother", "ambulance_unclear_patient"])
def test_no_finding_message_repeats_anything_the_referrer_wrote(name: str) -> None:
    fixture = seed(name)
    body = {k: v for k, v in fixture["referral"].items() if k != "kind"}  # "referral"
    values = [v for v in leaf_strings(body) if len(v) >= 3]
    values += ["UHCW", "whiskey", "19 year", "9 month"]
    for finding in assess(ReferralIn.model_validate(fixture["referral"]), "health").findings:
        for value in values:
            assert value not in finding.message, (finding.field, value)


def test_every_seed_fixture_is_tested_by_name() -> None:
    assert sorted(p.stem for p in SEED_REFERRALS.glob("*.json")) == [
        "ambulance_unclear_patient", "gp_surgery_pregnant_mother"]


# --- no_date_of_birth ------------------------------------------------------------------------


def test_each_child_carries_an_equal_share_of_the_date_of_birth_weight() -> None:
    children = [*REFERRAL_EXAMPLE["children"],
                {"first_name": "Ava", "last_name": "Testchild"}]
    assessment = assess(referral(children=children), "education")
    assert [(f.code, f.field) for f in assessment.findings] == [
        ("no_date_of_birth", "children[1].date_of_birth")]
    assert assessment.completeness_score == 92  # 100 - 15/2, rounded down


def test_everyone_else_listed_needs_a_date_of_birth_too() -> None:
    submission = referral(
        siblings=[{"first_name": "Lily", "last_name": "Testchild"}],
        other_children_in_home=[{"relationship": "cousin"}],
    )
    assert fields(submission) == [
        ("no_date_of_birth", "siblings[0].date_of_birth"),
        ("no_date_of_birth", "other_children_in_home[0].date_of_birth"),
    ]
    # 10 points shared by the four people listed besides the child; two lack a date.
    assert assess(submission, "education").completeness_score == 95


def test_an_unborn_baby_with_an_expected_date_needs_no_date_of_birth() -> None:
    unborn = {"unborn": True, "last_name": "Testchild", "expected_date": "2027-03-01"}
    assert fields(referral(children=[*REFERRAL_EXAMPLE["children"], unborn])) == []


# --- no_parent_contact -----------------------------------------------------------------------


def test_a_parent_without_a_phone_or_email_cannot_be_contacted() -> None:
    parents = [{**REFERRAL_EXAMPLE["parents_carers"][0], "phone": None}]
    assert fields(referral(parents_carers=parents)) == [
        ("no_parent_contact", "parents_carers")]
    parents[0]["email"] = "parent@home.example"
    assert fields(referral(parents_carers=parents)) == []


def test_an_address_without_a_postcode_is_unclear_unless_the_family_has_no_fixed_abode() -> None:
    assert fields(referral(address={"lines": ["1 Example Street"]})) == [
        ("no_parent_contact", "address.postcode")]
    assert fields(referral(address={"no_fixed_abode": True})) == []


# --- no_consent_answer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "points"),
    [("discussed_with_parents", 2), ("parents_aware", 2), ("consent_to_referral", 10),
     ("consent_to_information_sharing", 6)],
)
def test_each_unanswered_consent_question_is_named(question: str, points: int) -> None:
    consent = {**REFERRAL_EXAMPLE["consent"], question: None}
    assessment = assess(referral(consent=consent), "education")
    assert [(f.code, f.field) for f in assessment.findings] == [
        ("no_consent_answer", f"consent.{question}")]
    assert assessment.completeness_score == 100 - points


def test_an_honest_no_with_a_reason_is_an_answer() -> None:
    consent = {"discussed_with_parents": False, "parents_aware": False,
               "consent_to_referral": "not_sought", "consent_to_information_sharing": "no",
               "reasons_if_not": "Synthetic: asking would put the child at risk."}
    assert fields(referral(consent=consent)) == []


# --- past_or_present_unclear -----------------------------------------------------------------


def test_a_concern_said_to_be_unclear_in_time_is_reported_as_unclear() -> None:
    [finding] = assess(referral(concern=concern(past_or_present="unclear")),
                       "education").findings
    assert (finding.code, finding.field) == ("past_or_present_unclear",
                                             "concern.past_or_present")
    assert finding.message.startswith("You said it is unclear")


@pytest.mark.parametrize("answer", ["past", "present", "both"])
def test_past_present_or_both_is_a_clear_answer(answer: str) -> None:
    assert fields(referral(concern=concern(past_or_present=answer))) == []


def test_when_may_be_said_in_words_if_there_are_no_dates() -> None:
    no_dates = concern(when=[])
    assert fields(referral(concern=no_dates)) == [
        ("past_or_present_unclear", "concern.when")]
    in_words = concern(when=[], when_description="Most weekends since the summer.")
    assert fields(referral(concern=in_words)) == []


# --- child_not_spoken_to_unknown -------------------------------------------------------------


def test_not_knowing_whether_the_child_was_spoken_to_is_reported() -> None:
    assert fields(referral(concern=concern(child_spoken_to="unknown"))) == [
        ("child_not_spoken_to_unknown", "concern.child_spoken_to")]


def test_no_is_a_clear_answer_about_speaking_to_the_child() -> None:
    assert fields(referral(concern=concern(child_spoken_to="no"))) == []


def test_an_unborn_baby_cannot_be_spoken_to() -> None:
    unborn = [{"unborn": True, "last_name": "Testchild", "expected_date": "2027-03-01"}]
    submission = referral(children=unborn, concern=concern(child_spoken_to=None))
    assert fields(submission) == []


# --- jargon_in_concern -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Police attended a DV incident at the home.", "DV (domestic violence)"),
        ("Previous referral was NFA.", "NFA (no further action)"),
        ("Child is LAC and placed out of area.", "LAC (looked-after child)"),
        ("Concerns about CSE.", "CSE (child sexual exploitation)"),
        ("Reported to the police for ASB.", "ASB (anti-social behaviour)"),
        ("Open to CAMHS since May.", "CAMHS (child and adolescent mental health services)"),
        ("Mother DNA'd two appointments.", "DNA (did not attend)"),
        ("Previously subject to s47 enquiries.", "s47 (a section 47 child protection enquiry)"),
        ("An S.17 assessment was done.", "s17 (a section 17 child in need assessment)"),
        ("Pt seen at home.", "pt (patient)"),
        ("Scratches to arm ?self harm.", "a question mark before a word"),
        ("Known to YOT since the summer.", "1 capitalised abbreviation that is not explained"),
    ],
)
def test_common_safeguarding_jargon_is_reported_by_its_meaning(text: str, named: str) -> None:
    [finding] = assess(referral(concern=concern(summary=text)), "education").findings
    assert (finding.code, finding.field) == ("jargon_in_concern", "concern.summary")
    assert named in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "Mother told police about domestic violence (DV) last year.",
        "The youth offending team (YOT) has been involved.",
        "YOT (youth offending team) has been involved.",
        "His GP referred him to the NHS clinic in the UK.",
        "Mum is NOT coping and says she CANNOT go on; she DOESN'T sleep.",  # emphasis
        "Dana TESTPARENT collected Sam late again.",  # a surname in capitals
        "A section 47 enquiry was held. Is he safe? He says so.",
        "SAM CAME IN UPSET AND SAID HIS MUM HAD GONE AWAY FOR THE WEEKEND.",
    ],
)
def test_plain_words_explained_abbreviations_emphasis_and_names_are_not_jargon(
    text: str,
) -> None:
    assert fields(referral(concern=concern(summary=text))) == []


def test_an_unexplained_abbreviation_is_counted_but_never_repeated() -> None:
    [finding] = assess(referral(concern=concern(summary="Seen by the QRT and the MFH team.")),
                       "education").findings
    assert "2 capitalised abbreviations that are not explained" in finding.message
    assert "QRT" not in finding.message
    assert "MFH" not in finding.message


def test_jargon_anywhere_in_the_concern_is_reported_where_it_is_but_costs_once() -> None:
    changed = concern(
        impact_on_child="He is missing school since the DV started.",
        chronology=[{"on": "2025-06-01", "what_happened": "CP plan ended."}],
    )
    assessment = assess(referral(concern=changed), "education")
    assert [(f.code, f.field) for f in assessment.findings] == [
        ("jargon_in_concern", "concern.impact_on_child"),
        ("jargon_in_concern", "concern.chronology[0].what_happened"),
    ]
    assert assessment.completeness_score == 95


def test_the_glossary_is_documented_with_the_acronyms_the_brief_names() -> None:
    for acronym in ("DV", "DA", "NFA", "CIN", "CP", "LAC", "CSE", "ASB", "CAMHS"):
        assert GLOSSARY[acronym]


# --- missing_agency_section ------------------------------------------------------------------


@pytest.mark.parametrize("agency", sorted(AGENCY_SECTIONS))
def test_an_agency_with_a_section_in_domain_4_is_asked_for_it(agency: str) -> None:
    [finding] = assess(referral(agency_sections=None), agency).findings
    assert (finding.code, finding.field) == ("missing_agency_section",
                                             f"agency_sections.{agency}")
    assert "section is not filled in" in finding.message


def test_an_empty_agency_section_counts_as_missing() -> None:
    assert fields(referral(agency_sections={"education": {}})) == [
        ("missing_agency_section", "agency_sections.education")]


def test_another_agencys_section_does_not_stand_in_for_your_own() -> None:
    sections = {"camhs": {"diagnosis": "Synthetic diagnosis."}}
    assert fields(referral(agency_sections=sections), "health") == [
        ("missing_agency_section", "agency_sections.health")]


# --- date_errors -----------------------------------------------------------------------------


def test_the_exemplary_and_the_minimal_referral_have_no_date_errors() -> None:
    assert date_errors(referral(), TODAY) == []
    assert date_errors(ReferralIn.model_validate(synthetic_referral(1)), TODAY) == []


def test_a_birth_date_in_the_future_is_an_error_for_anyone_listed() -> None:
    child = {"first_name": "Sam", "last_name": "Testchild", "date_of_birth": "2026-11-24"}
    sibling = {"first_name": "Lily", "date_of_birth": "2027-01-01"}
    errors = date_errors(referral(children=[child], siblings=[sibling]), TODAY)
    assert [e.field for e in errors] == ["children[0].date_of_birth",
                                         "siblings[0].date_of_birth"]
    assert all("must not be in the future" in e.message for e in errors)


def test_a_child_of_18_or_over_needs_a_reason() -> None:
    child = {"first_name": "Sam", "last_name": "Testchild", "date_of_birth": "2008-11-23"}
    [error] = date_errors(referral(children=[child]), TODAY)
    assert error == DateError("children[0].over_18_reason", error.message)
    assert "18 or over" in error.message
    child["over_18_reason"] = "Synthetic: a care leaver."
    assert date_errors(referral(children=[child]), TODAY) == []


def test_a_child_is_17_until_their_18th_birthday() -> None:
    child = {"first_name": "Sam", "last_name": "Testchild", "date_of_birth": "2008-11-24"}
    assert date_errors(referral(children=[child]), TODAY) == []
    assert age_on(date(2008, 11, 24), TODAY) == 17
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


@pytest.mark.parametrize(("expected", "wrong"),
                         [("2026-11-09", False), ("2026-11-08", True), ("2027-03-01", False)])
def test_an_unborn_babys_expected_date_may_be_at_most_two_weeks_past(
    expected: str, wrong: bool
) -> None:
    unborn = {"unborn": True, "expected_date": expected}
    errors = date_errors(referral(children=[unborn]), TODAY)
    assert [e.field for e in errors] == (["children[0].expected_date"] if wrong else [])


def test_dates_in_the_concern_cannot_be_in_the_future() -> None:
    changed = concern(when=[{"on": "2026-11-23"}, {"on": "2026-11-24"}],
                      chronology=[{"on": "2027-01-01", "what_happened": "Synthetic."}])
    errors = date_errors(referral(concern=changed), TODAY)
    assert [e.field for e in errors] == ["concern.when[1].on", "concern.chronology[0].on"]


def test_a_date_error_is_a_field_and_a_message_that_repeats_no_value() -> None:
    child = {"first_name": "Sam", "last_name": "Testchild", "date_of_birth": "2030-01-01"}
    [(field, message)] = date_errors(referral(children=[child]), TODAY)
    assert field == "children[0].date_of_birth"
    assert "2030" not in message
