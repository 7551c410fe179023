"""Event consumer: envelope and schema checks, inbox de-duplication, retries, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError

from mashcore.bus import Bus
from mashcore.clock import Clock
from mashcore.db import UnitOfWork, unit_of_work
from mashcore.envelope import Event, InvalidEnvelope
from mashcore.inbox import already_processed, record_processed
from mashcore.logging import bind_event_context
from mashcore.messages import Message
from mashcore.schemas import SchemaRegistry, SchemaViolation
from mashcore.topics import dead_letter_topic

log = structlog.get_logger(__name__)

EventHandler = Callable[[Event, UnitOfWork], None]
"""Applies one event inside the consumer's transaction (state, outbox rows, inbox row)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff before an event is dead-lettered."""

    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the given failed attempt (1-based)."""
        return float(min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))


def safe_reason(exc: BaseException) -> str:
    """The exception's type and message, minus SQL parameters and details (they hold data)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        first_line = str(exc.orig).splitlines()[0] if str(exc.orig) else ""
        return f"{type(exc).__name__}: {type(exc.orig).__name__}: {first_line[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


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
    ) -> None:
        self.name = name
        self._engine = engine
        self._bus = bus
        self._registry = registry
        self._clock = clock
        self._handlers = dict(handlers)
        self._retry = retry or RetryPolicy()
        self._on_commit = on_commit

    async def __call__(self, message: Message) -> None:
        """Handle one message; return only when it is processed or dead-lettered."""
        try:
            event = Event.from_message(message)
            handler = self._handlers.get(event.type)
            if handler is None:
                return  # another consumer's event on a shared topic
            self._registry.validate(event.type, event.data)
        except (InvalidEnvelope, SchemaViolation) as exc:
            await self._dead_letter(message, f"invalid event: {exc}")
            return

        bind_event_context(
            event_id=event.id, case_reference=event.subject, correlation_id=event.correlationid
        )
        for attempt in range(1, self._retry.attempts + 1):
            try:
                await asyncio.to_thread(self._apply, event, handler)
                log.info("event processed", consumer=self.name, event_type=event.type)
                return
            except Exception as exc:
                log.warning("event handling failed", consumer=self.name, attempt=attempt,
                            error=type(exc).__name__)
                if attempt == self._retry.attempts:
                    reason = f"handler failed after {attempt} attempts: {safe_reason(exc)}"
                    await self._dead_letter(message, reason)
                    return
                await asyncio.sleep(self._retry.delay(attempt))

    def _apply(self, event: Event, handler: EventHandler) -> None:
        with unit_of_work(self._engine, self._on_commit) as uow:
            if already_processed(uow, self.name, event.id):
                log.info("duplicate delivery skipped", consumer=self.name)
                return
            record_processed(uow, self.name, event.id, event.type, self._clock.now())
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
