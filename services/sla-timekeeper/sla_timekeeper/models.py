"""The timekeeper's table: every clock, open or ended, with when the timer next owes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from mashcore.counters import count_inserts
from mashcore.db import utc_column, versioned
from sla_timekeeper.clocks import OPEN

# The open clocks, however many have ended (one open instance each; the dashboard's and
# /metrics' live counts read them through a partial index). Literal values, not parameters,
# so SQLite can use the index too.
OPEN_ONLY = text("status IN ({})".format(", ".join(f"'{status}'" for status in OPEN)))
OPEN_INDEX = ("ix_sla_clock_open", "clock", "partnership", "brag", "breached", "agency")
ENDED_INDEX = ("ix_sla_clock_status_started", "status", "started_at", "clock", "partnership",
               "agency", "breached")  # the ended clocks by start: the 30-day rates
_VERSION = Column("version", Integer, nullable=False, server_default="1")


class ClockRow(SQLModel, table=True):
    """One statutory timescale instance (sla_timekeeper.clocks.Clock, persisted).

    ``next_wake_at`` is the durable timer: the next warning or the breach, indexed, so a
    restart finds every clock that fell due while the service was down. The version column
    makes each transition happen once with several replicas.
    """

    __tablename__ = "sla_clock"
    __table_args__ = (
        # One open instance of a clock per case and instance (migration 0003).
        Index("ux_sla_clock_one_open", "case_reference", "clock", "instance",
              unique=True, postgresql_where=OPEN_ONLY, sqlite_where=OPEN_ONLY),
        # Both cover what the dashboard and /metrics count (index-only reads).
        Index(*ENDED_INDEX), Index(*OPEN_INDEX, postgresql_where=OPEN_ONLY,
                                   sqlite_where=OPEN_ONLY),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_VERSION)

    version: int | None = Field(default=None, sa_column=_VERSION)
    clock_id: str = Field(primary_key=True, max_length=36)
    clock: str = Field(max_length=40, index=True)
    case_reference: str = Field(max_length=32, index=True)
    instance: str = Field(default="", max_length=64)
    partnership: str = Field(max_length=100, index=True)
    brag: str | None = Field(default=None, max_length=8)
    agency: str | None = Field(default=None, max_length=30)
    started_at: datetime = Field(sa_column=utc_column())
    national_return_started_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True))
    due_at: datetime = Field(sa_column=utc_column())
    duration: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=12, index=True)
    warned: str = Field(default="[]", max_length=100)
    breached: bool = False
    paused_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    next_wake_at: datetime | None = Field(default=None,
                                          sa_column=utc_column(nullable=True, index=True))


class TransitionRow(SQLModel, table=True):
    """One published transition (what its SLA event says, by code): the dashboard counts
    today's breaches, warnings and met deadlines here, in SQL, per partnership."""

    __tablename__ = "sla_transition"
    __table_args__ = (Index("ix_sla_transition_recorded", "recorded_at", "partnership"),)

    id: int | None = Field(default=None, primary_key=True)
    clock_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=12)
    clock: str = Field(max_length=40)
    case_reference: str = Field(max_length=32)
    partnership: str = Field(max_length=100)
    on_time: bool | None = None
    at: datetime = Field(sa_column=utc_column())
    recorded_at: datetime = Field(sa_column=utc_column())


SLA_EVENTS = "sla_events"
# /metrics' SLA events by kind: counted as each transition is recorded, not by grouping them all.
count_inserts(TransitionRow, SLA_EVENTS, lambda row: (row.kind,))
