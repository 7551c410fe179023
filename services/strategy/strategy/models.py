"""Strategy's tables: what it knows of each case, its strategy discussions and s47 enquiries.

A case may have several discussions, at any time (DOMAIN.md §7). A discussion is
``requested`` (by a threshold decision, a MASH outcome or a practitioner), ``scheduled`` and
rescheduled, possibly ``cancelled`` (and scheduled again), ``held``, then its minutes are
signed off by the chair (``minutes_signed_off``) and circulated (``minutes_circulated``).
A held discussion that decides s47 for a child opens that child's s47 enquiry, unless one
is open already; its outcome is recorded by a social worker and agreed by a team manager.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Integer, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column, versioned

# Optimistic concurrency: of two people changing one discussion or enquiry at the same
# moment exactly one succeeds; the loser's StaleDataError is answered 409.
_DISCUSSION_VERSION = Column("version", Integer, nullable=False, server_default="1")
_S47_VERSION = Column("version", Integer, nullable=False, server_default="1")


class StrategyCase(SQLModel, table=True):
    """The case as strategy needs it, from intake's contact.received."""

    __tablename__ = "strategy_case"

    case_reference: str = Field(primary_key=True, max_length=32)
    partnership: str = Field(max_length=100, index=True)
    children: str = Field(sa_column=Column(Text, nullable=False))  # JSON, in referral order
    referrer_agency: str | None = Field(default=None, max_length=40)
    referrer_role: str | None = Field(default=None, max_length=200)
    restricted: bool = False
    received_at: datetime = Field(sa_column=utc_column())


class CaseAccess(SQLModel, table=True):
    """The named users of a locked-down case (mash.intake.record.locked-down.v1)."""

    __tablename__ = "strategy_case_access"

    case_reference: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=128)


class Discussion(SQLModel, table=True):
    """One strategy discussion or meeting; its id is the meeting_id of its events."""

    __tablename__ = "strategy_discussion"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_DISCUSSION_VERSION)

    version: int | None = Field(default=None, sa_column=_DISCUSSION_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100, index=True)
    status: str = Field(max_length=30, index=True)
    correlation_id: str = Field(default="", max_length=64)
    # Requested.
    trigger: str = Field(max_length=40)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    urgency: str = Field(max_length=30)
    child_numbers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of ints
    follows_meeting_id: str | None = Field(default=None, max_length=36)
    requested_by: str = Field(max_length=128)
    requested_by_role: str = Field(max_length=40)
    requested_by_agency: str = Field(max_length=40)
    requested_at: datetime = Field(sa_column=utc_column())
    # Scheduled (the latest arrangement); sequence counts the calendar invite's versions.
    format: str | None = Field(default=None, max_length=20)
    starts_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    location: str | None = Field(default=None, max_length=500)
    dial_in: str | None = Field(default=None, max_length=500)
    organiser_id: str | None = Field(default=None, max_length=128)
    organiser_role: str | None = Field(default=None, max_length=40)
    chair_id: str | None = Field(default=None, max_length=128)
    invitees: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    referrer_invited: bool = False
    sequence: int = -1
    cancelled_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Held.
    held_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    attendees: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    apologies: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    criminal_investigation: str | None = Field(default=None, max_length=20)
    criminal_investigation_start_by: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True))
    s47_decisions: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    s47_decision_rationale: str | None = Field(default=None, sa_column=Column(Text,
                                                                             nullable=True))
    actions: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    minutes_due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Minutes.
    minutes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    signed_off_by: str | None = Field(default=None, max_length=128)
    signed_off_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    circulated_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class S47Enquiry(SQLModel, table=True):
    """One child's section 47 enquiry, started at the discussion that decided it."""

    __tablename__ = "strategy_s47_enquiry"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_S47_VERSION)

    version: int | None = Field(default=None, sa_column=_S47_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100, index=True)
    child_number: int
    meeting_id: str = Field(foreign_key="strategy_discussion.id", max_length=36)
    started_at: datetime = Field(sa_column=utc_column())
    status: str = Field(max_length=30, index=True)
    outcome: str | None = Field(default=None, max_length=40)
    next_step: str | None = Field(default=None, max_length=40)
    rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_by: str | None = Field(default=None, max_length=128)
    recorded_by_agency: str | None = Field(default=None, max_length=40)
    recorded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    agreed_by: str | None = Field(default=None, max_length=128)
    agreed_by_agency: str | None = Field(default=None, max_length=40)
    agreement_rationale: str | None = Field(default=None, sa_column=Column(Text,
                                                                          nullable=True))
    agreed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


_ESCALATION_VERSION = Column("version", Integer, nullable=False, server_default="1")


class Escalation(SQLModel, table=True):
    """A professional disagreement about a decision on a case, up the partnership's ladder:
    each stage is answered by the practitioner it was escalated to; an unresolved answer may
    be escalated by whoever raised it to the next stage (DOMAIN.md §7, §8)."""

    __tablename__ = "strategy_escalation"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_ESCALATION_VERSION)

    version: int | None = Field(default=None, sa_column=_ESCALATION_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100, index=True)
    about: str = Field(max_length=40)
    raised_by: str = Field(max_length=128)
    raised_by_role: str = Field(max_length=40)
    raised_by_agency: str = Field(max_length=40)
    stage: int
    status: str = Field(max_length=30, index=True)
    summary: str = Field(sa_column=Column(Text, nullable=False))  # the current stage's
    escalated_to: str = Field(sa_column=Column(Text, nullable=False))  # JSON practitioner
    stage_raised_at: datetime = Field(sa_column=utc_column())
    due_at: datetime = Field(sa_column=utc_column())
    history: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON stages
