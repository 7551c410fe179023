"""Intake's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column


class Contact(SQLModel, table=True):
    """A contact or referral as a partner agency sent it."""

    __tablename__ = "contact"

    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(unique=True, max_length=32)
    kind: str = Field(max_length=20)
    partnership: str = Field(max_length=100)
    referrer_agency: str = Field(max_length=100, index=True)
    referrer_subject: str = Field(max_length=200)
    status: str = Field(max_length=40)
    received_at: datetime = Field(sa_column=utc_column())
    submission: str = Field(sa_column=Column(Text, nullable=False))
