"""The consultation log's table.

A consultation lives on its own confidential log (DOMAIN.md §3, [002 §3]): it is never a
contact, has no case reference, and its optional child details are kept here only, never on a
child's record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column


class Consultation(SQLModel, table=True):
    """A professional's request for advice and, once given, the advice (the confidential log)."""

    __tablename__ = "consultation"

    id: str = Field(primary_key=True, max_length=36)
    partnership: str = Field(max_length=100, index=True)
    status: str = Field(max_length=40)
    professional_agency: str = Field(max_length=100)
    professional_role: str = Field(max_length=100)
    submitted_by_agency: str = Field(max_length=100, index=True)
    submitted_by_role: str = Field(max_length=50)
    submitted_by_subject: str = Field(max_length=200)
    question: str = Field(sa_column=Column(Text, nullable=False))
    child_details: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """JSON of the optional child details: on this log only, never on a child's record."""
    consulted_at: datetime = Field(sa_column=utc_column())
    received_at: datetime = Field(sa_column=utc_column())
    advice_given: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outcome: str | None = Field(default=None, max_length=40)
    advice_given_by: str | None = Field(default=None, max_length=128)
    advice_given_by_role: str | None = Field(default=None, max_length=50)
    advice_recorded_at: datetime | None = Field(default=None,
                                                sa_column=utc_column(nullable=True))
