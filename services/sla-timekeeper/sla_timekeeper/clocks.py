"""The clock engine, pure: events in, clock transitions out; then, on the clock's own
timer, warnings and breaches. No I/O here, so every rule is tested with a moved clock.

A clock is one statutory timescale for one case (DOMAIN.md §8), or for one thing in it
(one information request, one meeting). For each event, per rule: stops and cancels are
applied first, then pauses and resumes, then re-computations, then starts, then the
national-return starts. So the review
conference that meets one review's clock starts the next one's.

* Start: at the occurrence time the event names (``at``), not when it was recorded: an
  event recorded late computes from when it happened and may be overdue at once. Clocks
  that can run several times on a case are kept per instance (a request, a strategy
  discussion, a plan, an escalation stage), named by the event.
* Correction: the rule's ``correct`` events (a contact's time corrected, a strategy event
  carrying ``corrects``) recompute a running clock of their instance from the corrected
  start (``extended``, reason ``calendar_correction``), and do nothing else. A rule without
  them takes a start for a running clock with a different time as its correction. A
  correction made while a clock still ran that arrives after the clock's stop (another
  topic, not ordered with it) judges the stop again from the corrected start, as if the two
  had arrived in order: ``extended``, then ``met`` again (``breached`` first if now late).
  A correction made after the clock ended leaves its record as it stands. So does a
  re-computation (a re-rating made before the stop, applied after it).
* Due: from the rule's duration on the pack's calendar, or from the start event's
  ``due_field`` when another service already applied the policy (triage's enquiries due
  time, an information request's deadline).
* Re-computation (e.g. a re-rating): a new due time from the event (``extended``).
* National return: where the national return counts from a different moment (the
  ``national_return`` triggers), that start is kept beside the local one; the first wins.
* Stop: ``met``, on time or not. A clock whose due time passed has also had ``breached``.
* Timer: a warning at each ``warn_at`` share of the time (50 % and 75 % by default), then
  the breach at the due time; each once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from mashcore import ids
from mashcore.envelope import parse_time
from mashcore.policy import PolicyPack
from mashcore.policy.model import ClockRule, Trigger

RUNNING, PAUSED, MET, CANCELLED = "running", "paused", "met", "cancelled"
OPEN = (RUNNING, PAUSED)
# A stop whose start has not arrived yet (kept so the start is met at once; never shown).
STOPPED_EARLY = "early_stop"  # (status fits 12 characters)
Kind = Literal["started", "met", "cancelled", "paused", "resumed", "extended", "warned",
               "breached"]


@dataclass(frozen=True)
class Clock:
    """One timescale instance."""

    clock_id: str
    clock: str
    case_reference: str
    instance: str
    partnership: str
    brag: str | None
    agency: str | None
    started_at: datetime
    national_return_started_at: datetime | None
    due_at: datetime
    duration: Mapping[str, Any]
    status: str = RUNNING
    warned: tuple[float, ...] = ()
    breached: bool = False
    paused_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class Transition:
    """Something that happened to a clock, with the clock as it is afterwards."""

    kind: Kind
    clock: Clock
    at: datetime
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Occurrence:
    """The parts of an event the engine reads."""

    type: str
    case_reference: str
    partnership: str
    time: datetime
    data: Mapping[str, Any]


def field_value(data: Mapping[str, Any], name: str) -> Any:
    """The data's field ``name``; a dotted name reads a nested one (``referrer.agency``)."""
    value: Any = data
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _holds(expected: Any, value: Any) -> bool:
    return value in expected if isinstance(expected, list) else value == expected


def matches(trigger: Trigger, event: Occurrence) -> bool:
    if trigger.event != event.type:
        return False
    if any(event.data.get(name) is None for name in trigger.present):
        return False
    if not all(_holds(expected, field_value(event.data, name))
               for name, expected in trigger.when.items()):
        return False
    return not any(_holds(expected, field_value(event.data, name))
                   for name, expected in trigger.unless.items())


def _at(trigger: Trigger, event: Occurrence) -> datetime:
    value = event.data.get(trigger.at) if trigger.at else None
    return parse_time(str(value)) if value else event.time


def _instance(trigger: Trigger, event: Occurrence) -> str | None:
    """The instance the trigger is about; None means every instance of the case (no
    instance field, or the event does not name it). An event naming the first fields of
    several but not the rest (an ICPC held names its strategy discussion, not a child) is
    about every instance they begin: ``m1:`` is each of ``m1:1``, ``m1:2``."""
    if not trigger.instance:
        return None
    names = [trigger.instance] if isinstance(trigger.instance, str) else trigger.instance
    values = [event.data.get(name) for name in names]
    named = list(itertools.takewhile(lambda value: value is not None, values))
    if not named or any(value is not None for value in values[len(named):]):
        return None
    joined = ":".join(str(value) for value in named)
    return joined if len(named) == len(values) else f"{joined}:"


def _is_of(clock_instance: str, instance: str | None) -> bool:
    """Whether a clock's instance is the one (or one of those) an event is about."""
    return (instance is None or clock_instance == instance
            or (instance.endswith(":") and clock_instance.startswith(instance)))


def _due(rule: ClockRule, pack: PolicyPack, start: datetime,
         data: Mapping[str, Any]) -> tuple[datetime, dict[str, Any]]:
    if rule.due_field and data.get(rule.due_field):
        due = parse_time(str(data[rule.due_field]))
        hours = max((due - start).total_seconds() / 3600, 0.001)
        return due, {"amount": round(hours, 3), "unit": "elapsed_hours"}
    if rule.duration is None:
        raise ValueError(f"{rule.clock}: no due time in the event and no duration")
    return pack.due(rule.duration, start), rule.duration.model_dump()


def respan(clock: Clock, started_at: datetime, due_at: datetime, now: datetime) -> Clock:
    """The clock with a new span: a breach stands only if the new due time has passed, and a
    warning only if its point in the new span has (the others are owed again)."""
    span = due_at - started_at
    return replace(clock, started_at=started_at, due_at=due_at,
                   breached=clock.breached and due_at <= now,
                   warned=tuple(s for s in clock.warned if started_at + span * s <= now))


def _brag(rule: ClockRule, data: Mapping[str, Any]) -> str | None:
    fields = [rule.brag_field] if isinstance(rule.brag_field, str) else rule.brag_field or []
    return next((str(data[f]) for f in fields if data.get(f)), None)


def on_event(
    clocks: Iterable[Clock], event: Occurrence, rules: Mapping[str, ClockRule],
    pack: PolicyPack, new_id: Callable[[], str] = ids.new_id,
) -> tuple[list[Clock], list[Transition]]:
    """Apply one event to a case's clocks: the clocks afterwards and what happened."""
    state = {c.clock_id: c for c in clocks if c.case_reference == event.case_reference}
    transitions: list[Transition] = []

    def of_rule(rule: ClockRule, instance: str | None) -> list[Clock]:
        return [c for c in state.values() if c.clock == rule.clock
                and _is_of(c.instance, instance)]

    def open_clocks(rule: ClockRule, instance: str | None) -> list[Clock]:
        return [c for c in of_rule(rule, instance) if c.open]

    def record(kind: Kind, clock: Clock, at: datetime, **extra: Any) -> None:
        state[clock.clock_id] = clock
        transitions.append(Transition(kind, clock, at, extra))

    def meet(clock: Clock, at: datetime) -> None:
        """Stopped at ``at``: a stop after the due time is a breach first, whether or not
        the timer got there before the stop's event did."""
        due = clock.due_at
        if clock.status == PAUSED and clock.paused_at is not None:
            due += max(at - clock.paused_at, timedelta(0))  # paused time does not count
        if at > due and not clock.breached:
            clock = replace(clock, breached=True)
            record("breached", clock, due,
                   overdue_by_seconds=int((at - due).total_seconds()))
        elif at <= due and clock.breached:
            # The timer fired while the stop was still in transit (a consumer backlog): the
            # met event says on time, and the clock no longer counts as breached.
            clock = replace(clock, breached=False)
        record("met", replace(clock, status=MET, ended_at=at), at, on_time=at <= due)

    def fired(triggers: Iterable[Trigger]) -> list[tuple[Trigger, datetime, str | None]]:
        """Each of ``triggers`` this event matches, with when it happened and which
        instance (None: every instance of the case) it is about."""
        return [(t, _at(t, event), _instance(t, event)) for t in triggers if matches(t, event)]

    def correct(rule: ClockRule, clock: Clock, start: datetime) -> None:
        """A corrected start recomputes a running clock (``extended``, calendar_correction):
        from the rule's duration, or, when another service set the due time, keeping it."""
        if clock.started_at == start:
            return
        if rule.duration is None and not event.data.get(rule.due_field or ""):
            due, duration = clock.due_at, clock.duration
        else:
            due, duration = _due(rule, pack, start, event.data)
        record("extended", replace(respan(clock, start, due, event.time), duration=duration),
               event.time, previous_due_at=clock.due_at, new_due_at=due,
               reason_code="calendar_correction", approved_by_role="team_manager")

    def ended_after(rule: ClockRule, instance: str | None, at: datetime) -> bool:
        """A clock of the instance ended after ``at``: an event saying something started
        then is about that clock, whose record stands."""
        return any(c.ended_at is not None and at < c.ended_at for c in of_rule(rule, instance)
                   if c.status in (MET, CANCELLED))

    def overtaken(rule: ClockRule, instance: str | None, at: datetime) -> list[Clock]:
        """Clocks met after ``at``: a change made then, whose event arrives after the stop's
        (another topic, not ordered with it), applies to them as if it had come in order."""
        return [c for c in of_rule(rule, instance)
                if c.status == MET and c.ended_at is not None and c.ended_at > at]

    def judge_again(clock: Clock, change: Callable[[Clock], None]) -> None:
        """``change`` applied to the clock as it was then (running), and, if it moved the
        span, the stop applied again on the new one."""
        assert clock.ended_at is not None
        stopped_at = clock.ended_at
        running = replace(clock, status=PAUSED if clock.paused_at is not None else RUNNING,
                          ended_at=None)
        before = len(transitions)
        change(running)
        if len(transitions) > before:
            meet(state[clock.clock_id], stopped_at)

    for rule in rules.values():
        if event.type not in rule.trigger_events:
            continue  # every step below needs a trigger of the rule to match the event
        corrections = fired(rule.correct)
        if corrections:
            # An explicit correction corrects, and does nothing else to this rule's clocks.
            for _trigger, start, instance in corrections:
                if not ended_after(rule, instance, start):
                    for clock in open_clocks(rule, instance):
                        correct(rule, clock, start)
                def corrected(clock: Clock, rule: ClockRule = rule,
                              start: datetime = start) -> None:
                    correct(rule, clock, start)

                for clock in overtaken(rule, instance, event.time):
                    judge_again(clock, corrected)
            continue
        starts_here = any(matches(t, event) for t in rule.start)
        recomputed = any(matches(t, event) for t in rule.recompute)
        for _trigger, at, instance in fired(rule.stop):
            # A stop earlier than a clock's start is about something before it (e.g. a
            # corrected time of the event that started it), not this clock.
            stoppable = [c for c in open_clocks(rule, instance) if c.started_at <= at]
            for clock in stoppable:
                meet(clock, at)
            ended_since = any(c.ended_at is not None and c.ended_at >= at
                              for c in of_rule(rule, instance) if not c.open)
            if not stoppable and not ended_since and not starts_here:
                # Its start has not arrived yet (another topic, not ordered with this one):
                # kept, so the start, when it comes, is met at once.
                placeholder = Clock(
                    clock_id=new_id(), clock=rule.clock, case_reference=event.case_reference,
                    instance=instance or "", partnership=event.partnership, brag=None,
                    agency=None, started_at=at, national_return_started_at=None, due_at=at,
                    duration={}, status=STOPPED_EARLY, ended_at=at)
                state[placeholder.clock_id] = placeholder
        for trigger, at, instance in fired(rule.cancel):
            for clock in open_clocks(rule, instance):
                record("cancelled", replace(clock, status=CANCELLED, ended_at=at), at,
                       reason_code=trigger.reason_code or "other")
        for trigger, at, instance in fired(rule.pause):
            for clock in open_clocks(rule, instance):
                if clock.status == RUNNING:
                    record("paused", replace(clock, status=PAUSED, paused_at=at), at,
                           reason_code=trigger.reason_code or "other")
        for _trigger, at, instance in fired(rule.resume):
            for clock in open_clocks(rule, instance):
                if clock.status == PAUSED and clock.paused_at is not None:
                    due = clock.due_at + max(at - clock.paused_at, timedelta(0))
                    record("resumed", replace(clock, status=RUNNING, paused_at=None,
                                              due_at=due), at, new_due_at=due)
        for trigger, at, instance in fired(rule.recompute):
            new_due = (parse_time(str(event.data[rule.due_field]))
                       if rule.due_field and event.data.get(rule.due_field) else None)

            def recompute(clock: Clock, trigger: Trigger = trigger, at: datetime = at,
                          new_due: datetime | None = new_due, rule: ClockRule = rule) -> None:
                brag = _brag(rule, event.data) or clock.brag
                if new_due is None or new_due == clock.due_at:
                    state[clock.clock_id] = replace(clock, brag=brag)  # kept, not news
                    return
                record("extended", replace(respan(clock, clock.started_at, new_due, at),
                                           brag=brag), at,
                       previous_due_at=clock.due_at, new_due_at=new_due,
                       reason_code=trigger.reason_code or "other",
                       approved_by_role="team_manager")

            for clock in open_clocks(rule, instance):
                recompute(clock)
            # A re-rating made before the clock's stop but arriving after it (the stop on
            # another topic): the stop is judged on the new due time, as in order.
            for clock in overtaken(rule, instance, at):
                if new_due is not None and new_due != clock.due_at:
                    judge_again(clock, recompute)
        for _trigger, start, matched in fired(rule.start):
            instance = matched or ""
            if ended_after(rule, instance, start):
                continue  # about a clock that has already ended: the record stands
            running = next(iter(open_clocks(rule, instance)), None)
            if running is not None:
                # The same clock again. Where the rule names its corrections, a repeat;
                # otherwise a corrected (earlier or later) start recomputes it; an event
                # that also re-computed it (a re-rating) has said all it had to.
                if not rule.correct and not recomputed:
                    correct(rule, running, start)
                continue
            due, duration = _due(rule, pack, start, event.data)
            early = next((c for c in of_rule(rule, instance)
                          if c.status == STOPPED_EARLY and c.ended_at is not None
                          and c.ended_at >= start), None)
            clock = Clock(
                clock_id=early.clock_id if early else new_id(), clock=rule.clock,
                case_reference=event.case_reference, instance=instance,
                partnership=event.partnership, brag=_brag(rule, event.data),
                agency=str(event.data[rule.agency_field]) if rule.agency_field else None,
                started_at=start, national_return_started_at=None, due_at=due,
                duration=duration)
            record("started", clock, start)
            if early is not None and early.ended_at is not None:
                meet(clock, early.ended_at)
        # Kept, not announced: the clock's later events carry both starts.
        for _trigger, at, instance in fired(rule.national_return):
            for clock in open_clocks(rule, instance):
                if clock.national_return_started_at is None and at != clock.started_at:
                    state[clock.clock_id] = replace(clock, national_return_started_at=at)
    return list(state.values()), transitions


def due_transitions(clock: Clock, rule: ClockRule, now: datetime) -> tuple[Clock,
                                                                            list[Transition]]:
    """What the timer owes a clock at ``now``: warnings, then the breach; each once. A
    clock already past its due time (a backdated event) breaches without late warnings."""
    if clock.status != RUNNING:
        return clock, []
    if now >= clock.due_at:
        if clock.breached:
            return clock, []
        breached = replace(clock, breached=True,
                           warned=tuple(sorted(set(clock.warned) | set(rule.warn_at))))
        overdue = int((now - clock.due_at).total_seconds())
        return breached, [Transition("breached", breached, clock.due_at,
                                     {"overdue_by_seconds": overdue})]
    out: list[Transition] = []
    span = clock.due_at - clock.started_at
    for share in sorted(rule.warn_at):
        point = clock.started_at + span * share
        if share not in clock.warned and now >= point:
            clock = replace(clock, warned=tuple(sorted((*clock.warned, share))))
            out.append(Transition("warned", clock, point,
                                  {"percent_elapsed": round(share * 100, 1)}))
    return clock, out


def next_wake(clock: Clock, rule: ClockRule) -> datetime | None:
    """When the timer next owes this clock something (None: nothing more)."""
    if clock.status != RUNNING or clock.breached:
        return None
    span = clock.due_at - clock.started_at
    points = [clock.started_at + span * s for s in rule.warn_at if s not in clock.warned]
    return min([*points, clock.due_at])
