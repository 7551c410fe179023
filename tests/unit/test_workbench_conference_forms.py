"""The conference pages' pure mapping: form fields to the strategy API's bodies, rows."""

from __future__ import annotations

from datetime import UTC, datetime

from workbench import conference_forms as forms

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
