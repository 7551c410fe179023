"""The notifications service's tables: what it knows of each contact's referrer (agency and
role only, never an address), and one row per message to send.

A notification is ``pending`` until its channel accepted it (``sent``); a failed attempt
moves ``next_attempt_at`` on by the back-off; after the last attempt it is ``dead`` (a
permanent failure, announced). One no longer due (a linked referral the hub created) is
``not_required``. ``(caused_by_event_id, kind, recipient role, recipient agency)`` is unique:
one message per triggering event and recipient, however often the event is delivered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column

PENDING, SENT, DEAD, NOT_REQUIRED = "pending", "sent", "dead", "not_required"


class ReferrerRecord(SQLModel, table=True):
    """Who referred a case, as contact.received says it: agency and role, no address."""

    __tablename__ = "notify_referrer"

    case_reference: str = Field(primary_key=True, max_length=32)
    contact_id: str = Field(max_length=36)
    partnership: str = Field(max_length=100)
    agency: str = Field(max_length=60)
    professional: bool
    hub_created: bool = False
    received_at: datetime = Field(sa_column=utc_column())


class Notification(SQLModel, table=True):
    """One message to one recipient (by role and agency), durable until sent or dead."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("caused_by_event_id", "kind", "recipient_role",
                                       "recipient_agency", name="uq_notification_cause"),)

    id: str = Field(primary_key=True, max_length=36)
    case_reference: str = Field(max_length=32, index=True)
    partnership: str = Field(max_length=100)
    kind: str = Field(max_length=40)
    channel: str = Field(max_length=20)
    recipient_role: str = Field(max_length=40)
    recipient_agency: str = Field(max_length=60)
    caused_by_event_id: str = Field(max_length=36)
    caused_by_event_type: str = Field(max_length=120)
    # What the template may say besides the reference: a code, never free text or a name.
    detail: str | None = Field(default=None, max_length=120)
    # A meeting invitation's calendar data (times, place, UID, SEQUENCE): JSON, no names.
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default=PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True,
                                                                              index=True))
    last_failure_code: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
