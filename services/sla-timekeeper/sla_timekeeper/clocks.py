"""The clock engine, pure: events in, clock transitions out; then, on the clock's own
timer, warnings and breaches. No I/O here, so every rule is tested with a moved clock.

A clock is one statutory timescale for one case (DOMAIN.md §8), or for one thing in it
(one information request, one meeting). For each event, per rule: stops and cancels are
applied first, then pauses and resumes, then re-computations, then starts. So the review
conference that meets one review's clock starts the next one's.

* Start: at the occurrence time the event names (``at``), not when it was recorded: an
  event recorded late computes from when it happened and may be overdue at once. A start
  for a clock already running with a different occurrence time is a correction: the
  clock is recomputed from the corrected time (``extended``, reason ``calendar_correction``).
* Due: from the rule's duration on the pack's calendar, or from the start event's
  ``due_field`` when another service already applied the policy (triage's enquiries due
  time, an information request's deadline).
* Re-computation (e.g. a re-rating): a new due time from the event (``extended``).
* Stop: ``met``, on time or not. A clock whose due time passed has also had ``breached``.
* Timer: a warning at each ``warn_at`` share of the time (50 % and 75 % by default), then
  the breach at the due time; each once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from mashcore.envelope import parse_time
from mashcore.policy import PolicyPack
from mashcore.policy.model import ClockRule, Trigger

RUNNING, PAUSED, MET, CANCELLED = "running", "paused", "met", "cancelled"
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
        return self.status in (RUNNING, PAUSED)


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


def matches(trigger: Trigger, event: Occurrence) -> bool:
    if trigger.event != event.type:
        return False
    for name, expected in trigger.when.items():
        value = event.data.get(name)
        if isinstance(expected, list):
            if value not in expected:
                return False
        elif value != expected:
            return False
    return True


def _at(trigger: Trigger, event: Occurrence) -> datetime:
    value = event.data.get(trigger.at) if trigger.at else None
    return parse_time(str(value)) if value else event.time


def _instance(trigger: Trigger, event: Occurrence) -> str | None:
    """The instance the trigger is about; None means every instance of the case."""
    return str(event.data[trigger.instance]) if trigger.instance else None


def _due(rule: ClockRule, pack: PolicyPack, start: datetime,
         data: Mapping[str, Any]) -> tuple[datetime, dict[str, Any]]:
    if rule.due_field and data.get(rule.due_field):
        due = parse_time(str(data[rule.due_field]))
        hours = max((due - start).total_seconds() / 3600, 0.001)
        return due, {"amount": round(hours, 3), "unit": "elapsed_hours"}
    if rule.duration is None:
        raise ValueError(f"{rule.clock}: no due time in the event and no duration")
    return pack.due(rule.duration, start), rule.duration.model_dump()


def on_event(
    clocks: Iterable[Clock], event: Occurrence, rules: Mapping[str, ClockRule],
    pack: PolicyPack, new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[list[Clock], list[Transition]]:
    """Apply one event to a case's clocks: the clocks afterwards and what happened."""
    state = {c.clock_id: c for c in clocks if c.case_reference == event.case_reference}
    transitions: list[Transition] = []

    def open_clocks(rule: ClockRule, instance: str | None) -> list[Clock]:
        return [c for c in state.values() if c.clock == rule.clock and c.open
                and (instance is None or c.instance == instance)]

    def record(kind: Kind, clock: Clock, at: datetime, **extra: Any) -> None:
        state[clock.clock_id] = clock
        transitions.append(Transition(kind, clock, at, extra))

    for rule in rules.values():
        for trigger in rule.stop:
            if matches(trigger, event):
                at = _at(trigger, event)
                for clock in open_clocks(rule, _instance(trigger, event)):
                    record("met", replace(clock, status=MET, ended_at=at), at,
                           on_time=at <= clock.due_at)
        for trigger in rule.cancel:
            if matches(trigger, event):
                at = _at(trigger, event)
                for clock in open_clocks(rule, _instance(trigger, event)):
                    record("cancelled", replace(clock, status=CANCELLED, ended_at=at), at,
                           reason_code=trigger.reason_code or "other")
        for trigger in rule.pause:
            if matches(trigger, event):
                at = _at(trigger, event)
                for clock in open_clocks(rule, _instance(trigger, event)):
                    if clock.status == RUNNING:
                        record("paused", replace(clock, status=PAUSED, paused_at=at), at,
                               reason_code=trigger.reason_code or "other")
        for trigger in rule.resume:
            if matches(trigger, event):
                at = _at(trigger, event)
                for clock in open_clocks(rule, _instance(trigger, event)):
                    if clock.status == PAUSED and clock.paused_at is not None:
                        due = clock.due_at + max(at - clock.paused_at, timedelta(0))
                        record("resumed", replace(clock, status=RUNNING, paused_at=None,
                                                  due_at=due), at, new_due_at=due)
        for trigger in rule.recompute:
            if matches(trigger, event):
                at = _at(trigger, event)
                for clock in open_clocks(rule, _instance(trigger, event)):
                    brag = event.data.get("new_brag") or clock.brag
                    if not (rule.due_field and event.data.get(rule.due_field)):
                        continue
                    due = parse_time(str(event.data[rule.due_field]))
                    if due != clock.due_at:
                        record("extended", replace(clock, due_at=due, brag=brag,
                                                   breached=clock.breached and due <= at), at,
                               previous_due_at=clock.due_at, new_due_at=due,
                               reason_code="other", approved_by_role="team_manager")
        for trigger in rule.start:
            if not matches(trigger, event):
                continue
            start = _at(trigger, event)
            instance = _instance(trigger, event) or ""
            due, duration = _due(rule, pack, start, event.data)
            running = next(iter(open_clocks(rule, instance)), None)
            if running is not None:
                if running.started_at != start:  # a corrected (earlier or later) start
                    record("extended", replace(running, started_at=start, due_at=due,
                                               duration=duration), start,
                           previous_due_at=running.due_at, new_due_at=due,
                           reason_code="calendar_correction",
                           approved_by_role="team_manager")
                continue
            national = (parse_time(str(event.data[rule.national_return_at]))
                        if rule.national_return_at and event.data.get(rule.national_return_at)
                        else None)
            clock = Clock(
                clock_id=new_id(), clock=rule.clock, case_reference=event.case_reference,
                instance=instance, partnership=event.partnership,
                brag=str(event.data[rule.brag_field]) if rule.brag_field
                and event.data.get(rule.brag_field) else None,
                agency=str(event.data[rule.agency_field]) if rule.agency_field else None,
                started_at=start, national_return_started_at=national, due_at=due,
                duration=duration)
            record("started", clock, start)
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
