"""The workbench's error messages, worded for each question (GOV.UK Design System).

The problems are made as the APIs make them: the services' own request models refuse the
body, and each error becomes ``{field, message, code}`` exactly as ``mashcore.problems``
writes it.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mash_enquiries.api_models import AnswerIn, DeclineIn, OutcomeIn
from mashcore.problems import field_path
from strategy import api_models as strategy_api
from strategy.conferences import api as conference_api
from triage.api_models import ConsentGateIn, DecisionIn, RatingIn
from workbench import conference_forms, questions
from workbench import strategy_forms as sf
from workbench.questions import Question, form_errors


def refused(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """The 422 problem the API answers for ``body``."""
    with pytest.raises(ValidationError) as refusal:
        model.model_validate(body)
    return {"status": 422, "errors": [
        {"field": field_path(("body", *e["loc"])), "message": e["msg"], "code": e["type"]}
        for e in refusal.value.errors()]}


def test_unanswered_questions_are_worded_for_the_question_not_field_required() -> None:
    problem = refused(RatingIn, {})
    assert form_errors(problem, questions.RATING) == {
        "brag": "Select a BRAG rating",
        "safeguarding_concerns": "Select yes if there are safeguarding concerns"}
    problem = refused(DeclineIn, {"explanation": "   "})  # only spaces: not an answer
    assert form_errors(problem, questions.NAVIGATOR_DECLINE) == {
        "reason_code": "Select why your agency is declining",
        "explanation": "Enter an explanation"}


def test_too_long_says_the_api_s_limit() -> None:
    problem = refused(DecisionIn, {"level_code": "L4", "brag": "red", "route": "mash_enquiries",
                                   "rationale": "x" * 10_001})
    assert form_errors(problem, questions.THRESHOLD_DECISION) == {
        "rationale": "Rationale must be 10000 characters or fewer"}


def test_a_choice_not_offered_asks_for_one_of_the_options() -> None:
    problem = refused(ConsentGateIn, {"outcome": "elsewhere", "rationale": "Synthetic."})
    assert form_errors(problem, questions.CONSENT_GATE) == {
        "outcome": "Select how the case leaves the consent gate"}
    problem = refused(OutcomeIn, {"outcome": "maybe"})
    assert form_errors(problem, questions.OUTCOME) == {
        "outcome": "Select the outcome of the MASH enquiries",
        "rationale": "Enter the rationale for the outcome"}


def test_a_list_answer_tells_apart_too_many_lines_and_a_line_too_long() -> None:
    too_many = refused(AnswerIn, {"known": True, "summary": "Synthetic.",
                                  "risk_indicators": [f"r{i}" for i in range(51)]})
    assert form_errors(too_many, questions.NAVIGATOR_ANSWER) == {
        "risk_indicators": "Enter 50 risk indicators or fewer, one per line"}
    one_too_long = refused(AnswerIn, {"known": True, "summary": "Synthetic.",
                                      "risk_indicators": ["ok", "y" * 201]})
    assert form_errors(one_too_long, questions.NAVIGATOR_ANSWER) == {
        "risk_indicators": "Each risk indicator must be 200 characters or fewer"}


def test_errors_come_in_the_form_s_order_whatever_order_the_api_used() -> None:
    problem = {"errors": [{"field": "rationale", "message": "Field required", "code": "missing"},
                          {"field": "brag", "message": "Field required", "code": "missing"},
                          {"field": "brag", "message": "second", "code": "missing"}]}
    assert list(form_errors(problem, questions.THRESHOLD_DECISION).items()) == [
        ("brag", "Select the final BRAG rating"),
        ("rationale", "Enter the rationale for the decision")]


def test_without_a_wording_the_api_s_message_is_kept() -> None:
    problem = {"detail": "Faulty fields: route", "errors": [
        # a rule of the partnership's pack (mashcore.problems.invalid_fields): no code
        {"field": "route", "message": "not a route your pack allows for Red"},
        {"field": "brag", "message": "Something new", "code": "a_code_nobody_words"},
        {"field": "attachments", "message": "Not on this form", "code": "missing"}]}
    assert form_errors(problem, questions.THRESHOLD_DECISION) == {
        "": "Not on this form", "brag": "Something new",
        "route": "not a route your pack allows for Red"}
    assert form_errors({"detail": "Answer refused"}, questions.OUTCOME) == {
        "": "Answer refused"}
    no_number = {"errors": [{"field": "rationale", "message": "Too long", "code":
                             "string_too_long"}]}
    assert form_errors(no_number, questions.OUTCOME) == {"rationale": "Too long"}


def test_a_form_given_as_bare_field_names_keeps_the_api_s_messages() -> None:
    problem = refused(OutcomeIn, {})
    assert form_errors(problem, ("outcome", "rationale")) == {
        "outcome": "Field required", "rationale": "Field required"}


def test_a_question_can_word_one_code_its_own_way() -> None:
    form = {"date": Question(missing="Enter the date of the meeting",
                             by_code={"date_from_datetime_parsing":
                                      "The date of the meeting must be a real date"})}
    problem = {"errors": [{"field": "date", "message": "Input should be a valid date",
                           "code": "date_from_datetime_parsing"}]}
    assert form_errors(problem, form) == {"date": "The date of the meeting must be a real date"}


def test_a_date_says_enter_it_or_that_it_must_be_a_real_one() -> None:
    form = {"given_on": Question.date("the date the copy was given",
                                      "The date the copy was given"),
            "held_at": Question.when("the date and time it was held",
                                     "The date and time it was held")}
    problem = refused(conference_api.CopyIn, {"form": "written"})
    assert form_errors(problem, form) == {"given_on": "Enter the date the copy was given"}
    problem = refused(conference_api.CopyIn, {"given_on": "31/02/2027", "form": "written"})
    assert form_errors(problem, form) == {
        "given_on": "The date the copy was given must be a real date"}
    problem = refused(conference_api.CopyIn, {"given_on": "2027-02-31", "form": "written"})
    assert form_errors(problem, form) == {
        "given_on": "The date the copy was given must be a real date"}
    problem = refused(conference_api.CoreGroupHeldIn, {"held_at": "26/11/2026 10:00",
                                                        "attendees": [{"role": "child"}]})
    assert form_errors(problem, form) == {
        "held_at": "The date and time it was held must be a real date and time"}


def test_a_list_of_people_words_its_rows_errors_as_the_list_s() -> None:
    body = {"format": "video_call", "starts_at": "2026-11-24T14:00:00Z",
            "ends_at": "2026-11-24T15:00:00Z", "chair_id": "tm-1", "invitees": []}
    assert form_errors(refused(strategy_api.ScheduleIn, body), sf.SCHEDULE) == {
        "invitees": "Add at least one invitee"}
    body["invitees"] = [{"role": "navigator"}]
    assert form_errors(refused(strategy_api.ScheduleIn, body), sf.SCHEDULE) == {
        "invitees": "Select the role and agency of each invitee"}
    body["invitees"] = [{"role": "navigator", "agency": "police", "user_id": "-pc"}]
    assert form_errors(refused(strategy_api.ScheduleIn, body), sf.SCHEDULE) == {
        "invitees": "Each invitee's MASH user ID must start with a letter or number and only "
                    "include letters, numbers and . _ @ : -"}
    body["invitees"] = [{"role": "navigator", "agency": "police"}] * 51
    assert form_errors(refused(strategy_api.ScheduleIn, body), sf.SCHEDULE) == {
        "invitees": "Enter 50 invitees or fewer"}


# Each form of the strategy and conference pages, posted blank (as the workbench sends a
# blank form): the API's generic messages become the questions' own.
BLANK_FORMS = [
    ("strategy-schedule", sf.SCHEDULE, strategy_api.ScheduleIn, sf.schedule_body({}), {
        "format": "Select how the discussion takes place",
        "starts_at": "Enter the date and time the discussion starts",
        "ends_at": "Enter the date and time the discussion ends",
        "chair_id": "Enter the chair's MASH user ID",
        "invitees": "Add at least one invitee"}),
    ("strategy-held", sf.HELD, strategy_api.HeldIn, sf.held_body({}, [1]), {
        "held_at": "Enter the date and time the discussion was held",
        "attendees": "Add at least one attendee",
        "criminal_investigation": "Select whether a criminal investigation is required",
        "s47_decisions": "Select yes or no for section 47 enquiries for each child",
        "s47_decision_rationale": "Enter the reason for the section 47 decision"}),
    ("strategy-cancel", sf.CANCEL, strategy_api.CancelIn, sf.text_body({}, "reason"), {
        "reason": "Enter why the discussion is called off"}),
    ("strategy-minutes", sf.MINUTES, strategy_api.MinutesIn, sf.text_body({}, "minutes"), {
        "minutes": "Enter the minutes"}),
    ("s47-outcome", sf.OUTCOME, strategy_api.S47OutcomeIn, sf.outcome_body({}), {
        "outcome": "Select the outcome of the section 47 enquiry",
        "next_step": "Select the next step", "rationale": "Enter why you chose this outcome"}),
    ("s47-agreement", sf.AGREEMENT, strategy_api.S47AgreementIn, sf.agreement_body({}), {
        "agree": "Select yes if you agree the outcome", "rationale": "Enter your rationale"}),
    ("icpc-schedule", conference_forms.SCHEDULE, conference_api.IcpcScheduleIn,
     conference_forms.schedule_body({}), {
         "scheduled_for": "Enter the date and time it takes place",
         "chaired_by_iro": "Enter the chairing IRO's user ID",
         "invitees": "Enter who is invited, one a line"}),
    ("meeting-cancel", conference_forms.CANCEL, conference_api.MeetingCancelIn,
     conference_forms.cancel_body({}), {"reason": "Select why it is called off"}),
    ("core-group-schedule", conference_forms.CORE_GROUP_SCHEDULE,
     conference_api.CoreGroupScheduleIn,
     conference_forms.arranged_body({}, conference_forms.CORE_GROUP_SCHEDULE_FIELDS), {
         "scheduled_for": "Enter the date and time it takes place",
         "invitees": "Enter who is invited, one a line"}),
    ("core-group-held", conference_forms.CORE_GROUP_HELD, conference_api.CoreGroupHeldIn,
     conference_forms.core_group_held_body({}), {
         "held_at": "Enter the date and time it was held",
         "attendees": "Enter who attended, one a line"}),
    ("core-group-minutes", conference_forms.MINUTES, conference_api.CoreGroupMinutesIn,
     {"minutes": ""}, {"minutes": "Enter the minutes"}),
    ("review-schedule", conference_forms.REVIEW_SCHEDULE, conference_api.ReviewScheduleIn,
     conference_forms.arranged_body({}, conference_forms.REVIEW_SCHEDULE_FIELDS), {
         "scheduled_for": "Enter the date and time it takes place",
         "chaired_by_iro": "Enter the chairing IRO's user ID",
         "invitees": "Enter who is invited, one a line"}),
    ("review-held", conference_forms.REVIEW_HELD, conference_api.ReviewHeldIn,
     conference_forms.review_held_body({}), {
         "held_at": "Enter the date and time it was held",
         "attendees": "Enter who attended, one a line", "decision": "Select the decision",
         "rationale": "Enter the rationale"}),
    ("copy-given", conference_forms.COPY, conference_api.CopyIn,
     conference_forms.copy_body({}), {
         "given_on": "Enter the date the copy was given",
         "form": "Select the form the copy was given in"}),
]


@pytest.mark.parametrize(("form", "model", "body", "expected"),
                         [case[1:] for case in BLANK_FORMS],
                         ids=[case[0] for case in BLANK_FORMS])
def test_a_strategy_or_conference_form_left_blank_is_worded_for_its_questions(
        form: questions.Form, model: type[BaseModel], body: dict[str, Any],
        expected: dict[str, str]) -> None:
    assert form_errors(refused(model, body), form) == expected


@pytest.mark.parametrize(("form", "model"), [
    (questions.RATING, RatingIn), (questions.CONSENT_GATE, ConsentGateIn),
    (questions.THRESHOLD_DECISION, DecisionIn), (questions.OUTCOME, OutcomeIn),
    (questions.NAVIGATOR_ANSWER, AnswerIn), (questions.NAVIGATOR_DECLINE, DeclineIn),
    (sf.SCHEDULE, strategy_api.ScheduleIn), (sf.HELD, strategy_api.HeldIn),
    (sf.CANCEL, strategy_api.CancelIn), (sf.MINUTES, strategy_api.MinutesIn),
    (sf.OUTCOME, strategy_api.S47OutcomeIn), (sf.AGREEMENT, strategy_api.S47AgreementIn),
    (conference_forms.SCHEDULE, conference_api.IcpcScheduleIn),
    (conference_forms.HELD, conference_api.IcpcHeldIn),
    (conference_forms.child_questions(1), conference_api.ChildDecisionIn),
    (conference_forms.CANCEL, conference_api.MeetingCancelIn),
    (conference_forms.CORE_GROUP_SCHEDULE, conference_api.CoreGroupScheduleIn),
    (conference_forms.CORE_GROUP_HELD, conference_api.CoreGroupHeldIn),
    (conference_forms.MINUTES, conference_api.CoreGroupMinutesIn),
    (conference_forms.REVIEW_SCHEDULE, conference_api.ReviewScheduleIn),
    (conference_forms.REVIEW_HELD, conference_api.ReviewHeldIn),
    (conference_forms.COPY, conference_api.CopyIn),
], ids=["rating", "consent-gate", "threshold-decision", "outcome", "answer", "decline",
        "strategy-schedule", "strategy-held", "strategy-cancel", "strategy-minutes",
        "s47-outcome", "s47-agreement", "icpc-schedule", "icpc-held", "icpc-child-decision",
        "meeting-cancel", "core-group-schedule", "core-group-held", "core-group-minutes",
        "review-schedule", "review-held", "copy-given"])
def test_every_question_is_a_field_of_its_api_s_request(
        form: questions.Form, model: type[BaseModel]) -> None:
    assert set(form) <= set(model.model_fields)
