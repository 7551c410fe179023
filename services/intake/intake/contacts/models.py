"""Intake's tables; ``Contact`` is also the aggregate whose status only its methods change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from intake import events, lifecycle
from mashcore.db import utc_column
from mashcore.envelope import Event

_PENDING = "_pending_events"  # kept beside the columns, never mapped or stored


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

    # The aggregate: each status change checks intake.lifecycle.CONTACT and records the events
    # it announces; the service layer publishes them (intake.commands.publish) through the
    # outbox in the same unit of work. No other code assigns ``status``
    # (tests/unit/test_intake_contact_aggregate.py checks).

    def may_become(self, target: str) -> bool:
        """True if the contact may go from its status to ``target``."""
        return lifecycle.CONTACT.may_move(self, target)

    def check_may_become(self, target: str) -> None:
        """Raise IllegalTransition unless the contact may go to ``target``."""
        if not self.may_become(target):
            raise lifecycle.IllegalTransition(self.status, target, "contact")

    def note_open_case(self, reference: str, reason: str) -> None:
        """A probable open case about the child: hub staff confirm forwarding (no event)."""
        self._become(lifecycle.OPEN_CASE_FOUND)
        self.open_case_reference, self.open_case_reason = reference, reason

    def forward_to_allocated_worker(self, data: Mapping[str, Any], *, source: str,
                                    at: datetime) -> None:
        """Case information for the open case's allocated worker (DOMAIN.md §3)."""
        self._become(lifecycle.FORWARDED)
        self._record(Event(type=events.FORWARDED_TO_ALLOCATED_WORKER, source=source,
                           subject=self.case_reference, time=at, recordedtime=at,
                           partnership=self.partnership, data=dict(data)))

    def return_for_consent(self, cause: Event, data: Mapping[str, Any], *, source: str,
                           at: datetime) -> None:
        """Triage's consent gate sent it back to its referrer (DOMAIN.md §5)."""
        self._become(lifecycle.RETURNED)
        self._record(cause.follow_up(type=events.RETURNED_FOR_CONSENT, source=source,
                                     recordedtime=at, data=dict(data)))

    def pending_events(self) -> list[Event]:
        """The events recorded and not yet published, oldest first."""
        return list(self.__dict__.get(_PENDING, ()))

    def pull_events(self) -> list[Event]:
        """The events to publish, oldest first; the contact forgets them."""
        return list(self.__dict__.pop(_PENDING, ()))

    def _become(self, target: str) -> None:
        self.check_may_become(target)
        self.status = target

    def _record(self, event: Event) -> None:
        # In the instance's dict, not a field: rows loaded by the ORM skip __init__.
        self.__dict__.setdefault(_PENDING, []).append(event)


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
