"""Expected instants are worked out by hand from the printed calendar, not copied from output.

Calendar facts used below (England): 2026 bank holidays include Mon 31 Aug (late summer),
Fri 25 Dec (Christmas) and Mon 28 Dec (substitute for Boxing Day on Sat 26 Dec); 2027 has
Fri 1 Jan, Good Friday 26 Mar and Easter Monday 29 Mar. British Summer Time ends at 01:00 UTC
on Sun 25 Oct 2026 and starts at 01:00 UTC on Sun 28 Mar 2027; outside BST London is on UTC.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mashcore.workingtime import DayCountRule, WorkingCalendar, is_on_time

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
SAME_TIME = DayCountRule.SAME_TIME_NTH_WORKING_DAY


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def england() -> WorkingCalendar:
    return WorkingCalendar.england()


# --- which days are working days -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "why_not"),
    [
        (date(2026, 11, 28), "Saturday"),
        (date(2026, 11, 29), "Sunday"),
        (date(2026, 8, 31), "late summer bank holiday"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 26), "Boxing Day, on a Saturday"),
        (date(2026, 12, 28), "substitute for Boxing Day"),
        (date(2027, 1, 1), "New Year's Day"),
        (date(2027, 3, 26), "Good Friday"),
        (date(2027, 3, 29), "Easter Monday"),
        (date(2027, 12, 27), "substitute for Christmas Day on a Saturday"),
        (date(2027, 12, 28), "substitute for Boxing Day on a Sunday"),
        (date(2023, 5, 8), "one-off: coronation of Charles III"),
    ],
)
def test_weekends_and_bank_holidays_are_not_working_days(
    england: WorkingCalendar, day: date, why_not: str
) -> None:
    assert not england.is_working_day(day), why_not


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 24),
        date(2026, 12, 29),
        date(2027, 1, 4),
        date(2027, 3, 25),
        date(2027, 3, 30),
    ],
)
def test_ordinary_weekdays_around_the_holidays_are_working_days(
    england: WorkingCalendar, day: date
) -> None:
    assert england.is_working_day(day)


def test_a_datetime_is_refused_where_a_local_date_is_meant(england: WorkingCalendar) -> None:
    with pytest.raises(TypeError):
        england.is_working_day(london(2026, 12, 28, 10))


def test_the_nation_is_a_parameter_and_wales_shares_englands_bank_holidays() -> None:
    wales = WorkingCalendar.england(subdiv="WLS")

    assert not wales.is_working_day(date(2027, 3, 29))
    assert not wales.is_working_day(date(2026, 12, 28))


def test_scotland_has_its_own_bank_holidays(england: WorkingCalendar) -> None:
    scotland = WorkingCalendar.uk_nation("SCT")

    assert not scotland.is_working_day(date(2026, 1, 2))
    assert england.is_working_day(date(2026, 1, 2))
    assert scotland.is_working_day(date(2027, 3, 29))


@pytest.mark.parametrize("subdiv", ["XXX", "eng"])
def test_an_unknown_or_lower_case_nation_code_is_rejected(subdiv: str) -> None:
    with pytest.raises(ValueError, match="unknown UK nation"):
        WorkingCalendar.uk_nation(subdiv)


def test_a_working_day_must_open_before_it_closes() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar.england(day_start=time(17), day_end=time(9))


# --- within N working days: end of the Nth working day (default rule) ------------------------


def test_a_saturday_referral_with_one_working_day_is_due_at_the_end_of_monday(
    england: WorkingCalendar,
) -> None:
    # Sat 28 Nov 2026 never counts; day 1 is Mon 30 Nov; due at the midnight ending it (GMT).
    assert england.add_working_days(london(2026, 11, 28, 11), 1) == utc(2026, 12, 1)


def test_a_saturday_referral_before_a_bank_holiday_monday_is_due_at_the_end_of_tuesday(
    england: WorkingCalendar,
) -> None:
    # Mon 31 Aug 2026 is a bank holiday, so day 1 is Tue 1 Sep; midnight BST is 23:00 UTC.
    assert england.add_working_days(london(2026, 8, 29, 11), 1) == utc(2026, 9, 1, 23)


def test_a_friday_afternoon_contact_with_one_working_day_is_due_at_the_end_of_monday(
    england: WorkingCalendar,
) -> None:
    # Fri 13 Nov 2026 15:30 never counts; day 1 is Mon 16 Nov; due Tue 17 Nov 00:00 GMT.
    assert england.add_working_days(london(2026, 11, 13, 15, 30), 1) == utc(2026, 11, 17)


def test_the_day_of_the_event_never_counts_even_first_thing_in_the_morning(
    england: WorkingCalendar,
) -> None:
    # Mon 16 Nov 2026 09:05: day 1 is Tue 17 Nov, due Wed 18 Nov 00:00 GMT.
    assert england.add_working_days(london(2026, 11, 16, 9, 5), 1) == utc(2026, 11, 18)


def test_a_contact_on_a_bank_holiday_counts_from_the_next_working_day(
    england: WorkingCalendar,
) -> None:
    # Easter Monday 29 Mar 2027 never counts; day 1 is Tue 30 Mar; midnight BST is 23:00 UTC.
    assert england.add_working_days(london(2027, 3, 29, 10), 1) == utc(2027, 3, 30, 23)


def test_a_contact_before_easter_waits_out_good_friday_to_easter_monday(
    england: WorkingCalendar,
) -> None:
    # Thu 25 Mar 2027: Fri 26 (Good Friday), Sat, Sun, Mon 29 (Easter Monday) are skipped, so
    # day 1 is Tue 30 Mar, due Wed 31 Mar 00:00 BST (30 Mar 23:00 UTC).
    assert england.add_working_days(london(2027, 3, 25, 16), 1) == utc(2027, 3, 30, 23)


def test_a_christmas_eve_contact_skips_christmas_and_the_substitute_boxing_day(
    england: WorkingCalendar,
) -> None:
    # Thu 24 Dec 2026: Fri 25 (Christmas), Sat 26, Sun 27, Mon 28 (substitute) skipped.
    assert england.add_working_days(london(2026, 12, 24, 12), 1) == utc(2026, 12, 30)


def test_an_icpc_fifteen_working_days_after_a_strategy_discussion_on_17_december_2026(
    england: WorkingCalendar,
) -> None:
    # Strategy discussion Thu 17 Dec 2026 (does not count). Working days:
    #  1 Fri 18,  2 Mon 21,  3 Tue 22,  4 Wed 23,  5 Thu 24 Dec
    #    (Fri 25 Christmas, Sat 26, Sun 27, Mon 28 substitute Boxing Day: skipped)
    #  6 Tue 29,  7 Wed 30,  8 Thu 31 Dec
    #    (Fri 1 Jan New Year's Day, Sat 2, Sun 3: skipped)
    #  9 Mon 4, 10 Tue 5, 11 Wed 6, 12 Thu 7, 13 Fri 8, 14 Mon 11, 15 Tue 12 Jan 2027.
    # The ICPC must be held by the end of Tue 12 Jan 2027, i.e. Wed 13 Jan 00:00 GMT.
    assert england.add_working_days(london(2026, 12, 17, 14), 15) == utc(2027, 1, 13)


def test_the_local_date_not_the_utc_date_decides_which_day_the_event_happened(
    england: WorkingCalendar,
) -> None:
    # 23:30 UTC on Thu 27 Aug 2026 is 00:30 BST on Fri 28 Aug, so Friday is the day that never
    # counts; Mon 31 Aug is a bank holiday; day 1 is Tue 1 Sep, due 23:00 UTC that day.
    assert england.add_working_days(utc(2026, 8, 27, 23, 30), 1) == utc(2026, 9, 1, 23)


def test_an_event_at_the_deadline_instant_is_on_time_and_one_microsecond_later_is_late(
    england: WorkingCalendar,
) -> None:
    deadline = england.add_working_days(london(2026, 11, 13, 15, 30), 1)

    assert is_on_time(deadline, deadline)
    assert not is_on_time(deadline + timedelta(microseconds=1), deadline)


def test_a_working_day_timescale_needs_at_least_one_day(england: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        england.add_working_days(london(2026, 11, 16, 10), 0)


# --- within N working days: same time on the Nth working day (policy alternative) ------------


def test_same_time_rule_gives_the_same_wall_clock_time_on_the_nth_working_day(
    england: WorkingCalendar,
) -> None:
    # Fri 13 Nov 2026 15:30 is within working hours; day 1 is Mon 16 Nov, at 15:30 GMT.
    due = england.add_working_days(london(2026, 11, 13, 15, 30), 1, rule=SAME_TIME)

    assert due == utc(2026, 11, 16, 15, 30)


def test_same_time_rule_starts_a_weekend_contact_at_the_next_opening(
    england: WorkingCalendar,
) -> None:
    # Sat 28 Nov 2026: the clock starts Mon 30 Nov 09:00; one working day on is Tue 1 Dec 09:00.
    due = england.add_working_days(london(2026, 11, 28, 11), 1, rule=SAME_TIME)

    assert due == utc(2026, 12, 1, 9)


def test_same_time_rule_starts_a_bank_holiday_contact_at_the_next_opening(
    england: WorkingCalendar,
) -> None:
    # Easter Monday 29 Mar 2027: clock starts Tue 30 Mar 09:00 BST; due Wed 31 Mar 09:00 BST.
    due = england.add_working_days(london(2027, 3, 29, 10), 1, rule=SAME_TIME)

    assert due == utc(2027, 3, 31, 8)


def test_same_time_rule_starts_an_evening_contact_at_the_next_opening(
    england: WorkingCalendar,
) -> None:
    # Mon 16 Nov 2026 20:00 is after closing: clock starts Tue 17 Nov 09:00; due Wed 18 09:00.
    due = england.add_working_days(london(2026, 11, 16, 20), 1, rule=SAME_TIME)

    assert due == utc(2026, 11, 18, 9)


def test_same_time_rule_keeps_the_wall_clock_time_across_the_end_of_summer_time(
    england: WorkingCalendar,
) -> None:
    # Fri 23 Oct 2026 14:00 BST (13:00 UTC); day 1 is Mon 26 Oct, 14:00 GMT (14:00 UTC).
    due = england.add_working_days(london(2026, 10, 23, 14), 1, rule=SAME_TIME)

    assert due == utc(2026, 10, 26, 14)


def test_same_time_rule_over_christmas_lands_on_12_january_2027(
    england: WorkingCalendar,
) -> None:
    # Same fifteen working days as the ICPC example above, at 14:00 on day 15 (Tue 12 Jan).
    due = england.add_working_days(london(2026, 12, 17, 14), 15, rule=SAME_TIME)

    assert due == utc(2027, 1, 12, 14)


def test_a_partnership_can_make_same_time_its_default_rule() -> None:
    calendar = WorkingCalendar.england(day_count_rule=SAME_TIME)

    assert calendar.add_working_days(london(2026, 11, 13, 15, 30), 1) == utc(2026, 11, 16, 15, 30)


# --- working hours ----------------------------------------------------------------------------


def test_working_hours_within_one_day_are_plain_hours(england: WorkingCalendar) -> None:
    assert england.add_working_hours(london(2026, 11, 17, 10), 3) == utc(2026, 11, 17, 13)


def test_working_hours_that_exactly_fill_the_day_end_at_closing_time(
    england: WorkingCalendar,
) -> None:
    assert england.add_working_hours(london(2026, 11, 30, 9), 8) == utc(2026, 11, 30, 17)


def test_working_hours_pause_over_a_weekend(england: WorkingCalendar) -> None:
    # Fri 13 Nov 2026 15:00: 2 h to closing, then 2 h from Mon 16 Nov 09:00 -> 11:00 GMT.
    assert england.add_working_hours(london(2026, 11, 13, 15), 4) == utc(2026, 11, 16, 11)


def test_working_hours_pause_over_christmas_and_the_substitute_bank_holiday(
    england: WorkingCalendar,
) -> None:
    # Thu 24 Dec 2026 16:00: 1 h to closing; Fri 25 to Mon 28 skipped; 3 h from Tue 29 09:00.
    assert england.add_working_hours(london(2026, 12, 24, 16), 4) == utc(2026, 12, 29, 12)


def test_working_hours_from_a_weekend_start_at_monday_opening(england: WorkingCalendar) -> None:
    # Sat 28 Nov 2026 22:00: counting begins Mon 30 Nov 09:00; 1.5 h later is 10:30 GMT.
    assert england.add_working_hours(london(2026, 11, 28, 22), 1.5) == utc(2026, 11, 30, 10, 30)


def test_working_hours_from_a_bank_holiday_start_at_the_next_opening(
    england: WorkingCalendar,
) -> None:
    # Good Friday 26 Mar 2027: Sat, Sun and Easter Monday skipped; Tue 30 Mar 09:00 BST + 2 h
    # = 11:00 BST = 10:00 UTC.
    assert england.add_working_hours(london(2027, 3, 26, 12), 2) == utc(2027, 3, 30, 10)


def test_working_hours_before_opening_start_at_opening(england: WorkingCalendar) -> None:
    assert england.add_working_hours(london(2026, 11, 17, 7), 2) == utc(2026, 11, 17, 11)


def test_working_hours_after_closing_start_at_the_next_opening(england: WorkingCalendar) -> None:
    assert england.add_working_hours(london(2026, 11, 17, 20), 1) == utc(2026, 11, 18, 10)


def test_zero_working_hours_from_a_weekend_is_the_next_opening(england: WorkingCalendar) -> None:
    assert england.add_working_hours(london(2026, 11, 28, 11), 0) == utc(2026, 11, 30, 9)


def test_working_hours_span_several_days(england: WorkingCalendar) -> None:
    # Mon 16 Nov 2026 12:00 + 24 h: Mon 5 h, Tue 8 h, Wed 8 h, then 3 h on Thu -> Thu 12:00.
    assert england.add_working_hours(london(2026, 11, 16, 12), 24) == utc(2026, 11, 19, 12)


def test_working_hours_across_the_end_of_summer_time_use_local_opening_hours(
    england: WorkingCalendar,
) -> None:
    # Fri 23 Oct 2026 16:00 BST (15:00 UTC): 1 h to closing; Mon 26 Oct 09:00 GMT + 1 h.
    assert england.add_working_hours(london(2026, 10, 23, 16), 2) == utc(2026, 10, 26, 10)


def test_a_partnership_can_set_its_own_opening_hours() -> None:
    early = WorkingCalendar.england(day_start=time(8, 30), day_end=time(16, 30))

    # Fri 13 Nov 2026 16:00: 0.5 h to closing, then 1 h from Mon 08:30 -> Mon 09:30 GMT.
    assert early.add_working_hours(london(2026, 11, 13, 16), 1.5) == utc(2026, 11, 16, 9, 30)


@pytest.mark.parametrize("hours", [-1.0, float("nan"), float("inf")])
def test_working_hours_must_be_a_finite_non_negative_number(
    england: WorkingCalendar, hours: float
) -> None:
    with pytest.raises(ValueError):
        england.add_working_hours(london(2026, 11, 17, 10), hours)


# --- elapsed hours ----------------------------------------------------------------------------


def test_elapsed_hours_run_through_midnight(england: WorkingCalendar) -> None:
    assert england.add_elapsed_hours(london(2026, 11, 10, 22, 30), 4) == utc(2026, 11, 11, 2, 30)


def test_four_elapsed_hours_across_the_october_clock_change_are_four_real_hours(
    england: WorkingCalendar,
) -> None:
    # Sat 24 Oct 2026 23:30 BST = 22:30 UTC; + 4 h = 02:30 UTC = 02:30 GMT on Sun 25 Oct.
    # The wall clock only moves 3 hours because it goes back an hour at 02:00 BST.
    due = england.add_elapsed_hours(london(2026, 10, 24, 23, 30), 4)

    assert due == utc(2026, 10, 25, 2, 30)
    assert due - utc(2026, 10, 24, 22, 30) == timedelta(hours=4)


def test_four_elapsed_hours_across_the_march_clock_change_are_four_real_hours(
    england: WorkingCalendar,
) -> None:
    # Sat 27 Mar 2027 23:30 GMT; + 4 h = 03:30 UTC on Sun 28 Mar = 04:30 BST on the wall clock.
    due = england.add_elapsed_hours(london(2027, 3, 27, 23, 30), 4)

    assert due == utc(2027, 3, 28, 3, 30)
    assert due.astimezone(LONDON).hour == 4


# --- calendar months --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (london(2027, 1, 31, 10), 1, london(2027, 2, 28, 10)),
        (london(2028, 1, 31, 10), 1, london(2028, 2, 29, 10)),
        (london(2026, 8, 31, 10), 3, london(2026, 11, 30, 10)),
        (london(2028, 2, 29, 10), 12, london(2029, 2, 28, 10)),
        (london(2026, 12, 15, 10), 1, london(2027, 1, 15, 10)),
        (london(2026, 10, 15, 10), 6, london(2027, 4, 15, 10)),
        (london(2026, 10, 15, 10), 0, london(2026, 10, 15, 10)),
    ],
)
def test_calendar_months_keep_the_day_or_clamp_to_the_end_of_a_shorter_month(
    england: WorkingCalendar, start: datetime, months: int, expected: datetime
) -> None:
    assert england.add_calendar_months(start, months) == expected


def test_calendar_months_keep_the_local_wall_clock_time_across_summer_time(
    england: WorkingCalendar,
) -> None:
    # ICPC Fri 15 Jan 2027 14:00 GMT; first review within 3 months: Thu 15 Apr 14:00 BST.
    assert england.add_calendar_months(london(2027, 1, 15, 14), 3) == utc(2027, 4, 15, 13)


def test_calendar_months_cannot_go_backwards(england: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        england.add_calendar_months(london(2027, 1, 15, 14), -1)


# --- counting working days between two instants ----------------------------------------------


def test_working_days_between_counts_the_icpc_example_as_fifteen(
    england: WorkingCalendar,
) -> None:
    strategy, icpc = london(2026, 12, 17, 14), london(2027, 1, 12, 10)

    assert england.working_days_between(strategy, icpc) == 15
    assert england.working_days_between(icpc, strategy) == -15


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (london(2026, 11, 16, 9), london(2026, 11, 16, 17), 0),
        (london(2026, 11, 13, 15), london(2026, 11, 16, 9), 1),
        (london(2026, 11, 28, 11), london(2026, 11, 30, 9), 1),
        (london(2026, 12, 24, 12), london(2026, 12, 29, 9), 1),
        (utc(2026, 8, 27, 23, 30), london(2026, 9, 1, 10), 1),
    ],
    ids=["same day", "friday to monday", "saturday to monday", "over christmas", "local date"],
)
def test_working_days_between_counts_days_after_the_first_up_to_the_second(
    england: WorkingCalendar, a: datetime, b: datetime, expected: int
) -> None:
    assert england.working_days_between(a, b) == expected


# --- inputs and outputs -----------------------------------------------------------------------

CALCULATIONS: dict[str, Callable[[WorkingCalendar, datetime], datetime]] = {
    "elapsed hours": lambda c, start: c.add_elapsed_hours(start, 4),
    "working hours": lambda c, start: c.add_working_hours(start, 4),
    "working days": lambda c, start: c.add_working_days(start, 1),
    "same-time working days": lambda c, start: c.add_working_days(start, 1, rule=SAME_TIME),
    "calendar months": lambda c, start: c.add_calendar_months(start, 3),
}


@pytest.mark.parametrize("calculation", CALCULATIONS.values(), ids=CALCULATIONS.keys())
def test_every_deadline_is_returned_in_utc(
    england: WorkingCalendar, calculation: Callable[[WorkingCalendar, datetime], datetime]
) -> None:
    assert calculation(england, london(2026, 7, 6, 10)).tzinfo is UTC


@pytest.mark.parametrize("calculation", CALCULATIONS.values(), ids=CALCULATIONS.keys())
def test_naive_datetimes_are_rejected(
    england: WorkingCalendar, calculation: Callable[[WorkingCalendar, datetime], datetime]
) -> None:
    with pytest.raises(ValueError, match="naive"):
        calculation(england, datetime(2026, 7, 6, 10))
