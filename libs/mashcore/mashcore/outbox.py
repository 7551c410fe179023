"""Transactional outbox: events are rows written in the same transaction as the state change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, Table, Text, text
from sqlmodel import Field, SQLModel

from mashcore.db import UnitOfWork, utc_column
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.schemas import SchemaRegistry
from mashcore.staged import stage
from mashcore.topics import TopicNamer


class OutboxRecord(SQLModel, table=True):
    """An event waiting to be published (published_at is null) or already published."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Sent rows by age, for the retention purge.
        Index("ix_outbox_unpublished", "published_at", "id"),
        # The relay's queue: the unsent rows in id order (mashcore.relay).
        Index("ix_outbox_pending", "id", postgresql_where=text("published_at IS NULL"),
              sqlite_where=text("published_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    event_type: str = Field(max_length=200)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    headers: str = Field(sa_column=Column(Text, nullable=False))
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=utc_column())
    published_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True)
    )

    def to_message(self) -> Message:
        """The message the relay publishes."""
        return message_of(self.topic, self.key, self.headers, self.payload)


def message_of(topic: str, key: str, headers: str, payload: bytes) -> Message:
    """The message an outbox row's columns make (what the relay publishes)."""
    return Message(topic=topic, key=key.encode("utf-8"), value=payload,
                   headers=tuple((k, v.encode("utf-8")) for k, v in json.loads(headers)))


class Outbox:
    """Writes validated events into the current unit of work."""

    def __init__(self, registry: SchemaRegistry, topic_name: TopicNamer) -> None:
        self._registry = registry
        self._topic_name = topic_name

    def add(self, uow: UnitOfWork, event: Event, topic: str) -> None:
        """Validate the event against its contract and stage it in the transaction: its
        row is written when the transaction commits (``mashcore.staged``)."""
        stage(uow.session, _OUTBOX, [self.record(event, topic)])
        uow.outbox_written = True

    def record(self, event: Event, topic: str) -> dict[str, Any]:
        """The outbox row of an event (validated against its contract), for add_many."""
        self._registry.validate(event.type, event.data)
        message = event.to_message(self._topic_name(topic))
        return {
            "event_id": event.id,
            "event_type": event.type,
            "topic": message.topic,
            "key": event.subject,
            "headers": json.dumps([(k, v.decode("utf-8")) for k, v in message.headers]),
            "payload": message.value,
            "created_at": event.recordedtime,
        }

    def add_many(self, uow: UnitOfWork, records: Sequence[dict[str, Any]]) -> None:
        """Rows made by ``record``, staged after the events staged before them (their ids,
        the relay's order, follow the order of staging): a batch of events without an ORM
        object each; from ``staged.COPY_FROM`` rows, PostgreSQL gets them in a COPY."""
        if not records:
            return
        stage(uow.session, _OUTBOX, records)
        uow.outbox_written = True


_OUTBOX: Table = OutboxRecord.__table__  # type: ignore[attr-defined]
