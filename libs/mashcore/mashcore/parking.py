"""Parked events: an event whose prerequisite has not arrived yet waits here, not in the stream.

A handler raises ``NotYetKnown("contact:<case reference>")`` when the event depends on another
stream's event that this service has not processed yet (a decision about a case whose contact
is still on its way on another topic). The consumer then stores the raw message in the
``parked_event`` table, in its own transaction, and goes on with the partition: one waiting
event never holds up other cases, other partitions or the consumer group.

A parked event is tried again, in arrival order per consumer and case:

- whenever any consumer of the service commits an event for the same case (the prerequisite
  has probably just arrived), right after that commit;
- once right after it is parked: the prerequisite may have been committed by another consumer
  between the handler's look and the parking, and that consumer's retry, run before the row
  existed, found nothing to retry (without this the event would wait for the timer);
- by the service's parking timer (``MASH_PARK_RETRY_SECONDS``), which also dead-letters an
  event still waiting after ``MASH_PARK_MAX_HOURS`` with the reason
  ``prerequisite not arrived: <code>``.

Order per case is kept: while a case has parked events for a consumer, that consumer parks
the case's newer events behind them. Applying a parked event is the ordinary inbox
transaction, so a retry racing another replica's (or a redelivery) has its effect once.
Rows hold codes and the original bytes only: ``waiting_for`` is a code such as
``contact:MASH-2026-00000001``, never personal data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import structlog
from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from mashcore.clock import Clock
from mashcore.db import utc_column
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.tasks import WakeableLoop

if TYPE_CHECKING:
    from mashcore.consumer import EventConsumer

log = structlog.get_logger(__name__)

PREREQUISITE_NOT_ARRIVED = "prerequisite not arrived"


class ParkedEvent(SQLModel, table=True):
    """One event waiting for its prerequisite, with the message exactly as it was read."""

    __tablename__ = "parked_event"
    __table_args__ = (
        UniqueConstraint("consumer", "event_id", name="uq_parked_event_consumer_event"),
        Index("ix_parked_event_case", "consumer", "case_reference", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    consumer: str = Field(max_length=100)
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=200)
    case_reference: str = Field(max_length=64)
    waiting_for: str = Field(max_length=200)
    topic: str = Field(max_length=200)
    source_partition: int | None = None
    source_offset: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    headers: str = Field(sa_column=Column(Text, nullable=False))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    parked_at: datetime = Field(sa_column=utc_column())
    attempts: int = 0
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=300)

    def to_message(self) -> Message:
        """The message as the consumer first read it."""
        headers = tuple((k, v.encode("utf-8")) for k, v in json.loads(self.headers))
        return Message(topic=self.topic, key=self.key, value=self.value, headers=headers,
                       partition=self.source_partition, offset=self.source_offset)


class NotYetKnown(Exception):
    """The event depends on another stream's event that has not been processed yet (e.g. a
    decision about a case whose contact is still on its way on another topic).

    ``waiting_for`` says what it waits for as a code, e.g. ``contact:<case reference>`` (no
    personal data: it is stored, listed by ``mash parked`` and put in dead-letter reasons).
    The consumer parks the event and applies it when the prerequisite arrives.
    """

    def __init__(self, waiting_for: str) -> None:
        super().__init__(waiting_for)
        self.waiting_for = waiting_for


Outcome = Literal["applied", "waiting", "failed"]


@dataclass(frozen=True)
class ParkedView:
    """What ``mash parked`` shows of a parked event: codes, ids and times only."""

    consumer: str
    case_reference: str
    event_type: str
    event_id: str
    waiting_for: str
    parked_at: datetime
    attempts: int
    last_error: str | None


class ParkingLot:
    """The parked events of one service's database, shared by all its consumers.

    Every ``EventConsumer`` of the service registers here, so an event committed by one
    consumer (the contact) releases events parked by another (the decision).
    """

    def __init__(self, engine: Engine, clock: Clock, *,
                 max_age: timedelta = timedelta(hours=24)) -> None:
        self.engine = engine
        self.clock = clock
        self.max_age = max_age
        self._consumers: dict[str, EventConsumer] = {}

    def register(self, consumer: EventConsumer) -> None:
        """A consumer whose parked events this lot retries."""
        self._consumers[consumer.name] = consumer

    @property
    def consumers(self) -> list[str]:
        """The names of the consumers whose parked events this lot retries."""
        return list(self._consumers)

    # -- parking ---------------------------------------------------------------------------

    def waiting_ahead(self, consumer: str, case_reference: str) -> str | None:
        """What the case's earliest parked event for this consumer waits for, if it has one."""
        with Session(self.engine) as session:
            return session.exec(
                select(ParkedEvent.waiting_for)
                .where(ParkedEvent.consumer == consumer,
                       ParkedEvent.case_reference == case_reference)
                .order_by(col(ParkedEvent.id)).limit(1)).first()

    def park(self, consumer: str, message: Message, event: Event, waiting_for: str) -> None:
        """Store the message in its own transaction; parking it twice is parking it once."""
        row = ParkedEvent(
            consumer=consumer, event_id=event.id, event_type=event.type,
            case_reference=event.subject, waiting_for=waiting_for[:200], topic=message.topic,
            source_partition=message.partition, source_offset=message.offset, key=message.key,
            headers=json.dumps([(k, v.decode("utf-8", "replace")) for k, v in message.headers]),
            value=message.value, parked_at=self.clock.now())
        with Session(self.engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a redelivery of an event already parked
                return
        log.info("event parked", consumer=consumer, event_type=event.type,
                 waiting_for=waiting_for)

    # -- retrying --------------------------------------------------------------------------

    async def after_commit(self, case_reference: str) -> int:
        """Retry the case's parked events after an event of the case was committed.

        Never raises: what cannot be applied now stays parked for the timer.
        """
        return await self._retry_quietly(case_reference, count_attempts=True)

    async def after_park(self, case_reference: str) -> int:
        """Retry the case's parked events once right after parking one (see the module's
        docstring: the prerequisite may have arrived meanwhile). Not counted as an attempt:
        the event has only just been parked. Never raises."""
        return await self._retry_quietly(case_reference, count_attempts=False)

    async def _retry_quietly(self, case_reference: str, *, count_attempts: bool) -> int:
        try:
            return await self.retry_case(case_reference, expire=False,
                                         count_attempts=count_attempts)
        except Exception as exc:
            log.warning("parked events not retried; the timer will", error=type(exc).__name__)
            return 0

    async def tick(self) -> int:
        """The timer: retry every parked event, dead-letter those waiting too long.

        Returns how many events were applied or dead-lettered.
        """
        cases = await asyncio.to_thread(self._cases)
        done = 0
        for case_reference in cases:
            done += await self.retry_case(case_reference, expire=True)
        return done

    def loop(self, name: str, interval: float) -> WakeableLoop:
        """The timer as a background loop of the service."""

        async def step() -> bool:
            return await self.tick() > 0

        return WakeableLoop(f"{name}.parking", step, interval)

    async def retry_case(self, case_reference: str, *, expire: bool,
                         count_attempts: bool = True) -> int:
        """Apply the case's parked events in arrival order, per consumer, until one must still
        wait; with ``expire``, one waiting longer than ``max_age`` is dead-lettered instead and
        the next is tried. Repeats while an applied event may release another consumer's."""
        done = 0
        progress = True
        while progress:
            progress = False
            for consumer in list(self._consumers.values()):
                count = await self._retry_queue(consumer, case_reference, expire=expire,
                                                count_attempts=count_attempts)
                if count:
                    done += count
                    progress = True
        return done

    async def _retry_queue(self, consumer: EventConsumer, case_reference: str, *,
                           expire: bool, count_attempts: bool = True) -> int:
        done = 0
        while True:
            row = await asyncio.to_thread(self._head, consumer.name, case_reference)
            if row is None:
                return done
            outcome = await asyncio.to_thread(self._try, consumer, row, count_attempts)
            if outcome == "applied":
                done += 1
                continue
            if expire and row.parked_at <= self.clock.now() - self.max_age:
                await self._expire(consumer.dead_letter, row)
                done += 1
                continue
            return done

    def _cases(self) -> list[str]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(ParkedEvent.case_reference, ParkedEvent.id)
                .where(col(ParkedEvent.consumer).in_(list(self._consumers)))
                .order_by(col(ParkedEvent.id))).all()
        return list(dict.fromkeys(case for case, _id in rows))

    def _head(self, consumer: str, case_reference: str) -> ParkedEvent | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(
                select(ParkedEvent)
                .where(ParkedEvent.consumer == consumer,
                       ParkedEvent.case_reference == case_reference)
                .order_by(col(ParkedEvent.id)).limit(1)).first()

    def _try(self, consumer: EventConsumer, row: ParkedEvent,
             count_attempts: bool = True) -> Outcome:
        from mashcore.consumer import safe_reason

        try:
            # The inbox transaction: a parked event already applied (by another replica, or
            # delivered again) is skipped, and its row removed below all the same.
            consumer.apply(Event.from_message(row.to_message()))
        except NotYetKnown as exc:
            if count_attempts:
                self._note_attempt(row, waiting_for=exc.waiting_for, error=None)
            return "waiting"
        except Exception as exc:
            log.warning("parked event failed", consumer=consumer.name,
                        event_type=row.event_type, error=type(exc).__name__)
            self._note_attempt(row, waiting_for=row.waiting_for, error=safe_reason(exc))
            return "failed"
        self._remove(row)
        log.info("parked event applied", consumer=consumer.name, event_type=row.event_type)
        return "applied"

    def _note_attempt(self, row: ParkedEvent, *, waiting_for: str, error: str | None) -> None:
        with Session(self.engine) as session:
            stored = session.get(ParkedEvent, row.id)
            if stored is None:
                return
            stored.attempts += 1
            stored.last_attempt_at = self.clock.now()
            stored.waiting_for = waiting_for[:200]
            stored.last_error = error[:300] if error else None
            session.add(stored)
            session.commit()

    def _remove(self, row: ParkedEvent) -> None:
        with Session(self.engine) as session:
            session.execute(delete(ParkedEvent).where(col(ParkedEvent.id) == row.id))
            session.commit()

    async def _expire(self, dead_letter: Callable[[Message, str], Awaitable[None]],
                      row: ParkedEvent) -> None:
        """Dead-letter first, then forget: a crash in between dead-letters it twice (harmless,
        a replay is idempotent), never not at all."""
        if row.last_error:
            reason = f"handler failed after {row.attempts + 1} attempts: {row.last_error}"
        else:
            reason = f"{PREREQUISITE_NOT_ARRIVED}: {row.waiting_for}"
        await dead_letter(row.to_message(), reason)
        await asyncio.to_thread(self._remove, row)


def list_parked(engine: Engine) -> list[ParkedView]:
    """Every parked event of one service's database, oldest first (for ``mash parked``)."""
    with Session(engine) as session:
        rows = session.exec(select(ParkedEvent).order_by(col(ParkedEvent.id))).all()
    return [ParkedView(consumer=r.consumer, case_reference=r.case_reference,
                       event_type=r.event_type, event_id=r.event_id, waiting_for=r.waiting_for,
                       parked_at=r.parked_at, attempts=r.attempts, last_error=r.last_error)
            for r in rows]
