"""The conference pages' pure mapping: form fields to the strategy API's bodies, rows."""

from __future__ import annotations

from datetime import UTC, datetime

from workbench import conference_forms as forms
from workbench import views

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_participant_lines_become_practitioners_by_role_and_agency_and_family_by_role() -> None:
    text = "social_worker, local_authority, sw-1\n\n Police , police \nparent or carer\n"
    assert forms.participants(text) == [
        {"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
        {"role": "police", "agency": "police"},
        {"role": "parent_or_carer"},
    ]


def test_participants_written_back_read_the_same() -> None:
    people = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
              {"role": "child"}]
    assert forms.participants(forms.participant_lines(people)) == people


def test_the_schedule_form_leaves_blank_fields_out_and_reads_local_times_as_utc() -> None:
    body = forms.schedule_body({"scheduled_for": "2026-12-01T10:00", "ends_at": "",
                                "chaired_by_iro": " iro-1 ", "format": "meeting",
                                "location": "Hub office", "dial_in": "",
                                "invitees": "social_worker, local_authority",
                                "family_not_invited_reason": "  "})
    assert body == {"scheduled_for": "2026-12-01T10:00:00+00:00", "chaired_by_iro": "iro-1",
                    "format": "meeting", "location": "Hub office",
                    "invitees": [{"role": "social_worker", "agency": "local_authority"}]}


def test_a_time_that_is_not_one_goes_to_the_api_as_typed_so_it_names_the_field() -> None:
    assert forms.schedule_body({"scheduled_for": "next tuesday"})["scheduled_for"] == \
        "next tuesday"


def test_cancelling_sends_the_coded_reason_only_and_nothing_without_one() -> None:
    assert forms.cancel_body({"reason": "chair_unavailable", "csrf": "x"}) == {
        "reason": "chair_unavailable"}
    assert forms.cancel_body({"reason": ""}) == {}


def test_the_cancel_reasons_are_the_strategy_apis_codes() -> None:
    from strategy.conferences.cancellation import REASONS

    assert set(forms.CANCEL_REASONS) == set(REASONS)


def test_rescheduling_prefills_the_current_arrangement() -> None:
    values = forms.schedule_values({"scheduled_for": "2026-12-01T10:00:00+00:00",
                                    "chaired_by_iro": "iro-1", "format": "video_call",
                                    "invitees": [{"role": "child"}], "dial_in": None})
    assert values["scheduled_for"] == "2026-12-01T10:00"
    assert values["invitees"] == "child"
    assert values["dial_in"] == ""


def test_conferences_to_hold_come_first_earliest_deadline_first_with_the_time_left() -> None:
    rows = forms.conference_rows([
        {"meeting_id": "held", "status": "held", "due_at": "2026-11-20T17:00:00+00:00"},
        {"meeting_id": "later", "status": "scheduled", "due_at": "2026-12-10T17:00:00+00:00"},
        {"meeting_id": "late", "status": "awaiting_schedule",
         "due_at": "2026-11-23T09:00:00+00:00"},
    ], NOW)
    assert [r["meeting_id"] for r in rows] == ["late", "later", "held"]
    assert rows[0]["late"] and rows[0]["time_left"] == "Late by 1 day"
    assert not rows[1]["late"]
    assert rows[2]["time_left"] == ""


def test_the_held_form_gives_a_decision_per_child_with_its_ticked_categories() -> None:
    body = forms.held_body({
        "held_at": "2026-11-26T10:00", "attendees": "social_worker, local_authority",
        "child-1-plan": "yes", "child-1-category_of_abuse": ["neglect", "emotional"],
        "child-1-core_group": "parent_or_carer", "child-1-first_review_due_on": "2027-01-20",
        "child-2-plan": "no", "child-2-category_of_abuse": "",
    }, [1, 2])
    assert body["held_at"] == "2026-11-26T10:00:00+00:00"
    assert body["decisions"] == [
        {"child_number": 1, "plan": True, "category_of_abuse": ["neglect", "emotional"],
         "core_group": [{"role": "parent_or_carer"}], "first_review_due_on": "2027-01-20"},
        {"child_number": 2, "plan": False, "category_of_abuse": [], "core_group": []},
    ]
    assert "decision_summary" not in body


def test_an_unanswered_plan_question_is_left_out_for_the_api_to_name() -> None:
    [decision] = forms.held_body({"child-3-plan": ""}, [3])["decisions"]
    assert "plan" not in decision


def test_a_held_problem_on_a_childs_decision_is_shown_on_that_childs_field() -> None:
    errors = forms.held_errors({"errors": [
        {"field": "decisions.1.category_of_abuse", "message": "A plan needs a category"},
        {"field": "attendees", "message": "Name who attended"},
        {"field": "decisions", "message": "One decision per child"},
    ]}, [2, 5])
    assert errors == {"child-5-category_of_abuse": "A plan needs a category",
                      "attendees": "Name who attended", "": "One decision per child"}


def test_a_held_problem_is_worded_for_the_question_and_for_that_child() -> None:
    errors = forms.held_errors({"errors": [  # as the API answers a blank held form
        {"field": "held_at", "message": "Field required", "code": "missing"},
        {"field": "attendees", "message": "List should have at least 1 item after "
                                          "validation, not 0", "code": "too_short"},
        {"field": "decisions[1].plan", "message": "Field required", "code": "missing"},
        {"field": "decisions[1].first_review_due_on", "code": "date_from_datetime_parsing",
         "message": "Input should be a valid date or datetime, month value is outside "
                    "expected range"},
        {"field": "decisions[0].core_group[0]", "code": "value_error",
         "message": "Value error, a practitioner needs an agency"},
    ]}, [2, 5])
    assert errors == {
        "child-5-plan": "Select yes if child 5 needs a child protection plan",
        "child-5-first_review_due_on":
            "The date the first review for child 5 is due must be a real date",
        "child-2-core_group": "Value error, a practitioner needs an agency",
        "held_at": "Enter the date and time it was held",
        "attendees": "Enter who attended, one a line"}


def test_the_cancel_and_copy_forms_are_worded_for_their_questions() -> None:
    missing = {"errors": [{"field": "reason", "message": "Field required", "code": "missing"}]}
    assert views.field_errors(missing, forms.CANCEL) == {"reason": "Select why it is called off"}
    copy = {"errors": [
        {"field": "given_on", "message": "Input should be a date as an ISO 8601 string, "
                                         "YYYY-MM-DD", "code": "iso_date"},
        {"field": "language", "message": "String should have at least 2 characters",
         "code": "string_too_short"}]}
    assert views.field_errors(copy, forms.COPY) == {
        "given_on": "The date the copy was given must be a real date",
        "language": "The language must be 2 characters or more"}


def test_a_held_problem_without_errors_shows_its_detail() -> None:
    assert forms.held_errors({"detail": "Not scheduled yet"}, [1]) == {
        "": "Not scheduled yet"}


def test_action_lines_read_what_whom_and_when() -> None:
    assert forms.actions("Weekly visit; social worker, local authority; 2027-01-20\n"
                         "Attend nursery; parent_or_carer; 2027-02-01") == [
        {"what": "Weekly visit", "owner_role": "social_worker",
         "owner_agency": "local_authority", "due_on": "2027-01-20"},
        {"what": "Attend nursery", "owner_role": "parent_or_carer", "due_on": "2027-02-01"}]


def test_the_review_held_form_keeps_the_decision_and_ticked_categories() -> None:
    body = forms.review_held_body({"held_at": "2027-01-20T10:00", "attendees": "child",
                                   "decision": "continue", "category_of_abuse": "neglect",
                                   "next_review_due_on": "2027-07-01", "rationale": " Why "})
    assert body == {"held_at": "2027-01-20T10:00:00+00:00", "attendees": [{"role": "child"}],
                    "decision": "continue", "category_of_abuse": ["neglect"],
                    "next_review_due_on": "2027-07-01", "rationale": "Why"}


def test_one_of_two_forms_on_a_page_reads_its_own_fields_by_api_name() -> None:
    fields = forms.unprefixed({"review-scheduled_for": "2027-01-20T10:00", "csrf": "t"},
                              "review-")
    assert forms.arranged_body(fields, forms.REVIEW_SCHEDULE_FIELDS) == {
        "scheduled_for": "2027-01-20T10:00:00+00:00", "invitees": []}


def test_the_childs_copy_sends_only_what_was_answered() -> None:
    assert forms.copy_body({"given_on": "2026-11-27", "form": "easy_read", "language": " "}) \
        == {"given_on": "2026-11-27", "form": "easy_read"}
