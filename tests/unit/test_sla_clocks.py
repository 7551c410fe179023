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
FIRST = "5b0e1d2c-0000-4000-8000-000000000001"  # the id of the event a correction corrects


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


def opened(meeting: str, at: datetime, child: int = 1, **more: Any) -> Occurrence:
    """Strategy's s47-enquiry.opened for one child of a held discussion: the ICPC clock's
    start, one per discussion and child."""
    return event("strategy.s47-enquiry.opened.v1", at, meeting_id=meeting, child_number=child,
                 s47_enquiry_id=f"s47-{meeting}-{child}", opened_at=at.isoformat(), **more)


def one(clocks: list[Clock], name: str) -> Clock:
    [clock] = [c for c in clocks if c.clock == name]
    return clock


def test_icpc_is_due_15_working_days_after_a_strategy_discussion_on_17_december(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    clocks, history = run([event("strategy.discussion.held.v1", held + timedelta(hours=2),
                                 meeting_id="m1", held_at=held.isoformat(),
                                 starts_s47=True), opened("m1", held)], rules, pack)
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
              starts_s47=True), opened("m1", held),
        event("strategy.discussion.held.v1", held, meeting_id="m1",
              held_at=corrected.isoformat(), starts_s47=True, corrects=FIRST),
        opened("m1", corrected, corrects=FIRST),
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
              starts_s47=True), opened("m1", t0),
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


def test_a_stop_for_a_clock_that_never_started_announces_nothing(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    clocks, history = run([event("strategy.icpc.held.v1", datetime(2027, 1, 1, tzinfo=UTC),
                                 held_at="2027-01-01T10:00:00+00:00", plan_made=False)],
                          rules, pack)
    assert history == [] and not any(c.open for c in clocks)


@pytest.mark.parametrize("late", [False, True])
def test_a_stop_that_arrives_before_its_start_meets_the_clock_when_the_start_comes(
    rules: dict[str, ClockRule], pack: PolicyPack, late: bool,
) -> None:
    # The decision (triage's topic) overtakes its contact (intake's topic): no false breach.
    received = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday: due the end of Wednesday
    decided = received + (timedelta(days=2) if late else timedelta(hours=3))
    clocks, history = run([
        event("triage.threshold.decided.v1", decided, decided_at=decided.isoformat(),
              route="early_help"),
        event("intake.contact.received.v1", received, received_at=received.isoformat()),
    ], rules, pack)
    clock = one(clocks, "threshold_decision")
    assert (clock.status, clock.started_at, clock.ended_at) == ("met", received, decided)
    kinds = [t.kind for t in history if t.clock.clock == "threshold_decision"]
    assert kinds == (["started", "breached", "met"] if late else ["started", "met"])
    [met] = [t for t in history if t.kind == "met"]
    assert met.extra["on_time"] is not late


def test_a_stop_recorded_after_the_due_time_is_a_breach_even_before_the_timer_fired(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    received = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    decided = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)  # half an hour late
    _, history = run([
        event("intake.contact.received.v1", received, received_at=received.isoformat()),
        event("triage.threshold.decided.v1", decided, decided_at=decided.isoformat(),
              route="early_help"),
    ], rules, pack)
    late = [(t.kind, t.at, t.extra) for t in history if t.clock.clock == "threshold_decision"
            and t.kind in ("breached", "met")]
    assert late == [("breached", datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
                     {"overdue_by_seconds": 1800}),
                    ("met", decided, {"on_time": False})]


def test_a_correction_of_an_ended_clock_s_start_does_not_start_another(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
    circulated = held + timedelta(hours=20)
    clocks, history = run([
        event("strategy.discussion.held.v1", held, meeting_id="m1", held_at=held.isoformat(),
              starts_s47=True), opened("m1", held),
        event("strategy.minutes.circulated.v1", circulated, meeting_id="m1",
              meeting_kind="strategy_discussion", circulated_at=circulated.isoformat()),
        event("strategy.discussion.held.v1", circulated, meeting_id="m1",
              held_at=(held - timedelta(days=1)).isoformat(), starts_s47=True,
              corrects=FIRST),
        opened("m1", held - timedelta(days=1), corrects=FIRST),
    ], rules, pack)
    minutes = [c for c in clocks if c.clock == "strategy_minutes"]
    assert [(c.status, c.started_at) for c in minutes] == [("met", held)]
    assert not any(t.kind == "breached" for t in history)
    # The ICPC clock, still running, is recomputed from the corrected time.
    assert one(clocks, "icpc").started_at == held - timedelta(days=1)


def test_a_corrected_review_time_recomputes_the_next_review_and_meets_nothing(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    review = datetime(2027, 4, 15, 9, 0, tzinfo=UTC)
    clocks, history = run([
        event("strategy.review-conference.held.v1", review, held_at=review.isoformat(),
              first=True, decision="continue"),
        event("strategy.review-conference.held.v1", review, first=True, decision="continue",
              held_at=(review - timedelta(days=1)).isoformat(), corrects=FIRST),
    ], rules, pack)
    later = one(clocks, "later_review_conference")
    assert (later.status, later.started_at) == ("running", review - timedelta(days=1))
    assert [t.kind for t in history if t.clock.clock == "later_review_conference"] == \
        ["started", "extended"]


def test_a_correction_to_a_later_start_lifts_the_breach_and_owes_the_warnings_again(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    clocks, _ = run([event("strategy.discussion.held.v1", held, meeting_id="m1",
                           held_at=held.isoformat())], rules, pack)
    rule = rules["strategy_minutes"]
    minutes, fired = due_transitions(one(clocks, "strategy_minutes"), rule,
                                     held + timedelta(hours=25))
    assert [t.kind for t in fired] == ["breached"]
    # Recorded at 11:00 the next day: the meeting was in fact held then.
    corrected = held + timedelta(hours=25)
    clocks, history = on_event([minutes], event(
        "strategy.discussion.held.v1", corrected, meeting_id="m1",
        held_at=corrected.isoformat(), corrects=FIRST), {"strategy_minutes": rule}, pack)
    fixed = one(clocks, "strategy_minutes")
    assert (fixed.breached, fixed.warned) == (False, ())
    assert next_wake(fixed, rule) == corrected + timedelta(hours=12)
    assert [t.kind for t in history] == ["extended"]


def test_re_rating_within_enquiries_moves_the_deadline_once_and_keeps_the_start(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    decided = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    re_rated = decided + timedelta(hours=2)
    clocks, history = run([
        event("triage.threshold.decided.v1", decided, route="mash_enquiries", brag="amber",
              decided_at=decided.isoformat(),
              enquiries_due_at=(decided + timedelta(hours=24)).isoformat()),
        # Red with the route given again, and (a second time) with the deadline unchanged.
        event("triage.case.re-rated.v1", re_rated, previous_brag="amber", new_brag="red",
              new_route="mash_enquiries", re_rated_at=re_rated.isoformat(),
              enquiries_due_at=(re_rated + timedelta(hours=4)).isoformat()),
    ], rules, pack)
    clock = one(clocks, "mash_enquiries")
    assert (clock.started_at, clock.brag) == (decided, "red")
    assert [t.kind for t in history] == ["started", "extended"]


def test_a_re_rating_that_keeps_the_deadline_still_changes_the_colour(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    decided = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    due = (decided + timedelta(hours=4)).isoformat()
    clocks, history = run([
        event("triage.threshold.decided.v1", decided, route="mash_enquiries", brag="amber",
              decided_at=decided.isoformat(), enquiries_due_at=due),
        event("triage.case.re-rated.v1", decided + timedelta(hours=1), previous_brag="amber",
              new_brag="red", re_rated_at=(decided + timedelta(hours=1)).isoformat(),
              enquiries_due_at=due),
    ], rules, pack)
    assert one(clocks, "mash_enquiries").brag == "red"
    assert [t.kind for t in history] == ["started"]


def test_re_rating_into_enquiries_takes_the_new_colour_and_out_of_them_cancels(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    t0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    clocks, history = run([
        event("triage.case.re-rated.v1", t0, previous_brag="blue", new_brag="red",
              new_route="mash_enquiries", re_rated_at=t0.isoformat(),
              enquiries_due_at=(t0 + timedelta(hours=4)).isoformat()),
        event("triage.case.re-rated.v1", t0 + timedelta(hours=1), previous_brag="red",
              new_brag="green", new_route="early_help",
              re_rated_at=(t0 + timedelta(hours=1)).isoformat()),
    ], rules, pack)
    clock = one(clocks, "mash_enquiries")
    assert (clock.brag, clock.status) == ("red", "cancelled")
    [cancelled] = [t for t in history if t.kind == "cancelled"]
    assert cancelled.extra["reason_code"] == "route_changed"


def test_met_while_paused_does_not_count_the_paused_time(pack: PolicyPack) -> None:
    rule = ClockRule.model_validate({
        "clock": "escalation_stage",
        "start": [{"event": "mash.strategy.escalation.raised.v1"}],
        "stop": [{"event": "mash.strategy.escalation.answered.v1"}],
        "pause": [{"event": "mash.strategy.escalation.paused.v1"}],
        "duration": {"amount": 4, "unit": "elapsed_hours"}})
    t0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    _, history = run([event("strategy.escalation.raised.v1", t0),
                      event("strategy.escalation.paused.v1", t0 + timedelta(hours=1)),
                      event("strategy.escalation.answered.v1", t0 + timedelta(hours=6))],
                     {"escalation_stage": rule}, pack)
    assert [(t.kind, t.extra.get("on_time")) for t in history][-1] == ("met", True)


def test_a_partnership_pack_can_replace_a_default_clock(pack: PolicyPack) -> None:
    custom = ClockRule.model_validate({
        "clock": "icpc",
        "start": [{"event": "mash.strategy.discussion.held.v1", "at": "held_at",
                   "when": {"starts_s47": True}}],
        "stop": [{"event": "mash.strategy.icpc.held.v1", "at": "held_at"}],
        "duration": {"amount": 10, "unit": "working_days"}})
    rules = default_rules(pack.model_copy(update={"clocks": [custom]}))
    assert rules["icpc"].duration is not None and rules["icpc"].duration.amount == 10
    assert len(rules) == 13  # every row of DOMAIN.md §8, and the transfer-in conference


def test_the_national_return_start_is_kept_beside_the_local_one_where_they_differ(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    # A contact on Monday 09:00 becomes a referral at 15:00: the MASH clock runs from the
    # contact, the national return counts the referral from 15:00.
    received = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    accepted = received + timedelta(hours=6)
    decided = received + timedelta(hours=7)
    clocks, history = run([
        event("intake.contact.received.v1", received, received_at=received.isoformat()),
        event("intake.referral.accepted.v1", accepted, accepted_at=accepted.isoformat()),
        event("intake.referral.accepted.v1", accepted + timedelta(hours=1),
              accepted_at=(accepted + timedelta(hours=1)).isoformat()),  # the first wins
        event("triage.threshold.decided.v1", decided, decided_at=decided.isoformat(),
              route="early_help"),
    ], rules, pack)
    clock = one(clocks, "threshold_decision")
    assert (clock.started_at, clock.national_return_started_at) == (received, accepted)
    [met] = [t for t in history if t.kind == "met" and t.clock.clock == "threshold_decision"]
    assert met.clock.national_return_started_at == accepted
    # Nothing is announced for it: the clock's own events carry both starts.
    assert [t.kind for t in history if t.clock.clock == "threshold_decision"] == \
        ["started", "met"]
    # The other clocks started by the contact do not count from the referral.
    assert one(clocks, "referrer_outcome").national_return_started_at is None


def test_a_referral_received_as_one_has_a_single_start(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    received = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clocks, _ = run([
        event("intake.contact.received.v1", received, received_at=received.isoformat()),
        event("intake.referral.accepted.v1", received, accepted_at=received.isoformat()),
    ], rules, pack)
    assert one(clocks, "threshold_decision").national_return_started_at is None


def test_a_corrected_conference_time_recomputes_the_clocks_chained_from_it(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2027, 1, 20, 10, 0, tzinfo=UTC)  # recorded as Wednesday
    corrected = datetime(2027, 1, 18, 10, 0, tzinfo=UTC)  # it was held on Monday
    clocks, history = run([
        event("strategy.icpc.held.v1", held, held_at=held.isoformat(), plan_made=True),
        event("strategy.icpc.held.v1", held, held_at=corrected.isoformat(), plan_made=True,
              corrects=FIRST),
    ], rules, pack)
    # 10 working days from Monday 18 January: the end of Monday 1 February.
    assert one(clocks, "first_core_group").due_at == datetime(2027, 2, 2, 0, 0, tzinfo=UTC)
    # 3 months on at the same time of day in England: 10:00 GMT, then 10:00 BST (09:00 UTC).
    assert one(clocks, "first_review_conference").due_at == datetime(2027, 4, 18, 9, 0,
                                                                     tzinfo=UTC)
    corrections = {t.clock.clock for t in history if t.kind == "extended"}
    assert corrections == {"first_core_group", "first_review_conference"}


def test_a_completion_that_overtakes_a_re_route_back_to_enquiries_still_meets_the_clock(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    t0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def re_rated(at: datetime, route: str, **due: str) -> Occurrence:
        return event("triage.case.re-rated.v1", at, previous_brag="amber", new_brag="red",
                     new_route=route, re_rated_at=at.isoformat(), **due)

    back, done = t0 + timedelta(hours=2), t0 + timedelta(hours=3)
    clocks, history = run([
        event("triage.threshold.decided.v1", t0, route="mash_enquiries", brag="amber",
              decided_at=t0.isoformat(), enquiries_due_at=(t0 + timedelta(hours=24)).isoformat()),
        re_rated(t0 + timedelta(hours=1), "early_help"),
        event("enquiries.enquiries.completed.v1", done, completed_at=done.isoformat()),
        re_rated(back, "mash_enquiries", enquiries_due_at=(back + timedelta(hours=4)).isoformat()),
    ], rules, pack)
    enquiries = sorted((c for c in clocks
                        if c.clock == "mash_enquiries" and c.status != "early_stop"),
                       key=lambda c: c.started_at)
    assert [(c.status, c.ended_at) for c in enquiries] == [
        ("cancelled", t0 + timedelta(hours=1)), ("met", done)]
    assert not any(t.kind == "breached" for t in history)


def test_an_on_time_stop_that_arrives_after_the_timer_breached_lifts_the_breach(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    received = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    clocks, _ = run([event("intake.contact.received.v1", received,
                           received_at=received.isoformat())], rules, pack)
    rule = rules["threshold_decision"]
    breached, fired = due_transitions(one(clocks, "threshold_decision"), rule,
                                      datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    assert fired[-1].kind == "breached"
    decided = received + timedelta(hours=3)  # decided in time; its event was held up
    clocks, history = on_event(
        [breached, *[c for c in clocks if c.clock != "threshold_decision"]],
        event("triage.threshold.decided.v1", decided, decided_at=decided.isoformat(),
              route="nfa"), rules, pack)
    met = one(clocks, "threshold_decision")
    assert (met.status, met.breached) == ("met", False)
    assert [(t.kind, t.extra) for t in history] == [("met", {"on_time": True})]


def test_a_review_recorded_late_does_not_move_the_clock_of_a_later_review(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    r1 = datetime(2027, 4, 15, 9, 0, tzinfo=UTC)
    r2, r3 = r1 + timedelta(days=170), r1 + timedelta(days=340)

    def review(at: datetime) -> Occurrence:
        return event("strategy.review-conference.held.v1", at, held_at=at.isoformat(),
                     first=False, decision="continue")

    clocks, history = run([review(r1), review(r3), review(r2)], rules, pack)
    running = [c for c in clocks if c.clock == "later_review_conference" and c.open]
    assert [c.started_at for c in running] == [r3]
    assert not any(t.kind == "extended" for t in history)


def test_a_request_s_announced_new_deadline_moves_only_that_request_s_clock(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    asked = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    amber, red = asked + timedelta(hours=24), asked + timedelta(hours=5)
    re_rated = asked + timedelta(hours=1)
    clocks, history = run([
        *[event("enquiries.information.requested.v1", asked, request_id=f"r{i}", agency=agency,
                brag="amber", requested_at=asked.isoformat(), deadline=amber.isoformat())
          for i, agency in enumerate(("police", "health"))],
        event("enquiries.request.deadline-changed.v1", re_rated, request_id="r0",
              agency="police", brag="red", previous_deadline=amber.isoformat(),
              deadline=red.isoformat(), changed_at=re_rated.isoformat(),
              reason_code="re_rated"),
    ], rules, pack)
    by_agency = {c.agency: c for c in clocks}
    assert (by_agency["police"].due_at, by_agency["police"].brag) == (red, "red")
    assert (by_agency["health"].due_at, by_agency["health"].brag) == (amber, "amber")
    [moved] = [t for t in history if t.kind == "extended"]
    assert moved.extra["reason_code"] == "re_rated"
    assert (moved.extra["previous_due_at"], moved.extra["new_due_at"]) == (amber, red)
    # The warnings are owed at their points in the new span, not Amber's.
    rule = rules["partner_information_request"]
    assert next_wake(by_agency["police"], rule) == asked + timedelta(hours=2, minutes=30)
    # An answer after the new deadline is late.
    answered = asked + timedelta(hours=6)
    _, after = on_event(clocks, event("enquiries.information.provided.v1", answered,
                                      request_id="r0", provided_at=answered.isoformat()),
                        rules, pack)
    assert [(t.kind, t.extra) for t in after] == [
        ("breached", {"overdue_by_seconds": 3600}), ("met", {"on_time": False})]


def test_a_second_s47_is_a_second_icpc_clock_and_only_corrects_is_a_correction(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    first, second = (datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
                     datetime(2026, 12, 8, 10, 0, tzinfo=UTC))

    def held(meeting: str, at: datetime, **more: Any) -> list[Occurrence]:
        return [event("strategy.discussion.held.v1", at, meeting_id=meeting,
                      held_at=at.isoformat(), starts_s47=True, **more),
                opened(meeting, at, **more)]

    clocks, history = run([
        *held("m1", first), *held("m2", second),
        # The same discussion sent again with another time, not marked as a correction.
        *held("m1", first + timedelta(hours=3)),
    ], rules, pack)
    icpc = sorted((c for c in clocks if c.clock == "icpc"), key=lambda c: c.started_at)
    assert [(c.instance, c.started_at, c.status) for c in icpc] == [
        ("m1:1", first, "running"), ("m2:1", second, "running")]
    assert not any(t.kind == "extended" for t in history)
    # The ICPC of the second s47 meets its clock only; the first s47 ends without one.
    icpc_held = second + timedelta(days=10)
    nfa = second + timedelta(days=11)
    clocks, history = run([
        *held("m1", first), *held("m2", second),
        event("strategy.icpc.held.v1", icpc_held, held_at=icpc_held.isoformat(),
              strategy_meeting_id="m2", plan_made=False, plan_id=None),
        event("strategy.s47-outcome.recorded.v1", nfa, strategy_meeting_id="m1",
              child_number=1, next_step="no_further_action", concluded_at=nfa.isoformat()),
    ], rules, pack)
    by_meeting = {c.instance: c for c in clocks if c.clock == "icpc"}
    assert (by_meeting["m2:1"].status, by_meeting["m1:1"].status) == ("met", "cancelled")
    # An explicit correction of the first discussion moves only its clocks.
    corrected = first - timedelta(days=1)
    clocks, history = run([*held("m1", first), *held("m2", second),
                           *held("m1", corrected, corrects=FIRST)], rules, pack)
    moved = {(t.clock.clock, t.clock.instance) for t in history if t.kind == "extended"}
    assert moved == {("icpc", "m1:1"), ("strategy_minutes", "m1")}
    assert {c.instance: c.started_at for c in clocks if c.clock == "icpc"} == {
        "m1:1": corrected, "m2:1": second}


def test_each_child_s_icpc_clock_is_its_own_and_a_sibling_s_nfa_leaves_it_running(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    concluded = held + timedelta(days=5)
    clocks, _history = run([
        event("strategy.discussion.held.v1", held, meeting_id="m1", held_at=held.isoformat(),
              starts_s47=True), opened("m1", held, child=1), opened("m1", held, child=2),
        event("strategy.s47-outcome.recorded.v1", concluded, strategy_meeting_id="m1",
              child_number=2, next_step="no_further_action",
              concluded_at=concluded.isoformat()),
        event("strategy.s47-outcome.recorded.v1", concluded, strategy_meeting_id="m1",
              child_number=1, next_step="icpc", concluded_at=concluded.isoformat()),
    ], rules, pack)
    assert {c.instance: c.status for c in clocks if c.clock == "icpc"} == {
        "m1:1": "running", "m1:2": "cancelled"}
    # The ICPC names its strategy discussion, not a child: it meets that discussion's clocks.
    icpc_at = concluded + timedelta(days=2)
    clocks, _ = run([opened("m1", held, child=1), opened("m1", held, child=2),
                     opened("m2", held, child=3),
                     event("strategy.icpc.held.v1", icpc_at, held_at=icpc_at.isoformat(),
                           strategy_meeting_id="m1", plan_made=False, plan_id=None)],
                    rules, pack)
    assert {c.instance: c.status for c in clocks if c.clock == "icpc"} == {
        "m1:1": "met", "m1:2": "met", "m2:3": "running"}


def test_a_per_child_icpc_held_meets_that_child_s_clock_only(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    held = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    icpc_at = held + timedelta(days=10)

    def icpc_held(child: int) -> Occurrence:
        return event("strategy.icpc.held.v1", icpc_at, held_at=icpc_at.isoformat(),
                     conference_kind="initial", strategy_meeting_id="m1",
                     child_number=child, plan_made=True, plan_id=f"plan-{child}")
    clocks, _ = run([opened("m1", held, child=1), opened("m1", held, child=2),
                     icpc_held(1)], rules, pack)
    assert {c.instance: c.status for c in clocks if c.clock == "icpc"} == {
        "m1:1": "met", "m1:2": "running"}
    clocks, _ = run([opened("m1", held, child=1), opened("m1", held, child=2),
                     icpc_held(1), icpc_held(2)], rules, pack)
    assert {c.instance: c.status for c in clocks if c.clock == "icpc"} == {
        "m1:1": "met", "m1:2": "met"}


def test_a_transfer_in_conference_and_an_s47_icpc_never_meet_each_other_s_clock(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    received = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday
    discussion = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    transfer = event("intake.transfer-in.received.v1", received, transfer_id="t1",
                     received_at=received.isoformat(), arrangement="permanent",
                     transfer_in_conference_required=True)
    temporary = event("intake.transfer-in.received.v1", received, transfer_id="t2",
                      received_at=received.isoformat(), arrangement="temporary",
                      transfer_in_conference_required=False)
    at = received + timedelta(days=7)

    def held(kind: str, **more: Any) -> Occurrence:
        return event("strategy.icpc.held.v1", at, held_at=at.isoformat(),
                     conference_kind=kind, child_number=1, plan_made=False, plan_id=None,
                     **more)
    start = [opened("m1", discussion), transfer, temporary]
    clocks, _ = run(start, rules, pack)
    (own,) = [c for c in clocks if c.clock == "transfer_in_conference"]
    # 15 working days after Wednesday 25 November: the end of Wednesday 16 December.
    assert (own.instance, own.started_at, own.due_at) == (
        "t1", received, datetime(2026, 12, 17, tzinfo=UTC))
    # The transfer-in conference (no s47 discussion named) meets its own clock only.
    clocks, _ = run([*start, held("transfer_in", strategy_meeting_id=None)], rules, pack)
    assert {(c.clock, c.instance): c.status for c in clocks
            if c.clock in ("icpc", "transfer_in_conference")} == {
        ("icpc", "m1:1"): "running", ("transfer_in_conference", "t1"): "met"}
    # The s47's ICPC meets the s47's clock only.
    clocks, _ = run([*start, held("initial", strategy_meeting_id="m1")], rules, pack)
    assert {(c.clock, c.instance): c.status for c in clocks
            if c.clock in ("icpc", "transfer_in_conference")} == {
        ("icpc", "m1:1"): "met", ("transfer_in_conference", "t1"): "running"}


def test_a_correction_starts_stops_and_ends_nothing(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    review = datetime(2027, 4, 15, 9, 0, tzinfo=UTC)
    _, history = run([
        event("strategy.review-conference.held.v1", review, held_at=review.isoformat(),
              meeting_id="r1", plan_id="p1", first=False, decision="continue"),
        # Corrected to an hour later: the clock it started is not met by its own correction.
        event("strategy.review-conference.held.v1", review, meeting_id="r1", plan_id="p1",
              held_at=(review + timedelta(hours=1)).isoformat(), first=False,
              decision="continue", corrects=FIRST),
    ], rules, pack)
    assert [t.kind for t in history] == ["started", "extended"]


def test_a_stage_2_escalation_while_stage_1_runs_is_another_clock(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    raised = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    second = raised + timedelta(days=2)
    answered = raised + timedelta(days=3)
    clocks, history = run([
        event("strategy.escalation.raised.v1", raised, escalation_id="e1", stage=1,
              raised_at=raised.isoformat()),
        event("strategy.escalation.raised.v1", second, escalation_id="e1", stage=2,
              raised_at=second.isoformat()),
        event("strategy.escalation.answered.v1", answered, escalation_id="e1", stage=1,
              answered_at=answered.isoformat()),
    ], rules, pack)
    stages = {c.instance: c for c in clocks if c.clock == "escalation_stage"}
    assert {k: (c.started_at, c.status) for k, c in stages.items()} == {
        "e1:1": (raised, "met"), "e1:2": (second, "running")}
    assert not any(t.kind == "extended" for t in history)


def test_plan_ended_cancels_that_plan_s_core_group_and_review_clocks_only(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    icpc = datetime(2027, 1, 18, 10, 0, tzinfo=UTC)
    ended = icpc + timedelta(days=5)
    clocks, history = run([
        *[event("strategy.icpc.held.v1", icpc, held_at=icpc.isoformat(), plan_made=True,
                plan_id=plan, meeting_id=f"c-{plan}") for plan in ("p1", "p2")],
        event("strategy.plan.ended.v1", ended, plan_id="p1", reason="transferred_out",
              review_meeting_id=None, ended_at=ended.isoformat()),
    ], rules, pack)
    plan_clocks = {(c.clock, c.instance): c.status for c in clocks if c.clock != "icpc"}
    assert plan_clocks == {
        ("first_core_group", "p1"): "cancelled", ("first_review_conference", "p1"): "cancelled",
        ("first_core_group", "p2"): "running", ("first_review_conference", "p2"): "running"}
    cancelled = [(t.clock.clock, t.at, t.extra["reason_code"]) for t in history
                 if t.kind == "cancelled"]
    assert sorted(cancelled) == [("first_core_group", ended, "plan_ended"),
                                 ("first_review_conference", ended, "plan_ended")]
    # The other plan's first core group still meets its own clock.
    core = ended + timedelta(days=1)
    clocks, _ = on_event(clocks, event("strategy.core-group.held.v1", core, plan_id="p2",
                                       meeting_id="g1", first=True, held_at=core.isoformat()),
                         rules, pack)
    assert {(c.clock, c.instance): c.status for c in clocks
            if c.clock == "first_core_group"} == {("first_core_group", "p1"): "cancelled",
                                                  ("first_core_group", "p2"): "met"}


def test_a_corrected_contact_time_moves_the_running_contact_clocks_not_the_ended_ones(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    recorded = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    decided = recorded + timedelta(hours=2)
    clocks, history = run([
        event("intake.contact.received.v1", recorded, received_at=recorded.isoformat()),
        event("triage.threshold.decided.v1", decided, decided_at=decided.isoformat(),
              route="nfa"),
        event("intake.contact.time-corrected.v1", decided, received_at=friday.isoformat(),
              previous_received_at=recorded.isoformat()),
    ], rules, pack)
    moved = {t.clock.clock: t for t in history if t.kind == "extended"}
    assert set(moved) == {"referrer_acknowledged", "referrer_outcome"}
    # One working day from Friday: the end of Monday, already past; the timer breaches it.
    assert one(clocks, "referrer_acknowledged").due_at == datetime(2026, 11, 24, tzinfo=UTC)
    assert moved["referrer_acknowledged"].extra["reason_code"] == "calendar_correction"
    decision = one(clocks, "threshold_decision")
    assert (decision.status, decision.started_at) == ("met", recorded)  # its record stands


FEEDBACK = ("referrer_acknowledged", "referrer_outcome")


def test_a_professional_referrer_gets_both_feedback_clocks(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    received = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clocks, _ = run([event("intake.contact.received.v1", received,
                           received_at=received.isoformat(),
                           referrer={"agency": "education", "role": "DSL"})], rules, pack)
    assert {c.clock for c in clocks if c.status == "running"} >= set(FEEDBACK)


def test_a_public_or_anonymous_referrer_starts_no_feedback_clock(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    """Feedback is never sent to the public or an anonymous referrer (intake gives both the
    agency `public`), so no clock waits for it and the dashboard shows no false breach."""
    received = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clocks, history = run([event("intake.contact.received.v1", received,
                                 received_at=received.isoformat(),
                                 referrer={"agency": "public",
                                           "role": "member of the public"})], rules, pack)
    assert not [c for c in clocks if c.clock in FEEDBACK]
    assert one(clocks, "threshold_decision").status == "running"  # the hub's clock runs
    later = datetime(2026, 12, 1, tzinfo=UTC)
    assert not [t for c in clocks for t in due_transitions(c, rules[c.clock], later)[1]
                if c.clock in FEEDBACK]
    assert all(t.clock.clock not in FEEDBACK for t in history)


def test_a_linked_referral_the_hub_created_cancels_its_feedback_clocks(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    received = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clocks, history = run([
        event("intake.contact.received.v1", received, received_at=received.isoformat(),
              referrer={"agency": "health", "role": "Health visitor"}),
        event("intake.linked-referral.created.v1", received,
              link_reason="parent_carer_under_18", created_at=received.isoformat()),
    ], rules, pack)
    for name in FEEDBACK:
        assert one(clocks, name).status == "cancelled"
    cancelled = {t.clock.clock: t.extra["reason_code"] for t in history
                 if t.kind == "cancelled"}
    assert cancelled == {name: "hub_created_linked_referral" for name in FEEDBACK}
    assert one(clocks, "threshold_decision").status == "running"


@pytest.mark.parametrize(("recorded", "really", "on_time"), [
    # Recorded on Tuesday, really a phone call on Friday: the decision was late.
    (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
     False),
    # Friday entered by mistake, really Tuesday: the decision was on time, never a breach.
    (datetime(2026, 11, 20, 15, 0, tzinfo=UTC), datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
     True),
])
def test_a_correction_overtaken_by_the_decision_judges_it_as_if_in_order(
    rules: dict[str, ClockRule], pack: PolicyPack, recorded: datetime, really: datetime,
    on_time: bool,
) -> None:
    corrected_at = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # before the decision
    decided = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    received = event("intake.contact.received.v1", recorded, received_at=recorded.isoformat())
    correction = event("intake.contact.time-corrected.v1", corrected_at,
                       received_at=really.isoformat(),
                       previous_received_at=recorded.isoformat())
    decision = event("triage.threshold.decided.v1", decided, decided_at=decided.isoformat(),
                     route="nfa")
    outcomes = []
    # The correction (intake's topic) and the decision (triage's) reach the timekeeper in
    # either order: the clock ends the same way.
    for order in ([received, correction, decision], [received, decision, correction]):
        clocks, history = run(order, rules, pack)
        clock = one(clocks, "threshold_decision")
        met = [t for t in history if t.kind == "met" and t.clock.clock == "threshold_decision"]
        outcomes.append((clock.status, clock.started_at, clock.due_at, clock.breached,
                         clock.ended_at, met[-1].extra["on_time"]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][1] == really
    assert outcomes[1][3] is (not on_time)
    assert outcomes[1][5] is on_time


def test_a_completion_that_overtakes_the_re_rating_before_it_is_judged_on_the_new_deadline(
    rules: dict[str, ClockRule], pack: PolicyPack,
) -> None:
    decided = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    re_rated = decided + timedelta(hours=1)  # Amber to Red: due 4 hours from then
    completed = decided + timedelta(hours=6)  # after the Red deadline, before the Amber one
    decision = event("triage.threshold.decided.v1", decided, route="mash_enquiries",
                     brag="amber", decided_at=decided.isoformat(),
                     enquiries_due_at=(decided + timedelta(hours=24)).isoformat())
    re_rating = event("triage.case.re-rated.v1", re_rated, previous_brag="amber",
                      new_brag="red", new_route="mash_enquiries",
                      re_rated_at=re_rated.isoformat(),
                      enquiries_due_at=(re_rated + timedelta(hours=4)).isoformat())
    completion = event("enquiries.enquiries.completed.v1", completed,
                       completed_at=completed.isoformat())
    outcomes = []
    # Triage's re-rating and MASH enquiries' completion in either order: late either way.
    for order in ([decision, re_rating, completion], [decision, completion, re_rating]):
        clocks, history = run(order, rules, pack)
        clock = one(clocks, "mash_enquiries")
        met = [t for t in history if t.kind == "met"]
        outcomes.append((clock.status, clock.due_at, clock.breached, clock.brag,
                         met[-1].extra["on_time"]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1] == ("met", re_rated + timedelta(hours=4), True, "red", False)
