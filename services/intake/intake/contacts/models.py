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
    # Staff-linked: readable only by team managers, then only by the named users once locked
    # down (DOMAIN.md §1, §10). The submitting agency still sees the status of its own contact.
    restricted: bool = False
    # A probable open case (or recent involvement) about the child, for hub staff to confirm
    # forwarding to the allocated worker as case information (DOMAIN.md §3).
    open_case_reference: str | None = Field(default=None, max_length=64)
    open_case_reason: str | None = Field(default=None, max_length=40)


class ContactAccess(SQLModel, table=True):
    """A user named on a locked-down contact."""

    __tablename__ = "contact_access"

    contact_id: str = Field(primary_key=True, foreign_key="contact.id", max_length=36)
    user_id: str = Field(primary_key=True, max_length=200)


class ContactLink(SQLModel, table=True):
    """Two contacts that belong together: a repeat about the same child, or a linked referral."""

    __tablename__ = "contact_link"

    contact_id: str = Field(primary_key=True, foreign_key="contact.id", max_length=36)
    linked_contact_id: str = Field(primary_key=True, foreign_key="contact.id", max_length=36)
    reason: str = Field(max_length=40)
    score: float | None = None
    created_at: datetime = Field(sa_column=utc_column())
