"""The SLA clock engine (pure): statutory timescales as clocks, moved by events and by time.

Times are UTC; the working-day examples are worked out by hand from England's calendar
(Christmas 2026: Boxing Day falls on a Saturday, so Monday 28 December is the substitute
bank holiday; Easter 2027: Good Friday 26 March, Easter Monday 29 March).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mashcore.policy import PolicyBook, PolicyPack
from mashcore.policy.model import ClockRule
from sla_timekeeper.clocks import Clock, Occurrence, due_transitions, next_wake, on_event
from sla_timekeeper.defaults import default_rules

REF = "MASH-2026-CL0CK000"


@pytest.fixture(scope="module")
def pack() -> PolicyPack:
    return PolicyBook.load().for_partnership("default")


@pytest.fixture(scope="module")
def rules(pack: PolicyPack) -> dict[str, ClockRule]:
    return default_rules(pack)


def event(event_type: str, time: datetime, **data: Any) -> Occurrence:
    return Occurrence(type=f"mash.{event_type}", case_reference=REF, partnership="default",
                      time=time, data=data)


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def run(events: list[Occurrence], rules: dict[str, ClockRule],
        pack: PolicyPack) -> tuple[list[Clock], list[Any]]:
    clocks: list[Clock] = []
    history: list[Any] = []
    new_id = ids()
    for occurrence in events:
        clocks, transitions = on_event(clocks, occurrence, rules, pack, new_id)
        history += transitions
    return clocks, history


def one(clocks: list[Clock], name: str) -> Clock:
    [clock] = [c for c in clocks if c.clock == name]
    return clock


def test_icpc_is_due_15_working_days_after_a_strategy_discussion_on_17_december(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    clocks, history = run([event("strategy.discussion.held.v1", held + timedelta(hours=2),
                                 meeting_id="m1", held_at=held.isoformat(),
                                 starts_s47=True)], rules, pack)
    icpc = one(clocks, "icpc")
    # 18,21,22,23,24 Dec; (25 Christmas, 28 Boxing Day substitute) 29,30,31 Dec;
    # (1 Jan) 4,5,6,7,8,11,12 Jan: the end of Tuesday 12 January 2027.
    assert icpc.due_at == datetime(2027, 1, 13, 0, 0, tzinfo=UTC)
    assert icpc.started_at == held  # from when it was held, not when it was recorded
    assert {t.kind for t in history} == {"started"}
    assert one(clocks, "strategy_minutes").due_at == held + timedelta(hours=24)


def test_a_discussion_that_does_not_start_s47_starts_no_icpc_clock(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    clocks, _ = run([event("strategy.discussion.held.v1", held, meeting_id="m1",
                           held_at=held.isoformat(), starts_s47=False)], rules, pack)
    assert [c.clock for c in clocks] == ["strategy_minutes"]


def test_first_core_group_over_easter_2027(rules: dict[str, ClockRule],
                                           pack: PolicyPack) -> None:
    held = datetime(2027, 3, 18, 11, 0, tzinfo=UTC)  # Thursday before Holy Week
    clocks, _ = run([event("strategy.icpc.held.v1", held, held_at=held.isoformat(),
                           plan_made=True)], rules, pack)
    # 19,22,23,24,25 Mar; (26 Good Friday, 29 Easter Monday) 30,31 Mar, 1,2,5 Apr:
    # the end of Monday 5 April, midnight British Summer Time.
    assert one(clocks, "first_core_group").due_at == datetime(2027, 4, 5, 23, 0, tzinfo=UTC)
    # Three months on, at the same local time: 11:00 GMT becomes 11:00 BST (10:00 UTC).
    assert one(clocks, "first_review_conference").due_at == datetime(2027, 6, 18, 10, 0,
                                                                     tzinfo=UTC)


def test_red_enquiries_across_midnight_warn_then_breach_exactly_once(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    decided = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
    clocks, _ = run([event("triage.threshold.decided.v1", decided, route="mash_enquiries",
                           brag="red", decided_at=decided.isoformat(),
                           enquiries_due_at=(decided + timedelta(hours=4)).isoformat())],
                    rules, pack)
    clock = one(clocks, "mash_enquiries")
    rule = rules["mash_enquiries"]
    assert clock.due_at == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert next_wake(clock, rule) == decided + timedelta(hours=2)
    clock, fired = due_transitions(clock, rule, decided + timedelta(hours=1, minutes=59))
    assert fired == []
    clock, fired = due_transitions(clock, rule, decided + timedelta(hours=3, minutes=1))
    assert [(t.kind, t.extra["percent_elapsed"]) for t in fired] == [("warned", 50.0),
                                                                     ("warned", 75.0)]
    clock, fired = due_transitions(clock, rule, datetime(2026, 11, 25, 2, 29, 59, tzinfo=UTC))
    assert fired == []
    clock, fired = due_transitions(clock, rule, datetime(2026, 11, 25, 2, 30, 5, tzinfo=UTC))
    assert [(t.kind, t.extra["overdue_by_seconds"]) for t in fired] == [("breached", 5)]
    clock, fired = due_transitions(clock, rule, datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    assert fired == [] and next_wake(clock, rule) is None


def test_a_backdated_event_computes_from_when_it_happened_and_breaches_at_once(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    received = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday, recorded a week late
    recorded = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clocks, _ = run([event("intake.contact.received.v1", recorded,
                           received_at=received.isoformat())], rules, pack)
    decision = one(clocks, "threshold_decision")
    assert decision.due_at == datetime(2026, 11, 18, 0, 0, tzinfo=UTC)  # end of Tuesday
    _clock, fired = due_transitions(decision, rules["threshold_decision"], recorded)
    assert [t.kind for t in fired] == ["breached"]  # no late warnings first
    assert fired[0].extra["overdue_by_seconds"] == 5 * 86400 + 9 * 3600


def test_a_corrected_earlier_timestamp_recomputes_the_clock(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    corrected = datetime(2026, 12, 15, 10, 0, tzinfo=UTC)
    clocks, history = run([
        event("strategy.discussion.held.v1", held, meeting_id="m1", held_at=held.isoformat(),
              starts_s47=True),
        event("strategy.discussion.held.v1", held, meeting_id="m1",
              held_at=corrected.isoformat(), starts_s47=True),
    ], rules, pack)
    icpc = one(clocks, "icpc")
    assert icpc.started_at == corrected
    # Two working days earlier: 16,17,18,21,22,23,24,29,30,31 Dec, 4,5,6,7,8 Jan.
    assert icpc.due_at == datetime(2027, 1, 9, 0, 0, tzinfo=UTC)
    extended = [t for t in history if t.kind == "extended" and t.clock.clock == "icpc"]
    assert extended[0].extra["reason_code"] == "calendar_correction"
    assert extended[0].extra["previous_due_at"] == datetime(2027, 1, 13, 0, 0, tzinfo=UTC)


def test_re_rating_amber_to_red_recalculates_the_deadline(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    decided = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    clocks, history = run([
        event("triage.threshold.decided.v1", decided, route="mash_enquiries", brag="amber",
              decided_at=decided.isoformat(),
              enquiries_due_at=(decided + timedelta(hours=24)).isoformat()),
        event("triage.case.re-rated.v1", decided + timedelta(hours=2), previous_brag="amber",
              new_brag="red", re_rated_at=(decided + timedelta(hours=2)).isoformat(),
              enquiries_due_at=(decided + timedelta(hours=6)).isoformat()),
    ], rules, pack)
    clock = one(clocks, "mash_enquiries")
    assert (clock.brag, clock.due_at) == ("red", decided + timedelta(hours=6))
    assert [t.kind for t in history] == ["started", "extended"]


def test_chained_clocks_from_strategy_to_reviews(rules: dict[str, ClockRule],
                                                 pack: PolicyPack) -> None:
    t0 = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    icpc_at, core_at = t0 + timedelta(days=14), t0 + timedelta(days=20)
    review_at = datetime(2027, 4, 15, 10, 0, tzinfo=UTC)
    second_at = datetime(2027, 10, 1, 10, 0, tzinfo=UTC)
    clocks, history = run([
        event("strategy.discussion.held.v1", t0, meeting_id="m1", held_at=t0.isoformat(),
              starts_s47=True),
        event("strategy.icpc.held.v1", icpc_at, held_at=icpc_at.isoformat(), plan_made=True),
        event("strategy.core-group.held.v1", core_at, meeting_id="c1",
              held_at=core_at.isoformat(), first=True),
        event("strategy.review-conference.held.v1", review_at, held_at=review_at.isoformat(),
              first=True, decision="continue"),
        event("strategy.review-conference.held.v1", second_at, held_at=second_at.isoformat(),
              first=False, decision="end"),
    ], rules, pack)
    met = [(t.clock.clock, t.extra["on_time"]) for t in history if t.kind == "met"]
    assert ("icpc", True) in met and ("first_core_group", True) in met
    assert ("first_review_conference", True) in met
    assert ("later_review_conference", True) in met  # the second review met the first's
    later = [c for c in clocks if c.clock == "later_review_conference"]
    # The first review started the 6-month clock; the second ("end") met it and, ending
    # the plan, started no further one.
    assert [(c.started_at, c.due_at, c.status) for c in later] == [
        (review_at, datetime(2027, 10, 15, 10, 0, tzinfo=UTC), "met")]  # 11:00 BST both


def test_partner_requests_are_separate_clocks_stopped_one_by_one_and_cancelled_at_the_end(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    asked = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    deadline = (asked + timedelta(hours=4)).isoformat()
    requests = [event("enquiries.information.requested.v1", asked, request_id=f"r{i}",
                      agency=agency, brag="red", requested_at=asked.isoformat(),
                      deadline=deadline)
                for i, agency in enumerate(("police", "health"))]
    clocks, history = run([
        *requests,
        event("enquiries.information.provided.v1", asked + timedelta(hours=5), request_id="r0",
              provided_at=(asked + timedelta(hours=5)).isoformat()),
        event("enquiries.enquiries.completed.v1", asked + timedelta(hours=6)),
    ], rules, pack)
    by_agency = {c.agency: c for c in clocks if c.clock == "partner_information_request"}
    assert by_agency["police"].status == "met"
    assert [t.extra["on_time"] for t in history if t.kind == "met"] == [False]
    assert by_agency["health"].status == "cancelled"


def test_a_stop_for_a_clock_that_never_started_changes_nothing(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    clocks, history = run([event("strategy.icpc.held.v1", datetime(2027, 1, 1, tzinfo=UTC),
                                 held_at="2027-01-01T10:00:00+00:00", plan_made=False)],
                          rules, pack)
    assert clocks == [] and history == []


def test_a_partnership_pack_can_replace_a_default_clock(pack: PolicyPack) -> None:
    custom = ClockRule.model_validate({
        "clock": "icpc",
        "start": [{"event": "mash.strategy.discussion.held.v1", "at": "held_at",
                   "when": {"starts_s47": True}}],
        "stop": [{"event": "mash.strategy.icpc.held.v1", "at": "held_at"}],
        "duration": {"amount": 10, "unit": "working_days"}})
    rules = default_rules(pack.model_copy(update={"clocks": [custom]}))
    assert rules["icpc"].duration is not None and rules["icpc"].duration.amount == 10
    assert len(rules) == 12  # every row of DOMAIN.md §8
