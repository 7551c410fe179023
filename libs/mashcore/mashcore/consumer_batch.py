"""Batched application of a polled batch (issue 17): many events, one transaction, one commit.

The per-event path (``EventConsumer.__call__``) pays one transaction and one durable commit
per event. Here a poll's records (partition after partition, each in offset order; a case's
events on a topic share a partition) are applied in one transaction:

1. every event is read and checked first; one that cannot be read is dead-lettered, as today;
2. the batch's case locks are taken up front, in sorted order of case reference (see
   *Deadlocks* below);
3. the batch's events already in the inbox are skipped (one query); per event a SAVEPOINT,
   its inbox row and its handler's rows in one flush (a concurrent duplicate fails on the
   inbox's primary key and is skipped); an event that fails rolls back to its savepoint only;
4. one COMMIT; the caller commits the offsets only after it returns.

Step 3 is first tried at once, all in one savepoint: the batch's inbox rows in one
COPY, then each event's handler in turn, flushed after each as above but without a
savepoint of its own; or, for a consumer with a ``BatchHandler`` (the SLA timekeeper's), the
handler's rows in a few statements. Should anything fail there (an event waiting for its
prerequisite among them), that savepoint is rolled back (nothing of it kept) and step 3
runs as above, event by event, in the same transaction and under the same locks.

Order per case is kept: once an event of a case fails or must wait in the batch, the case's
later events in the batch are not applied in it. An event waiting for its prerequisite
(``NotYetKnown``), and the case's later events behind it, are parked *after* the commit, so a
batch rolled back never leaves a parked event ahead of its own predecessor. A failed event,
and the case's later events, then take today's path one by one, in order (retries, then
dead letter). The inbox makes doing again what the batch did harmless.

Deadlocks: two replicas never share a partition, so the only other lock holders are HTTP
commands and timers. Timers only try locks (``try_lock_case``) and never wait. A command
locks its case first thing; taking the batch's locks in one consistent (sorted) order before
anything else means the batch never holds a case lock while waiting for a lock that a
single-case command holds while waiting on the batch. Should PostgreSQL still pick the batch
as a deadlock victim (or a lock time out, or the connection fail), the whole batch is rolled
back and its events take the per-event path: nothing is lost and nothing applied twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Table, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from mashcore.counters import count_rows
from mashcore.db import UnitOfWork, among, insert_rows, unit_of_work
from mashcore.envelope import Event
from mashcore.inbox import InboxRecord, already_processed, record_processed
from mashcore.logging import bind_event_context, clear_event_context
from mashcore.messages import Message
from mashcore.parking import NotYetKnown, ParkedEvent

if TYPE_CHECKING:
    from mashcore.consumer import EventConsumer, EventHandler

log = structlog.get_logger(__name__)
# session.info key: the sorted case references of the batch being applied (handlers may
# prefetch their state in one query; see sla_timekeeper.timekeeper.apply_event).
BATCH_CASES = "mash_batch_cases"


@dataclass
class BatchOutcome:
    """What the batch's transaction did, for the steps after its commit."""

    applied_cases: list[str] = field(default_factory=list)  # distinct, in order
    applied: int = 0
    duplicates: int = 0
    to_park: list[tuple[Message, Event, str]] = field(default_factory=list)
    one_by_one: list[Message] = field(default_factory=list)  # failed, and behind a failure


async def handle_batch(consumer: EventConsumer, messages: Sequence[Message]) -> None:
    """Handle the messages (a poll's, each partition's in offset order); return when every one is
    processed, parked or dead-lettered. Raising means none of them may be taken as done."""
    from mashcore.consumer import safe_reason

    clear_event_context()
    items: list[tuple[Message, Event, EventHandler]] = []
    for message in messages:
        try:
            event = Event.from_message(message)
            handler = consumer._handlers.get(event.type)
            if handler is None:
                continue  # another consumer's event on a shared topic
            consumer._registry.validate(event.type, event.data)
        except Exception as exc:
            await consumer._dead_letter(message, f"invalid event: {safe_reason(exc)}")
            continue
        items.append((message, event, handler))
    if not items:
        return
    try:
        outcome = await asyncio.to_thread(_apply_batch, consumer, items)
    except Exception as exc:
        # Deadlock victim, lock timeout, lost connection, a commit refused: nothing of the
        # batch was committed. Its events take today's path, one by one, in order.
        log.warning("batch not applied; applying its events one by one",
                    consumer=consumer.name, events=len(items), error=type(exc).__name__)
        for message, _event, _handler in items:
            await consumer(message)
        return
    log.info("event batch processed", consumer=consumer.name, applied=outcome.applied,
             duplicates=outcome.duplicates, parked=len(outcome.to_park),
             one_by_one=len(outcome.one_by_one))
    for message, event, waiting_for in outcome.to_park:
        await asyncio.to_thread(consumer.parking.park, consumer.name, message, event,
                                waiting_for)
    # Their prerequisites may have arrived since the handlers looked (another consumer's
    # retry, run before these rows existed, found nothing): one retry per parked case.
    for case_reference in dict.fromkeys(event.subject for _m, event, _w in outcome.to_park):
        await consumer.parking.after_park(case_reference)
    if outcome.applied_cases:
        # The prerequisite of the case's parked events may just have arrived: retried for
        # the cases that have parked events (one query, not one per case).
        for case_reference in await asyncio.to_thread(_with_parked, consumer,
                                                      outcome.applied_cases):
            await consumer.parking.after_commit(case_reference)
    for message in outcome.one_by_one:
        await consumer(message)


def _waiting_ahead(consumer: EventConsumer, uow: UnitOfWork,
                   cases: list[str]) -> dict[str, str]:
    """What each case's earliest parked event for this consumer waits for (one query, in
    the batch's transaction, under its cases' locks: the parking lot is in the service's
    own database)."""
    waiting: dict[str, str] = {}
    rows = uow.session.exec(
        select(ParkedEvent.case_reference, ParkedEvent.waiting_for)
        .where(ParkedEvent.consumer == consumer.name,
               among(col(ParkedEvent.case_reference), cases, uow.session.get_bind().dialect))
        .order_by(col(ParkedEvent.id))).all()
    for case_reference, waiting_for in rows:
        waiting.setdefault(case_reference, waiting_for)
    return waiting


def _with_parked(consumer: EventConsumer, cases: list[str]) -> list[str]:
    """The cases among these with events parked by any consumer of the service."""
    with Session(consumer.parking.engine) as session:
        found = set(session.exec(
            select(ParkedEvent.case_reference).distinct()
            .where(col(ParkedEvent.consumer).in_(list(consumer.parking.consumers)),
                   among(col(ParkedEvent.case_reference), cases,
                         consumer.parking.engine.dialect))).all())
    return [case for case in cases if case in found]


def _lock_cases(uow: UnitOfWork, cases: list[str]) -> None:
    """Every case's lock (as ``UnitOfWork.lock_case`` takes it), in one statement, in the
    sorted order of ``cases`` (one consistent order: see the module's docstring); unnest
    keeps the array's order."""
    if uow.session.connection().dialect.name != "postgresql":
        for case_reference in cases:
            uow.lock_case(case_reference)
        return
    uow.session.execute(text(
        "SELECT count(pg_advisory_xact_lock(hashtextextended('mash-case:' || c, 0))) "
        "FROM unnest(CAST(:cases AS text[])) WITH ORDINALITY AS t(c, n)"), {"cases": cases})


def _apply_batch(consumer: EventConsumer,
                 items: list[tuple[Message, Event, EventHandler]]) -> BatchOutcome:
    cases = sorted({event.subject for _m, event, _h in items})
    outcome = BatchOutcome()
    held_back: set[str] = set()  # cases with a failed event earlier in the batch
    applied_cases: dict[str, None] = {}
    now = consumer._clock.now()
    with unit_of_work(consumer._engine, consumer._on_commit) as uow:
        _lock_cases(uow, cases)
        waiting = _waiting_ahead(consumer, uow, cases)
        # The batch's cases, for a handler that loads their state in one query.
        uow.session.info[BATCH_CASES] = cases
        # The events this consumer has committed already: one query for the whole batch.
        done = set(uow.session.exec(
            select(InboxRecord.event_id).where(
                InboxRecord.consumer == consumer.name,
                among(col(InboxRecord.event_id), [event.id for _m, event, _h in items],
                      uow.session.get_bind().dialect))).all())
        at_once = _apply_at_once(consumer, uow, items, waiting, done, now)
        if at_once is not None:
            uow.commit()
            return at_once
        for message, event, handler in items:
            case = event.subject
            bind_event_context(event_id=event.id, case_reference=case,
                               correlation_id=event.correlationid)
            if case in held_back:
                outcome.one_by_one.append(message)
                continue
            if case in waiting:
                outcome.to_park.append((message, event, waiting[case]))
                continue
            if event.id in done:
                outcome.duplicates += 1  # this consumer already committed this event
                continue
            savepoint = uow.session.begin_nested()
            try:
                # The inbox row goes out with the handler's rows, in one flush.
                record_processed(uow, consumer.name, event.id, event.type, now)
                handler(event, uow)
                uow.session.flush()
            except NotYetKnown as exc:
                savepoint.rollback()
                waiting[case] = exc.waiting_for
                outcome.to_park.append((message, event, exc.waiting_for))
                continue
            except Exception as exc:
                savepoint.rollback()
                if isinstance(exc, IntegrityError) and already_processed(
                        uow, consumer.name, event.id):
                    # Another delivery of it committed while this batch ran (a rebalance).
                    outcome.duplicates += 1
                    continue
                log.warning("event failed in its batch; retried on its own",
                            consumer=consumer.name, error=type(exc).__name__)
                held_back.add(case)
                outcome.one_by_one.append(message)
                continue
            savepoint.commit()
            done.add(event.id)
            outcome.applied += 1
            applied_cases[case] = None
        clear_event_context()
        uow.commit()
    outcome.applied_cases = list(applied_cases)
    return outcome


_INBOX: Table = InboxRecord.__table__  # type: ignore[attr-defined]


def _apply_at_once(consumer: EventConsumer, uow: UnitOfWork,
                   items: list[tuple[Message, Event, EventHandler]], waiting: dict[str, str],
                   done: set[str], now: datetime) -> BatchOutcome | None:
    """The batch's events in one savepoint, instead of a savepoint per event: their inbox
    rows in one COPY, then through the consumer's ``BatchHandler`` when it has one (the
    handler's rows in a few statements); otherwise each event's handler in turn, with a flush
    after each as on the path event by event, so a handler sees the rows of the events
    before it exactly as there (issue 17: the savepoint per event was two round trips
    of the five or six an event takes); or one flush at the end for a consumer whose
    handlers reach the database through the ORM alone (``ConsumerSpec.orm_only``), whose
    queries flush what is pending first. None (nothing of it kept: rolled back to its
    savepoint) when the batch handler does not take an event's type, or anything at all
    fails, a prerequisite not yet known among them; the caller then applies the batch event
    by event as before, in the same transaction, where a failing event is set apart, a
    waiting one parked and a concurrent duplicate skipped. A case with an event parked
    ahead is parked whole, as there; a duplicate is skipped."""
    batch = consumer.batch_handler
    outcome = BatchOutcome()
    events: list[tuple[Event, EventHandler]] = []
    seen = set(done)
    for message, event, handler in items:
        if event.subject in waiting:
            outcome.to_park.append((message, event, waiting[event.subject]))
        elif event.id in seen:
            outcome.duplicates += 1
        elif batch is not None and event.type not in batch.types:
            return None
        else:
            seen.add(event.id)
            events.append((event, handler))
    if not events:
        return None
    savepoint = uow.session.begin_nested()
    try:
        # The batch's inbox rows first, in one COPY: no ORM object each. An event another
        # delivery committed meanwhile fails it on the primary key, and the batch goes event
        # by event, where that event is skipped.
        inbox = [{"consumer": consumer.name, "event_id": event.id,
                  "event_type": event.type, "processed_at": now} for event, _ in events]
        insert_rows(uow, _INBOX, inbox)
        count_rows(uow.session, InboxRecord, inbox)  # /metrics' events handled
        if batch is not None:
            batch.apply([event for event, _ in events], uow)
        else:
            for event, handler in events:
                bind_event_context(event_id=event.id, case_reference=event.subject,
                                   correlation_id=event.correlationid)
                handler(event, uow)
                if consumer.flush_per_event:
                    uow.session.flush()
            clear_event_context()
        uow.session.flush()
    except Exception as exc:
        savepoint.rollback()
        clear_event_context()
        log.info("batch not applied at once; applying it event by event",
                 consumer=consumer.name, events=len(events), error=type(exc).__name__)
        return None
    savepoint.commit()
    outcome.applied = len(events)
    outcome.applied_cases = list(dict.fromkeys(event.subject for event, _ in events))
    return outcome
