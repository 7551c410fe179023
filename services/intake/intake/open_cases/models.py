"""Intake's index of open (and recently closed) cases, and its log of answered checks.

The index is a copy of what the local authority's case management system knows, loaded over
``PUT /v1/open-cases/{case_reference}`` (or in bulk) and kept current by events: a child
protection plan that ends closes the case (``mash.strategy.plan.ended.v1``). Intake uses it
for two things only: routing significant information about a child with an open case (or a
recently involved social worker, Medway's 12-week rule) to the allocated worker instead of
opening a new referral, and answering requests for checks (DOMAIN.md §3).

Personal data: the child's names, date of birth and postcode (for matching only; never logged,
never disclosed by a check). Staff are held as user ids, never names or email addresses.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import JSON, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column

CaseStatus = Literal["open", "closed"]
OPEN: CaseStatus = "open"
CLOSED: CaseStatus = "closed"


class OpenCase(SQLModel, table=True):
    """One child's case as the case management system last described it.

    Keyed on (partnership, case_reference): each partnership's index is its own, so loading
    a reference reveals nothing of whether another partnership holds it (migration 0007).
    """

    __tablename__ = "open_case"
    __table_args__ = (
        Index("ix_open_case_status_dob", "status", "date_of_birth"),
        Index("ix_open_case_last_involvement", "last_involvement_ended_on"),
        CheckConstraint("status IN ('open', 'closed')", name="ck_open_case_status"),
    )

    case_reference: str = Field(primary_key=True, max_length=64)
    partnership: str = Field(primary_key=True, max_length=100, index=True)
    """The partnership whose case management system loaded the case (need-to-know)."""
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date | None = Field(default=None)
    postcode: str | None = Field(default=None, max_length=10)
    allocated_worker_id: str | None = Field(default=None, max_length=128)
    """The allocated social worker; kept when the case closes (the 12-week rule asks them)."""
    allocated_manager_id: str | None = Field(default=None, max_length=128)
    team: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=10)
    """``open`` or ``closed``."""
    opened_on: date | None = Field(default=None)
    closed_on: date | None = Field(default=None)
    last_involvement_ended_on: date | None = Field(default=None)
    """When the last social worker's involvement ended (Medway's 12-week rule)."""
    siblings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """The siblings' case references."""
    updated_at: datetime = Field(sa_column=utc_column())
