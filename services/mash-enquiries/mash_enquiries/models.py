"""MASH enquiries' tables: what it knows of each case, episodes and information requests.

An episode is opened by a threshold decision routed to MASH enquiries (DOMAIN.md §2). It
holds one information request per partner agency. A request is ``pending`` until its
agency's navigator answers (``answered``) or declines (``declined``); an answer after the
deadline is accepted and flagged ``late``. The episode is ``open`` until a team manager
records the outcome (``decided``), after all requests are in or after closing early.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Integer, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column, versioned

_EPISODE_VERSION = Column("version", Integer, nullable=False, server_default="1")
_REQUEST_VERSION = Column("version", Integer, nullable=False, server_default="1")


class CaseRecord(SQLModel, table=True):
    """The people partner agencies search for, from intake's contact.received."""

    __tablename__ = "enquiry_case"

    case_reference: str = Field(primary_key=True, max_length=32)
    partnership: str = Field(max_length=100)
    children: str = Field(sa_column=Column(Text, nullable=False))
    family: str = Field(sa_column=Column(Text, nullable=False))
    postcode: str | None = Field(default=None, max_length=10)
    address: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    restricted: bool = False
    received_at: datetime = Field(sa_column=utc_column())
    # From triage's decisions: the basis on which information about the family is shared.
    sharing_basis: str = Field(default="consent", max_length=40)


class CaseAccess(SQLModel, table=True):
    """The named users of a locked-down case (mash.intake.record.locked-down.v1)."""

    __tablename__ = "enquiry_case_access"

    case_reference: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=128)


class Episode(SQLModel, table=True):
    """One case's MASH enquiries, from the threshold decision to the manager's outcome."""

    __tablename__ = "enquiry_episode"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_EPISODE_VERSION)

    version: int | None = Field(default=None, sa_column=_EPISODE_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(unique=True, max_length=32)
    partnership: str = Field(max_length=100, index=True)
    brag: str = Field(max_length=8)
    status: str = Field(max_length=20, index=True)  # open | decided | withdrawn
    opened_at: datetime = Field(sa_column=utc_column())
    opened_by: str = Field(max_length=128)
    due_at: datetime = Field(sa_column=utc_column())
    sharing_basis: str = Field(max_length=40)
    completed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_early: bool = False
    closed_early_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outcome: str | None = Field(default=None, max_length=30)
    outcome_rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    early_help_destination: str | None = Field(default=None, max_length=30)
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class InformationRequest(SQLModel, table=True):
    """One question to one partner agency's navigators, and their answer."""

    __tablename__ = "information_request"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_REQUEST_VERSION)

    version: int | None = Field(default=None, sa_column=_REQUEST_VERSION)
    id: str = Field(primary_key=True, max_length=36)
    episode_id: str = Field(foreign_key="enquiry_episode.id", index=True, max_length=36)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100)
    agency: str = Field(max_length=30, index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    subjects: str = Field(sa_column=Column(Text, nullable=False))
    brag: str = Field(max_length=8)
    sharing_basis: str = Field(max_length=40)
    # pending | answered | declined | withdrawn (the enquiries ended without this answer)
    status: str = Field(max_length=20, index=True)
    requested_at: datetime = Field(sa_column=utc_column())
    deadline: datetime = Field(sa_column=utc_column(index=True))
    chase_count: int = 0
    last_chased_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # When the reminder for the current deadline is due; null once it has been sent.
    chase_due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True,
                                                                             index=True))
    responded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    responded_by: str | None = Field(default=None, max_length=128)
    late: bool = False
    known: bool | None = None
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    risk_indicators: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    relevant_dates: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    attachments: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    decline_reason_code: str | None = Field(default=None, max_length=40)
    decline_explanation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
