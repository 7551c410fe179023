"""The conference date rules (issue 15; DOMAIN.md §8) on England's working calendar: across
Christmas, Easter and the British Summer Time changes, every date worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mashcore.workingtime import WorkingCalendar
from strategy.conferences import rules

ENGLAND = WorkingCalendar.england()


@pytest.mark.parametrize(("started", "due"), [
    # Tue 24 Nov 2026: 15 working days is Tue 15 Dec; due at the end of it.
    (datetime(2026, 11, 24, 15, 0, tzinfo=UTC), datetime(2026, 12, 16, 0, 0, tzinfo=UTC)),
    # Thu 17 Dec 2026: Christmas Day (Fri), Boxing Day's substitute (Mon 28) and New
    # Year's Day (Fri 1 Jan) are not counted: the 15th working day is Tue 12 Jan 2027.
    (datetime(2026, 12, 17, 15, 0, tzinfo=UTC), datetime(2027, 1, 13, 0, 0, tzinfo=UTC)),
    # Wed 18 Mar 2026 (GMT): across the clocks going forward (Sun 29 Mar), Good Friday
    # (3 Apr) and Easter Monday (6 Apr): Fri 10 Apr, ending at midnight BST.
    (datetime(2026, 3, 18, 14, 0, tzinfo=UTC), datetime(2026, 4, 10, 23, 0, tzinfo=UTC)),
    # Wed 14 Oct 2026 (BST) across the clocks going back (Sun 25 Oct): Wed 4 Nov, GMT.
    (datetime(2026, 10, 14, 13, 0, tzinfo=UTC), datetime(2026, 11, 5, 0, 0, tzinfo=UTC)),
])
def test_the_icpc_is_due_15_working_days_after_the_discussion_that_started_the_s47(
    started: datetime, due: datetime,
) -> None:
    assert rules.icpc_due(ENGLAND, started) == due


@pytest.mark.parametrize(("held_at", "latest"), [
    (datetime(2026, 12, 10, 11, 0, tzinfo=UTC), date(2027, 3, 10)),
    (datetime(2026, 11, 30, 11, 0, tzinfo=UTC), date(2027, 2, 28)),  # clamped: no 30 Feb
    # 00:30 BST on Wed 1 July is 23:30 UTC on 30 June: the local date counts.
    (datetime(2026, 6, 30, 23, 30, tzinfo=UTC), date(2026, 10, 1)),
])
def test_the_first_review_is_within_3_months_of_the_icpc_s_local_date(
    held_at: datetime, latest: date,
) -> None:
    assert rules.latest_review_on(ENGLAND, held_at, 3) == latest
    assert rules.review_date_errors(ENGLAND, latest, held_at, 3, "f") == []
    (late,) = rules.review_date_errors(ENGLAND, date.fromordinal(latest.toordinal() + 1),
                                       held_at, 3, "f")
    assert late == ("f", f"must be within 3 months of the conference (by {latest})")


def test_a_review_date_is_needed_and_after_the_conference() -> None:
    held_at = datetime(2026, 12, 10, 11, 0, tzinfo=UTC)
    assert [f for f, _ in rules.review_date_errors(ENGLAND, None, held_at, 3, "f")] == ["f"]
    assert [f for f, _ in rules.review_date_errors(ENGLAND, date(2026, 12, 10), held_at, 3,
                                                   "f")] == ["f"]


@pytest.mark.parametrize(("conference", "due"), [
    # Thu 10 Dec: the close of Tue 8 Dec.
    (datetime(2026, 12, 10, 10, 0, tzinfo=UTC), datetime(2026, 12, 8, 17, 0, tzinfo=UTC)),
    # Tue 29 Dec: back over Mon 28 (bank holiday), the weekend and Christmas Day: Wed 23.
    (datetime(2026, 12, 29, 10, 0, tzinfo=UTC), datetime(2026, 12, 23, 17, 0, tzinfo=UTC)),
    # Tue 31 Mar 2026 (BST): Mon 30 Mar, then Fri 27 Mar 17:00 GMT.
    (datetime(2026, 3, 31, 9, 0, tzinfo=UTC), datetime(2026, 3, 27, 17, 0, tzinfo=UTC)),
    # Wed 1 Apr 2026: Mon 30 Mar at 17:00 BST, 16:00 UTC.
    (datetime(2026, 4, 1, 9, 0, tzinfo=UTC), datetime(2026, 3, 30, 16, 0, tzinfo=UTC)),
])
def test_agency_reports_are_due_two_working_days_before_the_conference(
    conference: datetime, due: datetime,
) -> None:
    assert rules.reports_due(ENGLAND, conference) == due


def test_a_plan_needs_a_category_a_core_group_and_a_review_and_no_plan_has_none() -> None:
    held_at = datetime(2026, 12, 10, 11, 0, tzinfo=UTC)
    errors = rules.decision_errors(ENGLAND, [
        {"child_number": 1, "plan": True, "category_of_abuse": [], "core_group": []},
        {"child_number": 2, "plan": False, "category_of_abuse": ["neglect"]},
    ], [1, 2], held_at)
    assert [f for f, _ in errors] == [
        "decisions[0].category_of_abuse", "decisions[0].core_group",
        "decisions[0].first_review_due_on", "decisions[1].category_of_abuse"]
    only_some = rules.decision_errors(ENGLAND, [{"child_number": 1, "plan": False}],
                                      [1, 2], held_at)
    assert [f for f, _ in only_some] == ["decisions"]
    narrow = rules.decision_errors(ENGLAND, [
        {"child_number": 1, "plan": True, "category_of_abuse": ["sexual"],
         "core_group": [{"role": "social_worker"}],
         "first_review_due_on": date(2027, 1, 5)}], [1], held_at,
        allowed_categories=("neglect", "physical", "emotional"))
    assert [f for f, _ in narrow] == ["decisions[0].category_of_abuse"]


def test_an_icpc_invites_a_social_worker_and_the_family_by_role_only() -> None:
    assert rules.invitee_errors([{"role": "social_worker"}, {"role": "parent_or_carer"}],
                                None) == []
    assert len(rules.invitee_errors([{"role": "iro"}], None)) == 2
    assert rules.invitee_errors([{"role": "social_worker"}], "Synthetic: a risk.") == []
    assert rules.invitee_errors([{"role": "social_worker"},
                                 {"role": "child", "user_id": "x"}], None) == [
        ("invitees", "family members are invited by role only")]


@pytest.mark.parametrize(("held_at", "latest"), [
    # Thu 4 Mar 2027 (GMT) to Sat 4 Sep 2027 (BST): the local date, across the change.
    (datetime(2027, 3, 4, 11, 0, tzinfo=UTC), date(2027, 9, 4)),
    # 31 August: no 31 February, so the end of February.
    (datetime(2027, 8, 31, 9, 0, tzinfo=UTC), date(2028, 2, 29)),
])
def test_a_continuing_plan_s_next_review_is_within_6_months(held_at: datetime,
                                                            latest: date) -> None:
    assert rules.review_decision_errors(ENGLAND, "continue", ["neglect"], latest,
                                        held_at) == []
    late = date.fromordinal(latest.toordinal() + 1)
    assert [f for f, _ in rules.review_decision_errors(ENGLAND, "change", ["neglect"], late,
                                                       held_at)] == ["next_review_due_on"]


def test_ending_or_stepping_down_has_no_categories_or_next_review() -> None:
    held_at = datetime(2027, 3, 4, 11, 0, tzinfo=UTC)
    for decision in ("end", "step_down_child_in_need", "step_down_early_help"):
        assert rules.review_decision_errors(ENGLAND, decision, [], None, held_at) == []
        assert [f for f, _ in rules.review_decision_errors(
            ENGLAND, decision, ["neglect"], date(2027, 5, 1), held_at)] == [
            "category_of_abuse", "next_review_due_on"]
    assert [f for f, _ in rules.review_decision_errors(ENGLAND, "continue", [], None,
                                                       held_at)] == [
        "category_of_abuse", "next_review_due_on"]


def test_the_first_core_group_is_chaired_by_the_team_manager_later_ones_by_the_social_worker(
) -> None:
    assert rules.core_group_chair_role(True) == "team_manager"
    assert rules.core_group_chair_role(False) == "social_worker"
    assert rules.FIRST_CORE_GROUP_WITHIN.after(datetime(2026, 12, 10, 11, 0, tzinfo=UTC),
                                               ENGLAND) == datetime(2026, 12, 25, 0, 0,
                                                                    tzinfo=UTC)
    # Minutes of a core group on Tue 22 Dec: 23, 24, (25 and 28 are bank holidays) 29, 30,
    # 31: the end of Thursday 31 December.
    assert rules.CORE_GROUP_MINUTES_WITHIN.after(datetime(2026, 12, 22, 11, 0, tzinfo=UTC),
                                                 ENGLAND) == datetime(2027, 1, 1, 0, 0,
                                                                      tzinfo=UTC)
