"""The conference rules (DOMAIN.md §7, §8), pure: plain values in, faulty fields or dates out.

Timescales are counted on the partnership's working calendar (mashcore.workingtime: the
bank holidays of its nation, its local time across British Summer Time changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from mashcore.policy import Duration
from mashcore.workingtime import WorkingCalendar

FieldErrors = list[tuple[str, str]]

ICPC_WITHIN = Duration(amount=15, unit="working_days")
"""ICPC within 15 working days of the strategy discussion that started the s47 (WT2018)."""
FIRST_REVIEW_WITHIN_MONTHS = 3
"""The first review conference within 3 months of the ICPC ([004])."""
REPORTS_DUE_WORKING_DAYS_BEFORE = 2
"""Default: each agency's written report is due by the end of the second working day
before the conference (a partnership may set another number; the chair needs time to read
and share them with the family)."""

LATER_REVIEW_WITHIN_MONTHS = 6
"""Later reviews at intervals of not more than 6 months ([004])."""
CONTINUING = ("continue", "change")
ENDING: Mapping[str, str] = {"end": "ended",
                             "step_down_child_in_need": "stepped_down_to_child_in_need",
                             "step_down_early_help": "stepped_down_to_early_help"}
"""A review's decision that ends the plan → plan.ended's reason."""
FIRST_CORE_GROUP_WITHIN = Duration(amount=10, unit="working_days")
"""The first core group within 10 working days of the ICPC ([004])."""
CORE_GROUP_MINUTES_WITHIN = Duration(amount=5, unit="working_days")
"""Core group minutes within 5 working days of the meeting ([004])."""
ACTION_STATUSES = ("open", "in_progress", "done", "not_done", "no_longer_needed")
COPY_FORMS = ("written", "easy_read", "translated", "audio", "braille", "verbal", "other")

CATEGORIES = ("neglect", "physical", "emotional", "sexual")
FAMILY_ROLES = frozenset({"child", "parent_or_carer", "family_member", "supporter",
                          "advocate"})

# A conference's states.
AWAITING_SCHEDULE, SCHEDULED, HELD = "awaiting_schedule", "scheduled", "held"


def icpc_due(calendar: WorkingCalendar, s47_started_at: datetime) -> datetime:
    """When the ICPC is due: 15 working days after the discussion that started the s47."""
    return ICPC_WITHIN.after(s47_started_at, calendar)


def latest_review_on(calendar: WorkingCalendar, held_at: datetime, months: int) -> date:
    """The last local date a review ``months`` after a conference held at ``held_at`` may
    take place (the same day of the month, clamped to the month's end)."""
    return calendar.add_calendar_months(held_at, months).astimezone(calendar.tz).date()


def review_date_errors(calendar: WorkingCalendar, due_on: date | None, held_at: datetime,
                       months: int, field: str) -> FieldErrors:
    """A review date is needed, after the conference and within ``months`` of it."""
    if due_on is None:
        return [(field, "a plan needs the date of its review")]
    held_on = held_at.astimezone(calendar.tz).date()
    latest = latest_review_on(calendar, held_at, months)
    if due_on <= held_on:
        return [(field, f"must be after the conference ({held_on.isoformat()})")]
    if due_on > latest:
        return [(field, f"must be within {months} months of the conference "
                        f"(by {latest.isoformat()})")]
    return []


def reports_due(calendar: WorkingCalendar, scheduled_for: datetime,
                working_days_before: int = REPORTS_DUE_WORKING_DAYS_BEFORE) -> datetime:
    """The close of business of the ``working_days_before``-th working day before the
    conference's local date (at least one)."""
    day = scheduled_for.astimezone(calendar.tz).date()
    left = max(1, working_days_before)
    while left:
        day -= timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    local = datetime.combine(day, calendar.day_end, tzinfo=calendar.tz)
    return local.astimezone(scheduled_for.tzinfo or calendar.tz)


def invitee_errors(invitees: Sequence[Mapping[str, Any]], family_not_invited_reason:
                   str | None, field: str = "invitees") -> FieldErrors:
    """An ICPC needs a social worker and the parents (unless a reason is recorded why the
    family is not invited); family members are invited by role only."""
    errors: FieldErrors = []
    if not any(p.get("role") == "social_worker" for p in invitees):
        errors.append((field, "needs a social worker"))
    family = [p for p in invitees if p.get("role") in FAMILY_ROLES]
    if not family and not family_not_invited_reason:
        errors.append((field, "invite the family (by role) or give "
                              "family_not_invited_reason"))
    if any(p.get("agency") or p.get("user_id") for p in family):
        errors.append((field, "family members are invited by role only"))
    return errors


def decision_errors(calendar: WorkingCalendar, decisions: Sequence[Mapping[str, Any]],
                    children: Sequence[int], held_at: datetime,
                    allowed_categories: Sequence[str] = CATEGORIES) -> FieldErrors:
    """One decision per child of the conference; a plan needs a category of abuse, a core
    group and its first review within 3 months; no plan has none of them."""
    errors: FieldErrors = []
    decided = [d["child_number"] for d in decisions]
    if sorted(decided) != sorted(set(children)):
        errors.append(("decisions", "one decision for each child of the conference "
                                    f"(children {sorted(set(children))})"))
    for i, d in enumerate(decisions):
        at = f"decisions[{i}]"
        if d["plan"]:
            if not d.get("category_of_abuse"):
                errors.append((f"{at}.category_of_abuse", "a plan needs a category of abuse"))
            bad = [c for c in d.get("category_of_abuse") or [] if c not in allowed_categories]
            if bad:
                errors.append((f"{at}.category_of_abuse",
                               f"not allowed by the partnership: {', '.join(bad)}"))
            if not d.get("core_group"):
                errors.append((f"{at}.core_group", "a plan needs a core group"))
            errors += review_date_errors(calendar, d.get("first_review_due_on"), held_at,
                                         FIRST_REVIEW_WITHIN_MONTHS,
                                         f"{at}.first_review_due_on")
        else:
            for name in ("category_of_abuse", "core_group", "outline_plan",
                         "first_review_due_on"):
                if d.get(name):
                    errors.append((f"{at}.{name}", "only when a plan is made"))
    return errors


def core_group_chair_role(first: bool) -> str:
    """The first core group is chaired by the social care team manager, later ones by the
    social worker ([004])."""
    return "team_manager" if first else "social_worker"


def action_update_errors(updates: Sequence[Mapping[str, Any]], known: Sequence[str],
                         field: str = "action_updates") -> FieldErrors:
    """Each update names an action of this plan, once."""
    errors: FieldErrors = []
    seen: set[str] = set()
    for i, u in enumerate(updates):
        if u["action_id"] not in known:
            errors.append((f"{field}[{i}].action_id", "not an action of this plan"))
        elif u["action_id"] in seen:
            errors.append((f"{field}[{i}].action_id", "each action once"))
        seen.add(u["action_id"])
    return errors


def review_decision_errors(calendar: WorkingCalendar, decision: str,
                           categories: Sequence[str], next_review_due_on: date | None,
                           held_at: datetime,
                           allowed_categories: Sequence[str] = CATEGORIES) -> FieldErrors:
    """Continuing or changing the plan needs its categories and the next review within 6
    months; ending it or stepping down has neither."""
    if decision in CONTINUING:
        errors: FieldErrors = []
        if not categories:
            errors.append(("category_of_abuse", "a continuing plan needs a category"))
        bad = [c for c in categories if c not in allowed_categories]
        if bad:
            errors.append(("category_of_abuse",
                           f"not allowed by the partnership: {', '.join(bad)}"))
        return errors + review_date_errors(calendar, next_review_due_on, held_at,
                                           LATER_REVIEW_WITHIN_MONTHS, "next_review_due_on")
    return [(name, "only when the plan continues or changes")
            for name, value in (("category_of_abuse", categories),
                                ("next_review_due_on", next_review_due_on)) if value]
