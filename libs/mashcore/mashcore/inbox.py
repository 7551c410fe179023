"""Inbox: the ids of events a consumer has processed, written in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from mashcore.counters import EVENTS_HANDLED, count_inserts
from mashcore.db import UnitOfWork, utc_column


class InboxRecord(SQLModel, table=True):
    """One processed event per consumer; the primary key makes redelivery harmless."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=200)
    processed_at: datetime = Field(sa_column=utc_column(index=True))  # retention purge


# /metrics' events handled: counted as each row is written, not by grouping the whole inbox.
count_inserts(InboxRecord, EVENTS_HANDLED, lambda row: (row.consumer, row.event_type))


def already_processed(uow: UnitOfWork, consumer: str, event_id: str) -> bool:
    """True if this consumer has already committed the effects of this event."""
    return uow.session.get(InboxRecord, (consumer, event_id)) is not None


def record_processed(
    uow: UnitOfWork, consumer: str, event_id: str, event_type: str, at: datetime
) -> None:
    """Stage the inbox row; a concurrent duplicate fails the transaction on the primary key."""
    uow.session.add(
        InboxRecord(consumer=consumer, event_id=event_id, event_type=event_type, processed_at=at)
    )


def claim(uow: UnitOfWork, consumer: str, event_id: str, event_type: str, at: datetime) -> bool:
    """Write the inbox row now; False (the transaction rolled back) if this consumer has
    already committed this event. One statement per event, where a look-up followed by the
    insert took two: the primary key decides, and a concurrent delivery of the same event
    waits on it until the first commits or rolls back."""
    record_processed(uow, consumer, event_id, event_type, at)
    try:
        uow.session.flush()
    except IntegrityError:
        uow.session.rollback()
        return False
    return True
