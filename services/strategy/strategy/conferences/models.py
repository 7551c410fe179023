"""The conferences' tables: each conference, its agency reports, each child's plan.

A conference (an ICPC now; review conferences share the table) is created
``awaiting_schedule`` when a team manager agrees an s47 outcome of continuing risk (one per
s47 discussion and case: a second child of the same discussion joins it), ``scheduled`` and
rescheduled, then ``held`` with a decision per child. A plan is one child's child
protection plan, made at the ICPC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Date, Integer, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column, versioned

_CONFERENCE_VERSION = Column("version", Integer, nullable=False, server_default="1")
_PLAN_VERSION = Column("version", Integer, nullable=False, server_default="1")


class Conference(SQLModel, table=True):
    """One child protection conference; its id is the meeting_id of its events."""

    __tablename__ = "strategy_conference"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_CONFERENCE_VERSION)

    version: int | None = Field(default=None, sa_column=_CONFERENCE_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=20)  # icpc
    conference_kind: str = Field(max_length=20)  # initial | transfer_in
    status: str = Field(max_length=30, index=True)
    s47_strategy_meeting_id: str | None = Field(default=None, max_length=36, index=True)
    s47_started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    transfer_id: str | None = Field(default=None, max_length=36)  # transfer_in: intake's
    due_at: datetime = Field(sa_column=utc_column())
    child_numbers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of ints
    created_at: datetime = Field(sa_column=utc_column())
    # Scheduled (the latest arrangement; sequence counts the invite's versions).
    scheduled_for: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    chaired_by_iro: str | None = Field(default=None, max_length=128)
    invitees: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    family_not_invited_reason: str | None = Field(default=None,
                                                  sa_column=Column(Text, nullable=True))
    sequence: int = -1
    scheduled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # How and where (for the calendar invite): format, end, location or dial-in.
    format: str | None = Field(default=None, max_length=20)
    ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    location: str | None = Field(default=None, max_length=500)
    dial_in: str | None = Field(default=None, max_length=500)
    # Cancelled (conferences.cancellation): when and the reason code; cleared on rescheduling.
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    cancelled_reason: str | None = Field(default=None, max_length=40)
    # Held.
    held_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    attendees: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    decisions: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    decision_summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ConferenceReport(SQLModel, table=True):
    """One agency's written report for a conference: awaited until it is received."""

    __tablename__ = "strategy_conference_report"

    conference_id: str = Field(primary_key=True, max_length=36,
                               foreign_key="strategy_conference.id")
    agency: str = Field(primary_key=True, max_length=40)
    due_at: datetime = Field(sa_column=utc_column())
    received_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    received_by: str | None = Field(default=None, max_length=128)


class ChildProtectionPlan(SQLModel, table=True):
    """One child's child protection plan, made at an ICPC; its id is the plan_id."""

    __tablename__ = "strategy_cp_plan"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_PLAN_VERSION)

    version: int | None = Field(default=None, sa_column=_PLAN_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100, index=True)
    child_number: int
    icpc_id: str = Field(foreign_key="strategy_conference.id", max_length=36)
    status: str = Field(max_length=20, index=True)  # active | ended
    category_of_abuse: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    core_group: str = Field(sa_column=Column(Text, nullable=False))  # JSON participants
    outline_plan: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    first_review_due_on: date = Field(sa_column=Column(Date, nullable=False))
    started_at: datetime = Field(sa_column=utc_column())
    # The child's copy of the plan, in appropriate language: when, in what form.
    copy_given_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    copy_form: str | None = Field(default=None, max_length=30)
    copy_language: str | None = Field(default=None, max_length=40)
    # Reviews and ending.
    next_review_due_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    end_reason: str | None = Field(default=None, max_length=40)
    ended_by_review: str | None = Field(default=None, max_length=36)


class PlanAction(SQLModel, table=True):
    """One action of a plan: what, by whom (role and agency), by when, and its status."""

    __tablename__ = "strategy_cp_plan_action"

    id: str = Field(primary_key=True, max_length=36)
    plan_id: str = Field(foreign_key="strategy_cp_plan.id", max_length=36, index=True)
    what: str = Field(sa_column=Column(Text, nullable=False))
    owner_role: str = Field(max_length=40)
    owner_agency: str | None = Field(default=None, max_length=40)
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(max_length=20)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(sa_column=utc_column())
    updated_at_meeting: str | None = Field(default=None, max_length=36)


_CORE_GROUP_VERSION = Column("version", Integer, nullable=False, server_default="1")


class CoreGroupMeeting(SQLModel, table=True):
    """One core group meeting of a plan: the first chaired by the team manager (within 10
    working days of the ICPC), later ones by the social worker; minutes within 5 working
    days."""

    __tablename__ = "strategy_core_group"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_CORE_GROUP_VERSION)

    version: int | None = Field(default=None, sa_column=_CORE_GROUP_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    plan_id: str = Field(foreign_key="strategy_cp_plan.id", max_length=36, index=True)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100, index=True)
    first: bool
    status: str = Field(max_length=30)  # scheduled | held | minutes_circulated
    scheduled_for: datetime = Field(sa_column=utc_column())
    invitees: str = Field(sa_column=Column(Text, nullable=False))
    sequence: int = 0
    scheduled_at: datetime = Field(sa_column=utc_column())
    # How and where (for the calendar invite): format, end, location or dial-in.
    format: str | None = Field(default=None, max_length=20)
    ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    location: str | None = Field(default=None, max_length=500)
    dial_in: str | None = Field(default=None, max_length=500)
    # Cancelled (conferences.cancellation): when and the reason code; cleared on rescheduling.
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    cancelled_reason: str | None = Field(default=None, max_length=40)
    held_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    chaired_by: str | None = Field(default=None, max_length=128)
    chaired_by_role: str | None = Field(default=None, max_length=20)
    attendees: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    minutes_due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    minutes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    circulated_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


_REVIEW_VERSION = Column("version", Integer, nullable=False, server_default="1")


class ReviewConference(SQLModel, table=True):
    """A review child protection conference of a plan, chaired by an IRO: the first within
    3 months of the ICPC, then at intervals of not more than 6 months."""

    __tablename__ = "strategy_review_conference"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_REVIEW_VERSION)

    version: int | None = Field(default=None, sa_column=_REVIEW_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    plan_id: str = Field(foreign_key="strategy_cp_plan.id", max_length=36, index=True)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100, index=True)
    first: bool
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(max_length=20)  # scheduled | held
    scheduled_for: datetime = Field(sa_column=utc_column())
    chaired_by_iro: str = Field(max_length=128)
    invitees: str = Field(sa_column=Column(Text, nullable=False))
    sequence: int = 0
    scheduled_at: datetime = Field(sa_column=utc_column())
    # How and where (for the calendar invite): format, end, location or dial-in.
    format: str | None = Field(default=None, max_length=20)
    ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    location: str | None = Field(default=None, max_length=500)
    dial_in: str | None = Field(default=None, max_length=500)
    # Cancelled (conferences.cancellation): when and the reason code; cleared on rescheduling.
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    cancelled_reason: str | None = Field(default=None, max_length=40)
    held_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    attendees: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    decision: str | None = Field(default=None, max_length=30)
    category_of_abuse: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_review_due_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
