"""The strategy pages' pure mappings: what a form posts becomes the API's body, coded values
are the API's own, and the work list puts the earliest deadline first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from mashcore.workingtime import WorkingCalendar
from strategy import api_models
from workbench import strategy
from workbench import strategy_forms as sf
from workbench.apis import ApiAnswer, ApiUnavailable

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday
CALENDAR = WorkingCalendar.england()


def test_the_coded_values_are_the_ones_the_strategy_api_takes() -> None:
    fields = api_models.HeldIn.model_fields
    assert set(sf.ROLES) == set(get_args(api_models.PractitionerRole))
    assert set(sf.AGENCIES) == set(get_args(api_models.Agency))
    assert set(sf.FORMATS) == set(get_args(api_models.Format))
    assert set(sf.URGENCIES) == set(get_args(api_models.Urgency))
    assert set(sf.CRIMINAL_INVESTIGATION) == set(
        get_args(fields["criminal_investigation"].annotation))
    outcome = api_models.S47OutcomeIn.model_fields
    assert set(sf.S47_OUTCOMES) == set(get_args(outcome["outcome"].annotation))
    assert set(sf.NEXT_STEPS) == set(get_args(outcome["next_step"].annotation))


def test_a_uk_date_and_time_is_sent_as_an_instant_and_anything_unreadable_as_typed() -> None:
    assert sf.instant("24/11/2026 14:00") == "2026-11-24T14:00:00+00:00"  # GMT
    assert sf.instant("01/07/2026 14:00") == "2026-07-01T13:00:00+00:00"  # BST
    assert sf.instant("2026-07-01 14:00") == "2026-07-01T13:00:00+00:00"
    assert sf.instant("2026-07-01T14:00:00+00:00") == "2026-07-01T14:00:00+00:00"
    assert sf.instant("next Tuesday") == "next Tuesday"  # the API names the field
    assert sf.typed("2026-07-01T13:00:00+00:00") == "01/07/2026 14:00"
    assert sf.typed(None) == ""


def test_the_schedule_form_becomes_the_schedule_body_without_its_blank_rows() -> None:
    fields = {"format": "video_call", "starts_at": "24/11/2026 14:00",
              "ends_at": "24/11/2026 15:00", "dial_in": " https://meet.example/1 ",
              "location": "", "chair_id": "tm-1", "invite_referrer": "no",
              "referrer_not_invited_reason": "Synthetic: the referrer is on leave.",
              "invitees-0-role": "social_worker", "invitees-0-agency": "local_authority",
              "invitees-0-user_id": "sw-1",
              "invitees-1-role": "", "invitees-1-agency": "", "invitees-1-user_id": "",
              "invitees-2-role": "practitioner", "invitees-2-agency": "health",
              "invitees-2-user_id": "", "invitees-10-agency": "police",
              "invitees-10-role": "", "invitees-10-user_id": "", "csrf_token": "x"}
    assert sf.schedule_body(fields) == {
        "format": "video_call", "starts_at": "2026-11-24T14:00:00+00:00",
        "ends_at": "2026-11-24T15:00:00+00:00", "dial_in": "https://meet.example/1",
        "chair_id": "tm-1", "invite_referrer": False,
        "referrer_not_invited_reason": "Synthetic: the referrer is on leave.",
        "invitees": [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
                     {"role": "practitioner", "agency": "health"},
                     {"agency": "police"}]}  # half-filled: the API names what it lacks


def test_the_held_form_sends_one_s47_decision_per_answered_child_and_its_actions() -> None:
    fields = {"held_at": "24/11/2026 08:00", "criminal_investigation": "required",
              "criminal_investigation_start_by": "25/11/2026 09:00",
              "s47_decision_rationale": "Synthetic: reasonable cause.",
              "attendees-0-role": "social_worker", "attendees-0-agency": "local_authority",
              "attendees-0-user_id": "sw-1", "apologies-0-role": "", "apologies-0-agency": "",
              "s47-1": "yes", "s47-2": "no",
              "actions-0-action": "Synthetic: joint visit.", "actions-0-owner_role":
              "social_worker", "actions-0-owner_agency": "local_authority",
              "actions-0-due_by": "24/11/2026 18:00", "actions-1-action": ""}
    body = sf.held_body(fields, [1, 2, 3])
    assert body["held_at"] == "2026-11-24T08:00:00+00:00"
    assert body["criminal_investigation_start_by"] == "2026-11-25T09:00:00+00:00"
    assert body["attendees"] == [{"role": "social_worker", "agency": "local_authority",
                                  "user_id": "sw-1"}]
    assert body["apologies"] == []
    assert body["s47_decisions"] == [{"child_number": 1, "s47": True},
                                     {"child_number": 2, "s47": False}]  # 3: API says so
    assert body["actions"] == [{"action": "Synthetic: joint visit.",
                                "owner_role": "social_worker",
                                "owner_agency": "local_authority",
                                "due_by": "2026-11-24T18:00:00+00:00"}]


def test_the_s47_forms_send_only_what_was_chosen() -> None:
    assert sf.outcome_body({"outcome": "substantiated_continuing_risk", "next_step": "",
                            "rationale": " Synthetic. "}) == {
        "outcome": "substantiated_continuing_risk", "rationale": "Synthetic."}
    assert sf.agreement_body({"agree": "no", "rationale": "Synthetic: more to do."}) == {
        "agree": False, "rationale": "Synthetic: more to do."}
    assert sf.agreement_body({"agree": "", "rationale": ""}) == {}
    assert sf.text_body({"reason": "  "}, "reason") == {}


def test_rescheduling_starts_from_the_current_arrangement_without_the_chair_or_referrer() -> None:
    d: dict[str, Any] = {"schedule": {
        "format": "meeting", "starts_at": "2026-11-24T14:00:00+00:00",
        "ends_at": "2026-11-24T15:00:00+00:00", "location": "Civic offices",
        "chaired_by": "tm-1", "referrer_invited": True, "invitees": [
            {"role": "team_manager", "agency": "local_authority", "user_id": "tm-1"},
            {"role": "navigator", "agency": "police", "user_id": "pc-1"},
            {"role": "referrer", "agency": "education", "user_id": None}]}}
    values = sf.schedule_values(d, "sw-1", is_team_manager=False)
    assert values["starts_at"] == "24/11/2026 14:00" and values["chair_id"] == "tm-1"
    assert values["invitees-0-agency"] == "police" and values["invitees-1-role"] == ""
    assert sf.row_count(values, "invitees") == 1 + sf.SPARE_ROWS
    first = sf.schedule_values({"schedule": None}, "tm-1", is_team_manager=True)
    assert first["chair_id"] == "tm-1"
    assert [first[f"invitees-{n}-agency"] for n in range(3)] == [
        "local_authority", "health", "police"]


def entry(status: str, **times: str) -> dict[str, Any]:
    return {"meeting_id": status, "status": status, "urgency": "within_1_working_day",
            "requested_at": "2026-11-23T10:00:00+00:00", **times}


def test_the_work_list_is_earliest_deadline_first_and_finished_discussions_last() -> None:
    rows = sf.discussion_rows([
        entry("minutes_circulated"),
        entry("held", minutes_due_at="2026-11-25T08:00:00+00:00"),
        entry("scheduled", starts_at="2026-11-24T14:00:00+00:00"),
        {**entry("requested"), "urgency": "within_3_working_days"},
        {**entry("cancelled"), "meeting_id": "immediate", "urgency": "immediate"},
    ], NOW, CALENDAR)
    assert [(r["meeting_id"], r["deadline_kind"]) for r in rows] == [
        ("immediate", "Hold by"), ("scheduled", "Meets"), ("held", "Minutes due"),
        ("requested", "Hold by"), ("minutes_circulated", "")]
    assert rows[0]["late"] and rows[0]["time_left"].startswith("Late by")
    assert rows[1]["time_left"] == "5 hours left" and not rows[1]["late"]
    # Within 3 working days of Monday: the end of Thursday (UK time).
    assert rows[3]["deadline"] == "2026-11-27T00:00:00+00:00"
    assert rows[4]["deadline"] is None and rows[4]["status_words"] == "Minutes circulated"


def test_a_refused_form_asks_for_a_reload_names_its_fields_or_gives_the_standard_page() -> None:
    lost = ApiAnswer(409, {"detail": "Strategy discussion x is 'held'."})
    status, errors = strategy.form_errors(lost, sf.CANCEL)
    assert status == 409 and "Reload" in errors[""] and "'held'" in errors[""]
    problem = ApiAnswer(422, {"errors": [
        {"field": "invitees", "message": "needs police (at least one invitee with agency "
                                         "'police')"},
        {"field": "invitees[2].agency", "message": "Input should be 'police', ...",
         "code": "literal_error"}]})
    assert strategy.form_errors(problem, sf.SCHEDULE) == (422, {
        "invitees": "needs police (at least one invitee with agency 'police')"})
    for status in (403, 404):
        with pytest.raises(strategy.Refused):
            strategy.form_errors(ApiAnswer(status, {}), sf.SCHEDULE_FIELDS)
    with pytest.raises(ApiUnavailable):
        strategy.form_errors(ApiAnswer(429, {}), sf.SCHEDULE_FIELDS)


def test_a_refused_form_is_worded_for_its_questions_and_a_rule_keeps_the_api_s_words() -> None:
    problem = ApiAnswer(422, {"errors": [
        {"field": "s47_decisions", "message": "List should have at least 1 item after "
                                              "validation, not 0", "code": "too_short"},
        {"field": "criminal_investigation", "message": "Field required", "code": "missing"},
        {"field": "held_at", "message": "Input should be a date and time as an ISO 8601 "
                                        "string with its UTC offset, e.g. 2026-11-20T08:45:00Z",
         "code": "iso_date_time"}]})
    assert strategy.form_errors(problem, sf.HELD) == (422, {
        "held_at": "The date and time it was held must be a real date and time",
        "criminal_investigation": "Select whether a criminal investigation is required",
        "s47_decisions": "Select yes or no for section 47 enquiries for each child"})
    rule = ApiAnswer(422, {"errors": [  # the API's rule, no code: its words
        {"field": "next_step", "message": "substantiated_continuing_risk needs next_step "
                                          "'icpc'"}]})
    assert strategy.form_errors(rule, sf.OUTCOME) == (422, {
        "next_step": "substantiated_continuing_risk needs next_step 'icpc'"})
    too_long = ApiAnswer(422, {"errors": [
        {"field": "minutes", "message": "String should have at most 20000 characters",
         "code": "string_too_long"}]})
    assert strategy.form_errors(too_long, sf.MINUTES) == (422, {
        "minutes": "Minutes must be 20000 characters or fewer"})

