"""Triage's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column


class TriageCase(SQLModel, table=True):
    """A contact in triage: waiting to be rated and decided."""

    __tablename__ = "triage_case"

    case_reference: str = Field(primary_key=True, max_length=32)
    contact_id: str = Field(unique=True, max_length=36)
    partnership: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=40)
    received_at: datetime = Field(sa_column=utc_column())
    opened_at: datetime = Field(sa_column=utc_column())
    threshold_decision_due_at: datetime = Field(
        sa_column=utc_column()
    )
    children: str = Field(sa_column=Column(Text, nullable=False))
    concern_summary: str = Field(sa_column=Column(Text, nullable=False))
