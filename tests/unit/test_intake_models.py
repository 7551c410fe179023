"""The referral partner systems post (DOMAIN.md §4): what it accepts and what it refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from intake.contacts.api_models import REFERRAL_EXAMPLE, ReferralIn
from tests.support import synthetic_referral

pytestmark = pytest.mark.unit


def example(**changes: Any) -> dict[str, Any]:
    """A deep copy of the OpenAPI example referral with top-level changes."""
    body = copy.deepcopy(REFERRAL_EXAMPLE)
    body.update(changes)
    return body


def refusal(body: dict[str, Any]) -> str:
    """The validation error a body gets, as text."""
    with pytest.raises(ValidationError) as caught:
        ReferralIn.model_validate(body)
    return str(caught.value)


def test_the_minimal_payload_the_tests_use_stays_valid() -> None:
    referral = ReferralIn.model_validate(synthetic_referral(7))
    assert referral.children[0].last_name == "Child7"
    assert referral.consent is None
    assert referral.agency_sections is None
    assert referral.staff_linked is False


def test_a_child_whose_identity_is_unknown_is_still_a_valid_referral() -> None:
    ReferralIn.model_validate(synthetic_referral(children=[{"identity_unknown": True}]))


def test_the_openapi_example_is_a_valid_referral_about_synthetic_people() -> None:
    assert ReferralIn.model_json_schema()["examples"] == [REFERRAL_EXAMPLE]
    referral = ReferralIn.model_validate(REFERRAL_EXAMPLE)
    assert referral.address is not None
    assert referral.address.postcode == "CV1 9ZZ"
    surnames = {c.last_name for c in referral.children} | {
        p.last_name for p in [*referral.siblings, *referral.parents_carers,
                              *referral.other_adults_in_home]}
    assert all(name and name.startswith("Test") for name in surnames)


def test_every_object_in_the_referral_refuses_fields_it_does_not_know() -> None:
    schema = ReferralIn.model_json_schema()
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        assert definition.get("additionalProperties") is False, name


def test_every_top_level_field_is_described_for_the_person_filling_it_in() -> None:
    undescribed = [name for name, field in ReferralIn.model_fields.items()
                   if not field.description]
    assert undescribed == []


def test_an_unknown_field_is_refused_wherever_it_appears() -> None:
    body = example()
    body["consent"] = {**body["consent"], "consent_to_everything": "yes"}
    assert "consent.consent_to_everything" in refusal(body)
    assert "agency_sections.police" in refusal(example(agency_sections={"police": {}}))


@pytest.mark.parametrize(
    ("field", "answer"),
    [
        ("discussed_with_parents", False),
        ("parents_aware", False),
        ("child_over_16_consented", False),
        ("consent_to_referral", "no"),
        ("consent_to_referral", "not_sought"),
        ("consent_to_information_sharing", "no"),
        ("consent_to_information_sharing", "not_sought"),
    ],
)
def test_each_consent_no_without_a_reason_is_a_validation_error_naming_the_field(
    field: str, answer: object
) -> None:
    consent = {**REFERRAL_EXAMPLE["consent"], field: answer}
    with pytest.raises(ValidationError) as caught:
        ReferralIn.model_validate(example(consent=consent))
    [error] = caught.value.errors()
    assert error["loc"] == ("consent",)
    assert field in error["msg"]
    assert "reasons_if_not" in error["msg"]


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_blank_reason_is_no_reason(reason: str | None) -> None:
    consent = {**REFERRAL_EXAMPLE["consent"], "consent_to_referral": "no",
               "reasons_if_not": reason}
    if reason == "":
        # Refused as too short before the rule is even reached.
        assert "reasons_if_not" in refusal(example(consent=consent))
    else:
        assert "consent_to_referral is 'no'" in refusal(example(consent=consent))


def test_every_no_is_named_when_several_lack_a_reason() -> None:
    consent = {"discussed_with_parents": False, "parents_aware": False,
               "consent_to_referral": "not_sought"}
    message = refusal(example(consent=consent))
    for field in ("discussed_with_parents", "parents_aware", "consent_to_referral"):
        assert field in message


def test_a_no_with_a_reason_and_attempts_is_accepted() -> None:
    consent = {
        "discussed_with_parents": False, "parents_aware": False,
        "consent_to_referral": "not_sought", "consent_to_information_sharing": "not_sought",
        "not_sought_basis": "seeking_consent_would_risk_significant_harm",
        "reasons_if_not": "Synthetic: asking would warn the alleged abuser, who lives there.",
        "attempts": [{"on": "2026-11-20", "how": "phone call", "outcome": "Not answered."}],
    }
    referral = ReferralIn.model_validate(example(consent=consent))
    assert referral.consent is not None
    assert referral.consent.refusals() == [
        "discussed_with_parents is false", "parents_aware is false",
        "consent_to_referral is 'not_sought'", "consent_to_information_sharing is 'not_sought'",
    ]


def test_a_child_without_names_must_be_said_to_be_unknown() -> None:
    message = refusal(synthetic_referral(children=[{"date_of_birth": "2015-06-01"}]))
    assert "first_name and last_name required unless identity_unknown is true" in message


def test_an_unborn_baby_needs_no_name_and_has_an_expected_date_instead_of_a_birth_date() -> None:
    referral = ReferralIn.model_validate(synthetic_referral(children=[
        {"unborn": True, "expected_date": "2027-02-01", "father_name": "Lee Testfather"}]))
    assert referral.children[0].date_of_birth is None
    assert "use expected_date" in refusal(synthetic_referral(children=[
        {"unborn": True, "date_of_birth": "2026-01-01"}]))


@pytest.mark.parametrize("field", ["expected_date", "father_name"])
def test_the_unborn_details_are_refused_for_a_born_child(field: str) -> None:
    value = "2027-02-01" if field == "expected_date" else "Lee Testfather"
    child = {"first_name": "Sam", "last_name": "Testchild", field: value}
    assert f"{field} only apply when unborn is true" in refusal(
        synthetic_referral(children=[child]))


@pytest.mark.parametrize(
    ("given", "stored"),
    [("CV1 2AB", "CV1 2AB"), ("cv12ab", "CV1 2AB"), (" sw1a 1aa ", "SW1A 1AA"),
     ("M1 1AE", "M1 1AE"), ("B33 8TH", "B33 8TH"), ("gir 0aa", "GIR 0AA")],
)
def test_a_uk_postcode_is_accepted_in_any_case_and_stored_in_the_usual_form(
    given: str, stored: str
) -> None:
    referral = ReferralIn.model_validate(example(address={"postcode": given}))
    assert referral.address is not None
    assert referral.address.postcode == stored


@pytest.mark.parametrize("postcode", ["12345", "CV1 2A", "CV1", "ABC 123", "CV1 2AB X"])
def test_something_that_is_not_a_uk_postcode_is_refused(postcode: str) -> None:
    assert "address.postcode" in refusal(example(address={"postcode": postcode}))


def test_an_nhs_number_has_ten_digits() -> None:
    child = {"first_name": "Sam", "last_name": "Testchild", "nhs_number": "943 476 5919"}
    ReferralIn.model_validate(synthetic_referral(children=[child]))
    child["nhs_number"] = "94347659"
    assert "children.0.nhs_number" in refusal(synthetic_referral(children=[child]))


def test_an_anonymous_member_of_the_public_need_not_give_a_name_or_contact_details() -> None:
    referral = ReferralIn.model_validate(synthetic_referral(
        referrer={"role": "Neighbour", "anonymous": True}))
    assert referral.referrer.anonymous is True
    assert referral.referrer.name is None


def test_a_referrer_who_is_not_anonymous_gives_a_name_and_a_way_to_be_reached() -> None:
    assert "name required unless anonymous" in refusal(synthetic_referral(
        referrer={"role": "Teacher", "email": "t@school.example"}))
    assert "email or phone required unless anonymous" in refusal(synthetic_referral(
        referrer={"name": "Alex Testreferrer", "role": "Teacher"}))
    ReferralIn.model_validate(synthetic_referral(
        referrer={"name": "Alex Testreferrer", "role": "Grandparent", "phone": "07700 900111"}))


def test_a_deputy_must_be_reachable() -> None:
    referrer = {**REFERRAL_EXAMPLE["referrer"], "deputy": {"name": "Jo Testdeputy"}}
    assert "referrer.deputy" in refusal(example(referrer=referrer))


@pytest.mark.parametrize(
    "scales",
    [[], [{"who": "referrer", "score": 11}], [{"who": "referrer", "score": -1}],
     [{"who": "neighbour", "score": 5}]],
)
def test_a_safety_scale_is_one_or_more_scores_from_0_to_10_by_a_known_person(
    scales: list[dict[str, Any]]
) -> None:
    assert "signs_of_safety.scales" in refusal(example(signs_of_safety={"scales": scales}))


def test_a_safety_scale_may_have_one_number_per_person() -> None:
    scales = [{"who": "referrer", "score": 3}, {"who": "child", "score": 5},
              {"who": "parent", "score": 8}, {"who": "other", "who_details": "health visitor",
                                               "score": 4}]
    referral = ReferralIn.model_validate(example(signs_of_safety={"scales": scales}))
    assert referral.signs_of_safety is not None
    assert [s.score for s in referral.signs_of_safety.scales or []] == [3, 5, 8, 4]


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"flag": True, "barnardos_scale": 5}, "barnardos_scale"),
        ({"flag": True, "caada_ric_score": 25}, "caada_ric_score"),
        ({"flag": True, "dash_risk_level": "severe"}, "dash_risk_level"),
        ({"flag": False, "dash_risk_level": "high"}, "dash_risk_level given but flag is false"),
        ({"flag": True, "dash_completed": False, "caada_ric_score": 15},
         "caada_ric_score given but dash_completed is false"),
    ],
)
def test_a_domestic_abuse_risk_assessment_that_cannot_be_right_is_refused(
    block: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(example(domestic_abuse=block))


def test_a_high_risk_domestic_abuse_referral_is_accepted() -> None:
    block = {"flag": True, "dash_completed": True, "dash_risk_level": "high",
             "caada_ric_score": 15, "barnardos_scale": 4}
    referral = ReferralIn.model_validate(example(domestic_abuse=block))
    assert referral.domestic_abuse is not None
    assert referral.domestic_abuse.dash_risk_level == "high"


def test_staff_link_details_without_the_flag_are_refused_so_the_record_is_not_left_open() -> None:
    assert "staff_linked is false" in refusal(example(staff_link_details="Synthetic detail."))
    ReferralIn.model_validate(example(staff_linked=True, staff_link_details="Synthetic."))


def test_an_instant_in_an_agency_section_must_say_its_time_zone() -> None:
    section = {"education": {"made_aware_at": "2026-11-20T08:45:00"}}
    assert "agency_sections.education.made_aware_at" in refusal(
        example(agency_sections=section))


def test_every_agency_section_of_domain_4_can_be_sent() -> None:
    sections = {
        "health": {"part_of_health": "ambulance_service", "presenting_need": "Intoxicated.",
                   "arrived_at": "2026-11-20T21:40:00+00:00",
                   "ambulance_or_police_log_number": "SYN-0001",
                   "previous_similar_presentations": [{"on": "2026-10-01",
                                                       "what_happened": "Similar."}]},
        "camhs": {"referred_to_camhs_by": "GP", "involved_since": "2026-01-10",
                  "history": [{"on": "2026-02-01", "what_happened": "First seen."}],
                  "risks": "Self-harm."},
        "probation": {"offence": "Synthetic offence.", "sentencing_date": "2025-05-05",
                      "contact_supervised": "unsupervised", "assessed_risk_level": "very_high"},
        "housing": {"homeless_application_on": "2026-11-01", "recourse_to_public_funds": "no",
                    "domestic_abuse_known": True},
        "education": {"parents_spoken_to": False,
                      "parents_not_spoken_to_reason": "Synthetic reason.",
                      "attendance_percent": 81},
    }
    referral = ReferralIn.model_validate(example(agency_sections=sections))
    assert referral.agency_sections is not None
    assert referral.agency_sections.probation is not None
    assert referral.agency_sections.probation.assessed_risk_level == "very_high"
