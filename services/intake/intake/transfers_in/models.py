"""The transfer-in table: a transfer-in (SOC 1233, [002 §8]) gets a case reference of its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column


class TransferIn(SQLModel, table=True):
    """A family moving in with a child protection plan, and the team manager's decision."""

    __tablename__ = "transfer_in"

    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(unique=True, max_length=32)
    partnership: str = Field(max_length=100, index=True)
    status: str = Field(max_length=40)
    from_authority: str = Field(max_length=100)
    submitted_by_agency: str = Field(max_length=100)
    submitted_by_role: str = Field(max_length=50)
    submitted_by_subject: str = Field(max_length=200)
    children: str = Field(sa_column=Column(Text, nullable=False))
    """JSON list of the children as the transfer form names them."""
    child_protection_plan: str = Field(sa_column=Column(Text, nullable=False))
    """JSON of the plan as the transferring authority held it."""
    received_at: datetime = Field(sa_column=utc_column())
    arrangement: str | None = Field(default=None, max_length=20)
    decision_rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_by: str | None = Field(default=None, max_length=128)
    decided_by_role: str | None = Field(default=None, max_length=50)
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


def conference_required(arrangement: str) -> bool:
    """A permanent transfer always needs a transfer-in conference (DOMAIN.md §3)."""
    return arrangement == "permanent"
