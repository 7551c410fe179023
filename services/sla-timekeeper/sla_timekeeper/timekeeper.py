"""The timekeeper's service layer: events move clocks; the durable timer fires them; every
transition is published on mash.sla.v1 with no personal data (codes, ids and times only).

A clock's transition and its SLA event commit together (outbox). Events are applied in the
consumer's transaction (inbox: exactly once). The timer claims each clock through its
version column, so with two replicas each warning and breach is published once; after a
restart, every clock whose ``next_wake_at`` passed while the service was down fires at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, select

from mashcore import counters
from mashcore.consumer import BatchHandler, EventHandler
from mashcore.consumer_batch import BATCH_CASES
from mashcore.db import UnitOfWork, among, insert_rows
from mashcore.envelope import Event
from mashcore.policy.model import ClockRule
from mashcore.service import ServiceContext
from mashcore.topics import SLA
from sla_timekeeper import schedule
from sla_timekeeper.clocks import (
    OPEN,
    RUNNING,
    Clock,
    Occurrence,
    Transition,
    due_transitions,
    next_wake,
    respan,
)
from sla_timekeeper.clocks import on_event as engine_on_event
from sla_timekeeper.defaults import default_rules
from sla_timekeeper.models import ClockRow, TransitionRow

BATCH = 1000  # clocks claimed (one query) and fired (one commit) per transaction
SLA_PREFIX = "mash.sla.clock."
RETRY_FAILED = timedelta(minutes=1)
log = structlog.get_logger(__name__)


def rules_for(ctx: ServiceContext, partnership: str) -> dict[str, ClockRule]:
    return default_rules(ctx.policy.for_partnership(partnership))


def to_clock(row: ClockRow) -> Clock:
    return Clock(clock_id=row.clock_id, clock=row.clock, case_reference=row.case_reference,
                 instance=row.instance, partnership=row.partnership, brag=row.brag,
                 agency=row.agency, started_at=row.started_at,
                 national_return_started_at=row.national_return_started_at,
                 due_at=row.due_at, duration=json.loads(row.duration), status=row.status,
                 warned=tuple(json.loads(row.warned)), breached=row.breached,
                 paused_at=row.paused_at, ended_at=row.ended_at)


def _stored(clock: Clock, rule: ClockRule) -> dict[str, Any]:
    """The columns of ``sla_clock`` a clock's state sets."""
    return {"brag": clock.brag, "agency": clock.agency, "started_at": clock.started_at,
            "due_at": clock.due_at,
            "national_return_started_at": clock.national_return_started_at,
            "duration": json.dumps(dict(clock.duration)), "status": clock.status,
            "warned": json.dumps(list(clock.warned)), "breached": clock.breached,
            "paused_at": clock.paused_at, "ended_at": clock.ended_at,
            "next_wake_at": next_wake(clock, rule)}


_STORED = (
    "brag", "agency", "started_at", "due_at", "national_return_started_at", "duration",
    "status", "warned", "breached", "paused_at", "ended_at", "next_wake_at")


def _store(row: ClockRow, clock: Clock, rule: ClockRule) -> None:
    for name, value in _stored(clock, rule).items():
        setattr(row, name, value)


def sla_event_data(transition: Transition) -> tuple[str, dict[str, Any]]:
    """The event type and data for one transition (contracts/events/mash.sla.clock.*)."""
    clock = transition.clock
    data: dict[str, Any] = {
        "clock_id": clock.clock_id, "clock": clock.clock,
        "case_reference": clock.case_reference, "brag": clock.brag,
        "partnership": clock.partnership,
        "agency": clock.agency if clock.clock == "partner_information_request" else None,
        "started_at": clock.started_at.isoformat(),
        "national_return_started_at": (clock.national_return_started_at.isoformat()
                                       if clock.national_return_started_at else None),
        "due_at": clock.due_at.isoformat(), "duration": dict(clock.duration),
    }
    at = transition.at.isoformat()
    extra = transition.extra
    kind = transition.kind
    if kind == "warned":
        data |= {"warned_at": at, "percent_elapsed": extra["percent_elapsed"]}
    elif kind == "breached":
        data |= {"breached_at": at, "overdue_by_seconds": extra["overdue_by_seconds"]}
    elif kind == "met":
        data |= {"met_at": at, "on_time": extra["on_time"]}
    elif kind == "cancelled":
        data |= {"cancelled_at": at, "reason_code": extra["reason_code"]}
    elif kind == "paused":
        data |= {"paused_at": at, "reason_code": extra["reason_code"]}
    elif kind == "resumed":
        data |= {"resumed_at": at, "new_due_at": extra["new_due_at"].isoformat()}
    elif kind == "extended":
        data |= {"extended_at": at, "previous_due_at": extra["previous_due_at"].isoformat(),
                 "new_due_at": extra["new_due_at"].isoformat(),
                 "approved_by_role": extra["approved_by_role"],
                 "reason_code": extra["reason_code"]}
    return f"{SLA_PREFIX}{kind}.v1", data


def publish(ctx: ServiceContext, uow: UnitOfWork, transition: Transition,
            cause: Event | None) -> None:
    now = ctx.clock.now()
    ctx.emit(uow, _sla_event(ctx, transition, cause, now), SLA)
    uow.session.add(TransitionRow(**_transition_row(transition, now)))


def _sla_event(ctx: ServiceContext, transition: Transition, cause: Event | None,
               now: datetime) -> Event:
    event_type, data = sla_event_data(transition)
    if cause is not None:
        return cause.follow_up(type=event_type, source=ctx.source, data=data,
                               recordedtime=now, time=transition.at)
    clock = transition.clock
    return Event(type=event_type, source=ctx.source, subject=clock.case_reference,
                 time=transition.at, recordedtime=now, partnership=clock.partnership,
                 data=data, correlationid=clock.case_reference)


def _rows(ctx: ServiceContext, transitions: Sequence[Transition], cause: Event | None,
          records: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> None:
    """The transitions' outbox rows (their SLA events, validated) and ``sla_transition``
    rows, appended in order: written later in one statement each."""
    for transition in transitions:
        now = ctx.clock.now()
        records.append(ctx.outbox.record(_sla_event(ctx, transition, cause, now), SLA))
        recorded.append(_transition_row(transition, now))


def _transition_row(transition: Transition, now: datetime) -> dict[str, Any]:
    """The columns of one ``sla_transition`` row."""
    clock = transition.clock
    return {"clock_id": clock.clock_id, "kind": transition.kind, "clock": clock.clock,
            "case_reference": clock.case_reference, "partnership": clock.partnership,
            "on_time": transition.extra.get("on_time"), "at": transition.at,
            "recorded_at": now}


def apply_event(ctx: ServiceContext, uow: UnitOfWork, event: Event) -> list[Transition]:
    """One pipeline event moves the case's clocks; the transitions are published."""
    rules = rules_for(ctx, event.partnership)
    rows = {row.clock_id: row for row in _case_clocks(uow, event.subject)}
    occurrence = Occurrence(type=event.type, case_reference=event.subject,
                            partnership=event.partnership, time=event.time, data=event.data)
    before = {clock_id: to_clock(row) for clock_id, row in rows.items()}
    clocks, transitions = engine_on_event(before.values(), occurrence, rules,
                                          ctx.policy.for_partnership(event.partnership))
    for clock in clocks:
        if before.get(clock.clock_id) == clock:
            continue
        row = rows.get(clock.clock_id)
        if row is None:
            row = ClockRow(clock_id=clock.clock_id, clock=clock.clock,
                           case_reference=clock.case_reference, instance=clock.instance,
                           partnership=clock.partnership, started_at=clock.started_at,
                           due_at=clock.due_at, duration="{}", status=clock.status)
        _store(row, clock, rules[clock.clock])
        if clock.clock_id not in rows:
            _remember(uow, row)
        uow.session.add(row)
        schedule.after_commit(ctx, uow, row.next_wake_at)
    for transition in transitions:
        publish(ctx, uow, transition, event)
    return transitions


_PREFETCHED = "sla_clocks_of_batch"


def _case_clocks(uow: UnitOfWork, case_reference: str) -> list[ClockRow]:
    """The case's clocks. In a consumer's batch (issue 17) the clocks of all the batch's
    cases are read in one query, on the first event, instead of one query per event; the
    rows are the session's own, so a later event of the same case sees the earlier one's
    changes. An event rolled back to its savepoint expunges the clocks it added: a case
    whose remembered rows are no longer all in the session is read again."""
    session = uow.session
    cases: list[str] | None = session.info.get(BATCH_CASES)
    if not cases or case_reference not in cases:
        return list(session.exec(select(ClockRow).where(
            ClockRow.case_reference == case_reference)))
    known: dict[str, list[ClockRow]] | None = session.info.get(_PREFETCHED)
    if known is None:
        known = {case: [] for case in cases}
        for row in session.exec(select(ClockRow).where(
                among(col(ClockRow.case_reference), cases, session.get_bind().dialect))):
            known[row.case_reference].append(row)
        session.info[_PREFETCHED] = known
    rows = known[case_reference]
    if not all(row in session for row in rows):
        rows = known[case_reference] = list(session.exec(select(ClockRow).where(
            ClockRow.case_reference == case_reference)))
    return list(rows)


def _remember(uow: UnitOfWork, row: ClockRow) -> None:
    """A clock just started, for the batch's later events of its case."""
    known: dict[str, list[ClockRow]] | None = uow.session.info.get(_PREFETCHED)
    if known is not None and row.case_reference in known:
        known[row.case_reference].append(row)


def apply_events(ctx: ServiceContext, uow: UnitOfWork, events: Sequence[Event]) -> None:
    """A consumer batch's events, in order, with the effects of ``apply_event`` on each in
    turn (issue 17): the clocks of all their cases read in one query and moved in memory
    (a later event of a case sees what the earlier ones did), the warnings and breaches
    their final states already owe fired as the timer would fire them, then written in a few
    statements: new clocks, transitions and outbox rows one COPY each, in the events'
    order; changed clocks one versioned UPDATE (executemany: a clock changed meanwhile
    fails the batch, which the consumer then applies event by event)."""
    cases = sorted({event.subject for event in events})
    rows = {row.clock_id: row for row in uow.session.exec(
        select(ClockRow).where(
            among(col(ClockRow.case_reference), cases, uow.session.get_bind().dialect)))}
    of_case: dict[str, dict[str, Clock]] = {case: {} for case in cases}
    for row in rows.values():
        of_case[row.case_reference][row.clock_id] = to_clock(row)
    moved: dict[str, tuple[Clock, ClockRule]] = {}  # each changed clock's latest state
    records: list[dict[str, Any]] = []
    recorded: list[dict[str, Any]] = []
    for event in events:
        rules = rules_for(ctx, event.partnership)
        before = of_case[event.subject]
        occurrence = Occurrence(type=event.type, case_reference=event.subject,
                                partnership=event.partnership, time=event.time,
                                data=event.data)
        clocks, transitions = engine_on_event(before.values(), occurrence, rules,
                                              ctx.policy.for_partnership(event.partnership))
        after = dict(before)
        for clock in clocks:
            if before.get(clock.clock_id) != clock:
                after[clock.clock_id] = clock
                moved[clock.clock_id] = (clock, rules[clock.clock])
        of_case[event.subject] = after
        _rows(ctx, transitions, event, records, recorded)
    # What the timer would fire the moment this commits (a clock started already owing
    # warnings, or ingested after its due time), fired here from each clock's state at the
    # end of the batch, as the timer would find it: a start and its stop in one batch end
    # met, and nothing is owed. As the timer's, these events follow the batch's own.
    now = ctx.clock.now()
    for clock_id, (clock, rule) in list(moved.items()):
        clock, transitions = _owed(clock, rule, now)
        if not transitions:
            continue
        moved[clock_id] = (clock, rule)
        _rows(ctx, transitions, None, records, recorded)
    started = [{"clock_id": clock.clock_id, "clock": clock.clock,
                "case_reference": clock.case_reference, "instance": clock.instance,
                "partnership": clock.partnership, **_stored(clock, rule)}
               for clock_id, (clock, rule) in moved.items() if clock_id not in rows]
    changed = [{"b_clock_id": clock_id, "b_version": rows[clock_id].version,
                **_stored(clock, rule)}
               for clock_id, (clock, rule) in moved.items() if clock_id in rows]
    _move(uow, changed)
    insert_rows(uow, _CLOCKS, started)
    _record(uow, recorded)
    ctx.outbox.add_many(uow, records)
    wakes = [row["next_wake_at"] for row in (*started, *changed)
             if row["next_wake_at"] is not None]
    schedule.after_commit(ctx, uow, min(wakes, default=None))


def event_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """Every event type any clock rule names (in any partnership's pack)."""
    def handle(event: Event, uow: UnitOfWork) -> None:
        apply_event(ctx, uow, event)

    return dict.fromkeys(_clock_event_types(ctx), handle)


def batch_handler(ctx: ServiceContext) -> BatchHandler:
    """``apply_events`` for a consumer batch of the events ``event_handlers`` handles."""
    return BatchHandler(types=frozenset(_clock_event_types(ctx)),
                        apply=lambda events, uow: apply_events(ctx, uow, events))


def _clock_event_types(ctx: ServiceContext) -> set[str]:
    return {event_type
            for partnership in ctx.policy.partnerships()
            for rule in rules_for(ctx, partnership).values()
            for event_type in rule.trigger_events}


def fire_due_clocks(ctx: ServiceContext, now: datetime | None = None) -> int:
    """The durable timer: publish the warnings and breaches that are due; returns how many
    (the timer calls it again at once while it finds work).

    A batch of due clocks is claimed in one transaction and one query: on PostgreSQL with
    ``FOR UPDATE SKIP LOCKED``, so two replicas take different clocks; the cases' locks are
    tried in one more query, and a clock whose case is being changed (its lock held) is left
    for the next run; everywhere the version column refuses a clock that changed meanwhile.
    Nothing is published twice. Their transitions, outbox rows and new wake times are
    written together, in one commit and a few statements (one INSERT of the transitions,
    one of the outbox rows, one versioned UPDATE executemany of the clocks; the relay then
    publishes them in batches). A clock that cannot be fired never holds up the others:
    one whose transitions cannot be worked out is left out and tried again a minute later;
    should any other part of the batch fail, it is rolled back and fired again one clock
    per savepoint, where the failing clock is logged and tried again a minute later.
    """
    now = now or ctx.clock.now()
    try:
        with ctx.unit_of_work() as uow:
            fired, failed, moved = 0, [], []
            events: list[dict[str, Any]] = []
            recorded: list[dict[str, Any]] = []
            for row in _claim(uow, now):
                # Worked out first (no database, nothing staged): a clock that cannot be
                # worked out (say, its rule gone from the pack) is left out and tried again
                # later, without a savepoint per clock. A failure while staging or writing
                # (an event refused by its contract, a clock changed meanwhile) still rolls
                # the batch back to the clock-by-clock path below.
                try:
                    due = _due(ctx, row, now)
                except Exception:
                    log.exception("clock could not be fired; retrying later",
                                  clock_id=row.clock_id)
                    failed.append(row.clock_id)
                    continue
                rule, clock, transitions = due
                _rows(ctx, transitions, None, events, recorded)
                moved.append({"b_clock_id": row.clock_id, "b_version": row.version,
                              **_stored(clock, rule)})
                fired += len(transitions)
            # The outbox rows and the transitions: one statement each (COPY), in order.
            ctx.outbox.add_many(uow, events)
            _record(uow, recorded)
            _move(uow, moved)
            _retry_later(uow, failed, now)
            uow.commit()
    except Exception:
        # A clock that cannot be fired, or one changed meanwhile: nothing of the batch was
        # written; it is fired again clock by clock.
        return _fire_one_by_one(ctx, now)
    return fired


def _claim(uow: UnitOfWork, now: datetime) -> list[ClockRow]:
    """Up to BATCH due clocks, in one query, whose cases no one else is changing now."""
    query = (select(ClockRow).where(col(ClockRow.next_wake_at) <= now,
                                    col(ClockRow.status) == RUNNING)
             .order_by(col(ClockRow.next_wake_at)).limit(BATCH))
    postgres = uow.session.get_bind().dialect.name == "postgresql"
    if postgres:
        query = query.with_for_update(skip_locked=True)
    rows = list(uow.session.exec(query).all())
    if not postgres or not rows:
        return rows
    # The case locks (as UnitOfWork.try_lock_case takes them), tried all at once: an event
    # (or a command) changing a case now, perhaps stopping this very clock, keeps it; the
    # clock, still due, is looked at on the next run.
    cases = sorted({row.case_reference for row in rows})
    free = set(uow.session.execute(text(
        "SELECT c FROM unnest(CAST(:cases AS text[])) AS c "
        "WHERE pg_try_advisory_xact_lock(hashtextextended('mash-case:' || c, 0))"),
        {"cases": cases}).scalars())
    return [row for row in rows if row.case_reference in free]


_Due = tuple[ClockRule, Clock, list[Transition]]


def _due(ctx: ServiceContext, row: ClockRow, now: datetime) -> _Due:
    """One clock's due transitions, worked out (nothing staged, no database)."""
    rule = rules_for(ctx, row.partnership)[row.clock]
    return rule, *_owed(to_clock(row), rule, now)


def _owed(clock: Clock, rule: ClockRule, now: datetime) -> tuple[Clock, list[Transition]]:
    """The clock's state once its due transitions are fired, and those transitions, each
    carrying that state (as its SLA event does)."""
    clock, transitions = due_transitions(clock, rule, now)
    return clock, [replace(transition, clock=clock) for transition in transitions]


def _stage(ctx: ServiceContext, uow: UnitOfWork, row: ClockRow, due: _Due) -> int:
    """The transitions staged in the session (written by the next flush)."""
    rule, clock, transitions = due
    for transition in transitions:
        publish(ctx, uow, transition, None)
    _store(row, clock, rule)
    return len(transitions)


def _fire(ctx: ServiceContext, uow: UnitOfWork, row: ClockRow, now: datetime) -> int:
    """One clock's due transitions, staged in the session (written by the next flush)."""
    return _stage(ctx, uow, row, _due(ctx, row, now))


_CLOCKS: Table = ClockRow.__table__  # type: ignore[attr-defined]
_MOVE = (update(_CLOCKS)
         .where(_CLOCKS.c.clock_id == bindparam("b_clock_id"),
                _CLOCKS.c.version == bindparam("b_version"))
         .values(version=_CLOCKS.c.version + 1, **{name: bindparam(name) for name in _STORED}))


def _move(uow: UnitOfWork, moved: list[dict[str, Any]]) -> None:
    """The fired clocks' new state, in one statement (executemany of one UPDATE), each
    only if its version is still the one claimed; any other (a clock changed meanwhile)
    fails the batch, which is then fired clock by clock."""
    if not moved:
        return
    connection = uow.session.connection()
    result = connection.execute(_MOVE, moved)
    if connection.dialect.supports_sane_multi_rowcount and result.rowcount != len(moved):
        raise StaleDataError(f"{len(moved) - result.rowcount} clocks changed meanwhile")
    # The session's copies are stale now: read again if anything looks at them.
    for row in uow.session.identity_map.values():
        if isinstance(row, ClockRow):
            uow.session.expire(row)


_TRANSITIONS: Table = TransitionRow.__table__  # type: ignore[attr-defined]


def _record(uow: UnitOfWork, recorded: list[dict[str, Any]]) -> None:
    """The fired transitions (``sla_transition``), in one statement (COPY on PostgreSQL),
    counted for ``/metrics`` as the ORM's inserts are (``mashcore.counters``)."""
    insert_rows(uow, _TRANSITIONS, recorded)
    counters.count_rows(uow.session, TransitionRow, recorded)


def _retry_later(uow: UnitOfWork, failed: list[str], now: datetime) -> None:
    if failed:
        uow.session.execute(update(ClockRow).where(col(ClockRow.clock_id).in_(failed))
                            .values(next_wake_at=now + RETRY_FAILED))


def _fire_one_by_one(ctx: ServiceContext, now: datetime) -> int:
    """The batch again, each clock in its own savepoint: one that changed meanwhile is
    skipped, one that fails is tried again later, and neither holds up the others."""
    fired = 0
    with ctx.unit_of_work() as uow:
        failed: list[str] = []
        for row in _claim(uow, now):
            clock_id = row.clock_id
            try:
                with uow.session.begin_nested():
                    fired += _fire(ctx, uow, row, now)
            except StaleDataError:
                continue  # another replica fired it (or an event moved it) meanwhile
            except Exception:
                log.exception("clock could not be fired; retrying later", clock_id=clock_id)
                failed.append(clock_id)
        _retry_later(uow, failed, now)
        uow.commit()
    return fired


def run_timer(ctx: ServiceContext) -> int:
    """The service's timer: fire what is due, then read when the next clock falls due (the
    loop sleeps until then; see sla_timekeeper.schedule)."""
    fired = fire_due_clocks(ctx)
    schedule.schedule_for(ctx).refresh(ctx)
    return fired


class ClockNotOpen(Exception):
    """The clock has ended (met or cancelled): there is nothing to extend."""


def extend(ctx: ServiceContext, uow: UnitOfWork, row: ClockRow, *, new_due_at: datetime,
           reason_code: str, approved_by_role: str) -> Transition:
    """An approved extension (who by role, why by code): the clock's new due time. A clock
    that had breached and is now due later can breach again at its new due time, and the
    warnings are owed again at their points in the longer span."""
    if row.status not in OPEN:
        raise ClockNotOpen(row.clock_id)
    rule = rules_for(ctx, row.partnership)[row.clock]
    clock = to_clock(row)
    now = ctx.clock.now()
    extended = respan(clock, clock.started_at, new_due_at, now)
    transition = Transition("extended", extended, now, {
        "previous_due_at": clock.due_at, "new_due_at": new_due_at,
        "reason_code": reason_code, "approved_by_role": approved_by_role})
    _store(row, extended, rule)
    uow.session.add(row)
    schedule.after_commit(ctx, uow, row.next_wake_at)
    publish(ctx, uow, transition, None)
    return transition
