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
from triage.api_models import ConsentGateIn, DecisionIn, RatingIn
from workbench import questions
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


@pytest.mark.parametrize(("form", "model"), [
    (questions.RATING, RatingIn), (questions.CONSENT_GATE, ConsentGateIn),
    (questions.THRESHOLD_DECISION, DecisionIn), (questions.OUTCOME, OutcomeIn),
    (questions.NAVIGATOR_ANSWER, AnswerIn), (questions.NAVIGATOR_DECLINE, DeclineIn),
], ids=["rating", "consent-gate", "threshold-decision", "outcome", "answer", "decline"])
def test_every_question_is_a_field_of_its_api_s_request(
        form: questions.Form, model: type[BaseModel]) -> None:
    assert set(form) <= set(model.model_fields)
