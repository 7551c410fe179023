"""The escalation pages' pure mappings: what the raise, answer and escalate forms post becomes
the strategy API's body, its problems come back worded for the form's questions (the
escalated-to person's parts each to its own field), coded values are the API's and the
ladder's own, and the waiting list is earliest deadline first with the time left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from mashcore.auth import Role
from mashcore.policy.model import AnsweringTokenRole, EscalationRole
from mashcore.problems import field_path
from strategy import api_models
from workbench import escalation_forms as ef
from workbench import escalations
from workbench.apis import ApiAnswer, ApiUnavailable

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tuesday
REFERENCE = "MASH-2026-P9CJ4VTB"


def refused(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """The 422 problem the API answers for ``body``."""
    with pytest.raises(ValidationError) as refusal:
        model.model_validate(body)
    return {"status": 422, "errors": [
        {"field": field_path(("body", *e["loc"])), "message": e["msg"], "code": e["type"]}
        for e in refusal.value.errors()]}


def test_the_coded_values_are_the_ones_the_api_and_the_ladder_take() -> None:
    about = api_models.EscalationIn.model_fields["about"].annotation
    assert set(ef.ABOUT) == set(get_args(about))
    assert set(ef.LADDER_ROLES) == set(get_args(EscalationRole))
    assert set(ef.LADDER_ROLES) <= set(get_args(api_models.PractitionerRole))
    assert {str(r) for r in escalations.ANSWERER_ROLES} == set(get_args(AnsweringTokenRole))
    assert Role.INFORMATION_OFFICER not in escalations.ANSWERER_ROLES
    assert Role.INFORMATION_OFFICER in escalations.RAISER_ROLES


@pytest.mark.parametrize(("form", "model"), [
    (ef.RAISE, api_models.EscalationIn), (ef.ANSWER, api_models.EscalationAnswerIn),
    (ef.ESCALATE, api_models.EscalateIn)], ids=["raise", "answer", "escalate"])
def test_every_question_is_a_field_of_the_api_s_request(
        form: dict[str, Any], model: type[BaseModel]) -> None:
    person = set(api_models.EscalatedToIn.model_fields)
    for name in form:
        if name.startswith("escalated_to_"):
            assert "escalated_to" in model.model_fields
            assert name.removeprefix("escalated_to_") in person
        else:
            assert name in model.model_fields


def test_the_raise_form_becomes_the_body_without_its_blank_answers() -> None:
    fields = {"about": "threshold_decision", "summary": "  Synthetic: should be Red.  ",
              "escalated_to_role": "team_manager", "escalated_to_agency": "local_authority",
              "escalated_to_user_id": " tm-1 ", "csrf_token": "x"}
    assert ef.raise_body(fields, REFERENCE) == {
        "case_reference": REFERENCE, "about": "threshold_decision",
        "summary": "Synthetic: should be Red.", "escalated_to": {
            "role": "team_manager", "agency": "local_authority", "user_id": "tm-1"}}
    assert ef.raise_body({"summary": " ", "escalated_to_role": ""}, REFERENCE) == {
        "case_reference": REFERENCE, "escalated_to": {}}
    api_models.EscalationIn.model_validate(ef.raise_body(fields, REFERENCE))


def test_the_answer_form_sends_resolved_as_a_boolean_only_when_chosen() -> None:
    assert ef.answer_body({"resolved": "no", "resolution": " Synthetic: it stands. "}) == {
        "resolved": False, "resolution": "Synthetic: it stands."}
    assert ef.answer_body({"resolved": "yes", "resolution": "Synthetic."})["resolved"] is True
    assert ef.answer_body({"resolved": "maybe", "resolution": ""}) == {}
    assert ef.answer_body({}) == {}


def test_the_escalate_form_becomes_the_body() -> None:
    assert ef.escalate_body({"summary": "Synthetic: still disagree.",
                             "escalated_to_role": "service_manager",
                             "escalated_to_agency": "local_authority",
                             "escalated_to_user_id": "hos-1"}) == {
        "summary": "Synthetic: still disagree.", "escalated_to": {
            "role": "service_manager", "agency": "local_authority", "user_id": "hos-1"}}


def test_an_empty_form_s_problems_are_worded_for_each_question_in_the_form_s_order() -> None:
    assert ef.errors(refused(api_models.EscalationAnswerIn, ef.answer_body({})),
                     ef.ANSWER) == {
        "resolved": "Select yes if the disagreement is resolved",
        "resolution": "Enter your answer"}
    assert ef.errors(refused(api_models.EscalationIn, ef.raise_body({}, REFERENCE)),
                     ef.RAISE) == {
        "about": "Select the decision you disagree with",
        "summary": "Enter the disagreement and what you ask to be reconsidered",
        "escalated_to_role": "Select the role of the person it goes to",
        "escalated_to_agency": "Select their agency",
        "escalated_to_user_id": "Enter their MASH user ID"}
    wrong = refused(api_models.EscalateIn, ef.escalate_body({
        "summary": "x" * 4001, "escalated_to_role": "bishop",
        "escalated_to_agency": "local_authority", "escalated_to_user_id": "no spaces"}))
    assert ef.errors(wrong, ef.ESCALATE) == {
        "summary": "Why the answer does not resolve it must be 4000 characters or fewer",
        "escalated_to_role": "Select the role of the person it goes to",
        "escalated_to_user_id": "Their MASH user ID must start with a letter or number and "
                                "only include letters, numbers and . _ @ : -"}


def test_the_ladder_s_own_refusals_keep_the_api_s_words_on_their_field() -> None:
    problem = {"status": 422, "title": "Escalation refused", "errors": [
        {"field": "escalated_to.role", "message": "stage 2 (Head of service) is answered by "
                                                  "service_manager"},
        {"field": "escalated_to.user_id", "message": "they answered an earlier stage: "
                                                     "escalate to someone more senior"}]}
    assert ef.errors(problem, ef.ESCALATE) == {
        "escalated_to_role": "stage 2 (Head of service) is answered by service_manager",
        "escalated_to_user_id": "they answered an earlier stage: escalate to someone more "
                                "senior"}
    beyond = {"errors": [{"field": "escalated_to",
                          "message": "the partnership's ladder has 4 stage(s)"}]}
    assert ef.errors(beyond, ef.ESCALATE) == {"": "the partnership's ladder has 4 stage(s)"}


def test_a_refused_form_asks_for_a_reload_names_its_fields_or_gives_the_standard_page() -> None:
    lost = ApiAnswer(409, {"detail": "Stage 1 of x is answered."})
    status, errors = escalations.refused_form(lost, ef.ANSWER)
    assert status == 409 and "Reload" in errors[""] and "is answered" in errors[""]
    assert escalations.refused_form(ApiAnswer(412, {}), ef.ANSWER)[0] == 409
    status, errors = escalations.refused_form(ApiAnswer(422, refused(
        api_models.EscalationAnswerIn, {"resolved": True})), ef.ANSWER)
    assert (status, errors) == (422, {"resolution": "Enter your answer"})
    for refusal in (403, 404):
        with pytest.raises(escalations.EscalationRefused):
            escalations.refused_form(ApiAnswer(refusal, {}), ef.ANSWER)
    with pytest.raises(ApiUnavailable):
        escalations.refused_form(ApiAnswer(503, {}), ef.ANSWER)


def test_the_waiting_list_is_earliest_deadline_first_with_the_time_left_or_how_late() -> None:
    entries = [
        {"escalation_id": "b", "case_reference": REFERENCE, "about": "mash_outcome",
         "stage": 1, "due_at": "2026-12-01T00:00:00+00:00",
         "raised_by": {"role": "navigator", "agency": "education"}},
        {"escalation_id": "a", "case_reference": REFERENCE, "about": "threshold_decision",
         "stage": 2, "due_at": "2026-11-24T09:00:00+00:00",
         "raised_by": {"role": "navigator", "agency": "police"}},
    ]
    rows = ef.waiting_rows(entries, NOW)
    assert [r["escalation_id"] for r in rows] == ["a", "b"]
    assert (rows[0]["time_left"], rows[0]["late"]) == ("Late by 1 hour", True)
    assert (rows[1]["time_left"], rows[1]["late"]) == ("6 days 14 hours left", False)
    assert rows[0]["about_words"] == "The threshold decision"
    assert rows[1]["raised_by_agency"] == "education"


def test_only_the_stage_s_answerer_and_the_raiser_are_offered_their_forms() -> None:
    e = {"status": "awaiting_answer", "escalated_to": {"user_id": "tm-1"},
         "raised_by": {"user_id": "dsl-1"}}
    assert ef.forms_for(e, "tm-1", True) == {"answer": True, "escalate": False}
    assert ef.forms_for(e, "tm-1", False) == {"answer": False, "escalate": False}
    assert ef.forms_for(e, "tm-2", True) == {"answer": False, "escalate": False}
    assert ef.forms_for(e, "dsl-1", True) == {"answer": False, "escalate": False}
    unresolved = {**e, "status": "unresolved"}
    assert ef.forms_for(unresolved, "dsl-1", True) == {"answer": False, "escalate": True}
    assert ef.forms_for(unresolved, "tm-1", True) == {"answer": False, "escalate": False}
    assert ef.forms_for({**e, "status": "resolved"}, "dsl-1", True)["escalate"] is False
