"""Event consumer: envelope and schema checks, inbox de-duplication, retries, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.orm.exc import StaleDataError

from mashcore.bus import Bus
from mashcore.clock import Clock
from mashcore.consumer_batch import handle_batch
from mashcore.db import UnitOfWork, is_postgres, unit_of_work
from mashcore.envelope import Event, InvalidEnvelope
from mashcore.inbox import already_processed, claim
from mashcore.logging import bind_event_context, clear_event_context
from mashcore.messages import Message
from mashcore.parking import NotYetKnown, ParkingLot
from mashcore.schemas import SchemaRegistry, SchemaViolation
from mashcore.topics import dead_letter_topic

log = structlog.get_logger(__name__)

EventHandler = Callable[[Event, UnitOfWork], None]
"""Applies one event inside the consumer's transaction (state, outbox rows, inbox row)."""


@dataclass(frozen=True)
class BatchHandler:
    """Applies a batch's events of ``types`` at once, in order, inside the consumer's
    transaction, with the same effects as their handlers applied one after the other
    (mashcore/consumer_batch.py; issue 17). Raising anything means none of it happened: the
    batch is then applied event by event, each in its savepoint, as without it."""

    types: Collection[str]
    apply: Callable[[Sequence[Event], UnitOfWork], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts; a failing handler is dead-lettered after ``attempts``.

    Transient infrastructure failures do not count towards ``attempts``: they are retried,
    with the delay capped at ``max_delay``, until the infrastructure is back.
    """

    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the given failed attempt (1-based).

        The exponent is capped: ``2 ** 1024`` does not fit in a float, and an outage of an
        hour and a half reaches attempt 1,025.
        """
        exponent = min(max(attempt - 1, 0), 64)
        return float(min(self.max_delay, self.first_delay * 2.0 ** exponent))


def safe_reason(exc: BaseException) -> str:
    """Why processing failed, without anything that could be personal data.

    Our own envelope and schema errors name fields and rules, never values, so their text is
    kept. Any other exception is reduced to its class names: driver and library messages can
    quote the data (SQL parameters, "invalid input syntax ... 'Sam Example'").
    """
    if isinstance(exc, (InvalidEnvelope, SchemaViolation)):
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    if isinstance(exc, StatementError) and exc.orig is not None:
        return f"{type(exc).__name__}: {type(exc.orig).__name__}"
    return type(exc).__name__


__all__ = ["BatchHandler", "EventConsumer", "EventHandler", "NotYetKnown", "RetryPolicy",
           "is_transient", "safe_reason"]

_TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, TimeoutError,
              ConnectionError, NotYetKnown,
              # An API request changed the same row at the same moment: try again.
              StaleDataError)


def is_transient(exc: BaseException) -> bool:
    """True for failures of the infrastructure rather than of the event or the handler."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _TRANSIENT)


class EventConsumer:
    """Turns bus messages into handled events, exactly once in effect."""

    def __init__(
        self,
        *,
        name: str,
        engine: Engine,
        bus: Bus,
        registry: SchemaRegistry,
        clock: Clock,
        handlers: Mapping[str, EventHandler],
        retry: RetryPolicy | None = None,
        on_commit: Callable[[], None] | None = None,
        parking: ParkingLot | None = None,
        batch_size: int = 1,
        batch_handler: BatchHandler | None = None,
        flush_per_event: bool = True,
    ) -> None:
        self.name = name
        self._engine = engine
        self._bus = bus
        self._registry = registry
        self._clock = clock
        self._handlers = dict(handlers)
        self._retry = retry or RetryPolicy()
        self._on_commit = on_commit
        # Events waiting for a prerequisite; shared by the service's consumers (service.py).
        self.parking = parking or ParkingLot(engine, clock)
        self.parking.register(self)
        # Events applied per transaction by a subscription that polls batches (Kafka), on
        # PostgreSQL: mashcore/consumer_batch.py. 1 = one transaction per event.
        self.batch_size = max(1, batch_size) if is_postgres(engine) else 1
        # Optional: applies a whole batch without a savepoint and a flush per event.
        self.batch_handler = batch_handler
        # False: a batch applied at once is flushed once, at its end (ConsumerSpec.orm_only).
        self.flush_per_event = flush_per_event

    async def handle_batch(self, messages: Sequence[Message]) -> None:
        """Handle a poll's messages (partition after partition, each in offset order),
        ``batch_size`` per transaction at most (the subscription hands over no more); return
        when every one is done with."""
        if self.batch_size <= 1 or len(messages) <= 1:
            for message in messages:
                await self(message)
            return
        await handle_batch(self, messages)

    async def __call__(self, message: Message) -> None:
        """Handle one message; return only when it is processed or dead-lettered.

        Infrastructure failures (the database or network unavailable) are retried for as long
        as they last: dead-lettering a referral because PostgreSQL failed over for a few
        seconds would lose it. Only failures of the event itself, or of the handler's logic
        after the bounded retries, are dead-lettered.
        """
        clear_event_context()
        try:
            event = Event.from_message(message)
            handler = self._handlers.get(event.type)
            if handler is None:
                return  # another consumer's event on a shared topic
            self._registry.validate(event.type, event.data)
        except Exception as exc:
            # Anything that stops an event being read is poison: never block the partition.
            await self._dead_letter(message, f"invalid event: {safe_reason(exc)}")
            return

        bind_event_context(
            event_id=event.id, case_reference=event.subject, correlation_id=event.correlationid
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                applied = await asyncio.to_thread(self._apply_or_park, message, event, handler)
                if applied:
                    log.info("event processed", consumer=self.name, event_type=event.type)
                    # The prerequisite of the case's parked events may just have arrived.
                    await self.parking.after_commit(event.subject)
                else:
                    # Parked: its prerequisite may have arrived since the handler looked.
                    await self.parking.after_park(event.subject)
                return
            except Exception as exc:
                transient = is_transient(exc)
                log.warning("event handling failed", consumer=self.name, attempt=attempt,
                            error=type(exc).__name__, transient=transient)
                if not transient and attempt >= self._retry.attempts:
                    reason = f"handler failed after {attempt} attempts: {safe_reason(exc)}"
                    await self._dead_letter(message, reason)
                    return
                await asyncio.sleep(self._retry.delay(attempt))

    def _apply_or_park(self, message: Message, event: Event, handler: EventHandler) -> bool:
        """Apply the event, or park it (True only when applied). It is parked when its
        handler says a prerequisite has not arrived, or behind the case's events already
        parked for this consumer (order per case)."""
        waiting_for = self.parking.waiting_ahead(self.name, event.subject)
        if waiting_for is None:
            try:
                self._apply(event, handler)
                return True
            except NotYetKnown as exc:
                waiting_for = exc.waiting_for
        self.parking.park(self.name, message, event, waiting_for)
        return False

    def apply(self, event: Event) -> None:
        """Apply one (parked) event in the inbox transaction; NotYetKnown if it must wait."""
        handler = self._handlers.get(event.type)
        if handler is not None:
            self._apply(event, handler)

    async def dead_letter(self, message: Message, reason: str) -> None:
        """Dead-letter a message this consumer gave up on (e.g. parked for too long)."""
        await self._dead_letter(message, reason)

    def _apply(self, event: Event, handler: EventHandler) -> None:
        with unit_of_work(self._engine, self._on_commit) as uow:
            # One writer per case: events and commands about this case wait for each other.
            uow.lock_case(event.subject)
            if not claim(uow, self.name, event.id, event.type, self._clock.now()):
                log.info("duplicate delivery skipped", consumer=self.name)
                return
            handler(event, uow)
            try:
                uow.commit()
            except IntegrityError:
                # A concurrent delivery of the same event committed first: that is success.
                uow.session.rollback()
                if already_processed(uow, self.name, event.id):
                    return
                raise

    async def _dead_letter(self, message: Message, reason: str) -> None:
        """Publish the original bytes to the dead-letter topic with why and where from."""
        headers = (
            *message.headers,
            ("dlq_reason", reason.encode("utf-8")),
            ("dlq_consumer", self.name.encode("utf-8")),
            ("dlq_original_topic", message.topic.encode("utf-8")),
            ("dlq_original_partition", str(message.partition).encode("utf-8")),
            ("dlq_original_offset", str(message.offset).encode("utf-8")),
            ("dlq_failed_at", self._clock.now().isoformat().encode("utf-8")),
        )
        await self._bus.publish(
            [Message(topic=dead_letter_topic(message.topic), key=message.key,
                     value=message.value, headers=headers)]
        )
        log.error("event dead-lettered", consumer=self.name, topic=message.topic,
                  partition=message.partition, offset=message.offset, reason=reason)
