"""Working days and working hours for statutory timescales (England by default).

Every input must be timezone-aware; every result is returned in UTC. Calendar reasoning
(which day it is, opening and closing times) happens in the calendar's local timezone
(Europe/London by default), while durations are real elapsed time, so a clock running
across a change to or from British Summer Time is neither an hour short nor an hour long.

Working day: a local calendar date that is Monday to Friday and not a bank holiday of the
calendar's nation. Bank holidays, including substitute days (for example Monday
28 December 2026 for Boxing Day on Saturday 26 December), come from the ``holidays``
library: ``holidays.country_holidays("GB", subdiv="ENG")``.

"Within N working days of X" (``DayCountRule.END_OF_NTH_WORKING_DAY``, the default):

* the local date on which X happened never counts, whatever time X happened;
* day 1 is the first working day after that date, day 2 the next working day, and so on;
* the deadline is the end of day N: the instant of local midnight that starts the next
  calendar date, returned as that exact instant;
* an event at or before the deadline is on time (``is_on_time``); one after it is late.

So a referral on Saturday with 1 working day is due by the end of Monday (end of Tuesday if
Monday is a bank holiday), and one at 15:30 on a Friday is also due by the end of Monday.

``DayCountRule.SAME_TIME_NTH_WORKING_DAY`` (a partnership policy alternative): the clock
starts at X, or at the next working-hours opening if X is outside working hours (a weekend,
a bank holiday, or before opening or after closing on a working day); the deadline is the
same local wall-clock time on the Nth working day after the day the clock started.

"Within N working hours": only time between ``day_start`` and ``day_end`` (local) on working
days counts; a start outside working hours begins counting at the next opening.
"Within N hours" (elapsed): real hours, nights, weekends and holidays included.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

from mashcore.clock import to_utc

__all__ = [
    "DayCountRule",
    "UkBankHolidays",
    "WorkingCalendar",
    "is_on_time",
]

ONE_DAY = timedelta(days=1)


class DayCountRule(StrEnum):
    """How 'within N working days of X' turns into a deadline instant."""

    END_OF_NTH_WORKING_DAY = "end_of_nth_working_day"
    SAME_TIME_NTH_WORKING_DAY = "same_time_nth_working_day"


def is_on_time(event_at: datetime, deadline: datetime) -> bool:
    """Return True when the event happened at or before the deadline instant."""
    return to_utc(event_at) <= to_utc(deadline)


class UkBankHolidays(Container[date]):
    """Bank holidays (with substitute days) of one UK nation, from the ``holidays`` library."""

    COUNTRY = "GB"

    def __init__(self, subdiv: str) -> None:
        try:
            holidays.country_holidays(self.COUNTRY, subdiv=subdiv, years=())
        except NotImplementedError as unknown:
            raise ValueError(f"unknown UK nation {subdiv!r}; use ENG, WLS, SCT or NIR") from unknown
        self.subdiv = subdiv
        self._dates_by_year: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return f"UkBankHolidays({self.subdiv!r})"

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date) or isinstance(day, datetime):
            return False
        return day in self._dates_in(day.year)

    def _dates_in(self, year: int) -> frozenset[date]:
        # Decision: snapshot each year into an immutable set rather than query the library's
        # HolidayBase directly, which silently adds years to itself on lookup (a mutating
        # read that is unsafe to share across threads).
        cached = self._dates_by_year.get(year)
        if cached is None:
            source = holidays.country_holidays(
                self.COUNTRY, subdiv=self.subdiv, years=year, observed=True
            )
            cached = frozenset(source.keys())
            self._dates_by_year[year] = cached
        return cached


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours of one nation, reasoned in its local timezone."""

    tz: ZoneInfo
    day_start: time
    day_end: time
    bank_holidays: Container[date]
    day_count_rule: DayCountRule = DayCountRule.END_OF_NTH_WORKING_DAY

    def __post_init__(self) -> None:
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end are local wall-clock times without tzinfo")
        if not self.day_start < self.day_end:
            raise ValueError(f"day_start {self.day_start} must be before day_end {self.day_end}")

    @classmethod
    def england(
        cls,
        tz: str = "Europe/London",
        day_start: time = time(9),
        day_end: time = time(17),
        *,
        subdiv: str = "ENG",
        day_count_rule: DayCountRule = DayCountRule.END_OF_NTH_WORKING_DAY,
    ) -> WorkingCalendar:
        """Build the calendar of England (or another UK nation via subdiv, e.g. "WLS")."""
        return cls.uk_nation(
            subdiv, tz=tz, day_start=day_start, day_end=day_end, day_count_rule=day_count_rule
        )

    @classmethod
    def uk_nation(
        cls,
        subdiv: str,
        *,
        tz: str = "Europe/London",
        day_start: time = time(9),
        day_end: time = time(17),
        day_count_rule: DayCountRule = DayCountRule.END_OF_NTH_WORKING_DAY,
    ) -> WorkingCalendar:
        """Build the calendar of a UK nation: subdiv is ENG, WLS, SCT or NIR."""
        return cls(
            tz=ZoneInfo(tz),
            day_start=day_start,
            day_end=day_end,
            bank_holidays=UkBankHolidays(subdiv),
            day_count_rule=day_count_rule,
        )

    def is_working_day(self, day: date) -> bool:
        """Return True for a Monday to Friday that is not a bank holiday."""
        if isinstance(day, datetime):
            raise TypeError("pass the local date, not a datetime, to is_working_day")
        return day.weekday() < calendar.SATURDAY and day not in self.bank_holidays

    def add_elapsed_hours(self, start: datetime, hours: float) -> datetime:
        """Return the instant a number of real hours after start."""
        return to_utc(start) + _non_negative_hours(hours)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the instant after counting hours of working time, starting at start."""
        remaining = _non_negative_hours(hours)
        cursor = self._next_working_instant(to_utc(start))
        while True:
            closing = self._closing_of(self._local_date(cursor))
            if remaining <= closing - cursor:
                return cursor + remaining
            remaining -= closing - cursor
            cursor = self._opening_of(self._next_working_day_after(self._local_date(cursor)))

    def add_working_days(
        self, start: datetime, n: int, rule: DayCountRule | None = None
    ) -> datetime:
        """Return the deadline for 'within n working days of start' under the rule."""
        if n < 1:
            raise ValueError(f"a working-day timescale needs n >= 1, got {n}")
        chosen_rule = rule if rule is not None else self.day_count_rule
        if chosen_rule is DayCountRule.END_OF_NTH_WORKING_DAY:
            nth_day = self._nth_working_day_after(self._local_date(to_utc(start)), n)
            return self._local_midnight_starting(nth_day + ONE_DAY)
        clock_start = self._next_working_instant(to_utc(start)).astimezone(self.tz)
        nth_day = self._nth_working_day_after(clock_start.date(), n)
        return to_utc(datetime.combine(nth_day, clock_start.timetz()))

    def add_calendar_months(self, start: datetime, n: int) -> datetime:
        """Return the same local wall-clock time n months later, clamped to the month's end."""
        if n < 0:
            raise ValueError(f"months must be zero or more, got {n}")
        local = to_utc(start).astimezone(self.tz)
        month_index = local.year * 12 + (local.month - 1) + n
        year, month = divmod(month_index, 12)
        month += 1
        day = min(local.day, calendar.monthrange(year, month)[1])
        return to_utc(local.replace(year=year, month=month, day=day))

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """Count working days after a's local date up to and including b's (negative if b < a)."""
        first, last = self._local_date(to_utc(a)), self._local_date(to_utc(b))
        if last < first:
            return -self.working_days_between(b, a)
        days_after_first = (first + ONE_DAY * k for k in range(1, (last - first).days + 1))
        return sum(1 for day in days_after_first if self.is_working_day(day))

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def _opening_of(self, day: date) -> datetime:
        return to_utc(datetime.combine(day, self.day_start, tzinfo=self.tz))

    def _closing_of(self, day: date) -> datetime:
        return to_utc(datetime.combine(day, self.day_end, tzinfo=self.tz))

    def _local_midnight_starting(self, day: date) -> datetime:
        return to_utc(datetime.combine(day, time(0), tzinfo=self.tz))

    def _next_working_day_after(self, day: date) -> date:
        return self._nth_working_day_after(day, 1)

    def _nth_working_day_after(self, day: date, n: int) -> date:
        counted = 0
        while counted < n:
            day += ONE_DAY
            if self.is_working_day(day):
                counted += 1
        return day

    def _next_working_instant(self, instant: datetime) -> datetime:
        """Return instant if it is within working hours, else the next opening."""
        today = self._local_date(instant)
        if self.is_working_day(today):
            if instant < self._opening_of(today):
                return self._opening_of(today)
            if instant < self._closing_of(today):
                return instant
        return self._opening_of(self._next_working_day_after(today))


def _non_negative_hours(hours: float) -> timedelta:
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite number zero or more, got {hours}")
    return timedelta(hours=hours)
