"""Triage's tables: the case, its rating history, and its lock-down list."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Integer, Text
from sqlmodel import Field, SQLModel

from mashcore.db import utc_column, versioned

# Optimistic concurrency: every UPDATE checks and bumps it, so of two people acting on one
# case at the same moment exactly one succeeds, on SQLite (where SELECT ... FOR UPDATE does
# nothing) as on PostgreSQL. The loser's StaleDataError is answered 409.
_VERSION = Column("version", Integer, nullable=False, server_default="1")


class TriageCase(SQLModel, table=True):
    """A contact in triage: rated by an information officer, decided by a team manager.

    States (``status``), DOMAIN.md §5 and §6:

    * ``awaiting_initial_rating`` → the information officer rates it;
    * ``awaiting_consent_gate``: rated with no safeguarding concerns and no consent, so it
      is not accepted as a referral; the information officer chooses the gate's exit;
    * ``awaiting_gate_agreement``: early help hub or close, waiting for a team manager;
    * ``awaiting_threshold_decision`` → the team manager decides;
    * ``decided``: level, final BRAG, route and rationale recorded (re-rating allowed);
    * closed: ``returned_to_referrer``, ``forwarded_to_early_help``, ``closed_at_gate``,
      ``forwarded_to_allocated_worker`` (intake sent it to an open case's worker).
    """

    __tablename__ = "triage_case"
    __mapper_args__: ClassVar[dict[str, Any]] = versioned(_VERSION)

    version: int | None = Field(default=None, sa_column=_VERSION)
    case_reference: str = Field(primary_key=True, max_length=32)
    contact_id: str = Field(unique=True, max_length=36)
    partnership: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=40)
    received_at: datetime = Field(sa_column=utc_column())
    opened_at: datetime = Field(sa_column=utc_column())
    threshold_decision_due_at: datetime = Field(sa_column=utc_column())
    children: str = Field(sa_column=Column(Text, nullable=False))
    concern_summary: str = Field(sa_column=Column(Text, nullable=False))
    correlation_id: str = Field(default="", max_length=64)
    referrer_agency: str | None = Field(default=None, max_length=40)
    # From referral.accepted (JSON): consent, flags, DASH, view of need, quality, indicators.
    referral: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    restricted: bool = False
    # Information officer's initial rating.
    initial_brag: str | None = Field(default=None, max_length=8)
    safeguarding_concerns: bool | None = None
    consent_to_referral: str = Field(default="unknown", max_length=20)
    indicators_ticked: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    indicators_ticked_by_manager: str = Field(
        default="[]", sa_column=Column(Text, nullable=False, server_default="[]")
    )
    # Consent gate.
    gate_outcome: str | None = Field(default=None, max_length=30)
    gate_rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    gate_proposed_by: str | None = Field(default=None, max_length=128)
    # Threshold decision (and re-ratings).
    brag: str | None = Field(default=None, max_length=8)
    level_code: str | None = Field(default=None, max_length=32)
    level_name: str | None = Field(default=None, max_length=100)
    route: str | None = Field(default=None, max_length=30)
    rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    decided_by: str | None = Field(default=None, max_length=128)
    policy_version: str | None = Field(default=None, max_length=40)
    suggested_level_code: str | None = Field(default=None, max_length=32)
    suggested_brag: str | None = Field(default=None, max_length=8)
    proceeding_without_consent: bool = False
    without_consent_basis: str | None = Field(default=None, max_length=80)
    without_consent_reason: str | None = Field(default=None, sa_column=Column(Text,
                                                                            nullable=True))
    consent_revisit_due_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True)
    )
    current_override_id: str | None = Field(default=None, max_length=36)
    enquiries_started_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True)
    )
    enquiries_due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Issue 20: hub staff's answer to a domestic-abuse flag suggested by the concern's words
    # (triage.flags): "confirmed" (the DASH request follows) or "declined".
    domestic_abuse_flag: str | None = Field(default=None, max_length=20)
    domestic_abuse_flag_reason: str | None = Field(default=None, max_length=40)
    domestic_abuse_flag_by: str | None = Field(default=None, max_length=128)
    domestic_abuse_flag_at: datetime | None = Field(default=None,
                                                    sa_column=utc_column(nullable=True))


class RatingHistory(SQLModel, table=True):
    """Every rating a case has had, in order: never overwritten (re-rating keeps history)."""

    __tablename__ = "triage_rating_history"

    id: int | None = Field(default=None, primary_key=True)
    case_reference: str = Field(foreign_key="triage_case.case_reference", index=True,
                                max_length=32)
    at: datetime = Field(sa_column=utc_column())
    kind: str = Field(max_length=20)  # initial | threshold | re_rating | consent
    brag: str | None = Field(default=None, max_length=8)
    level_code: str | None = Field(default=None, max_length=32)
    by_user: str = Field(max_length=128)
    by_role: str = Field(max_length=40)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    suggested_level_code: str | None = Field(default=None, max_length=32)
    suggested_brag: str | None = Field(default=None, max_length=8)


class CaseAccess(SQLModel, table=True):
    """The named users of a locked-down case (mash.intake.record.locked-down.v1)."""

    __tablename__ = "triage_case_access"

    case_reference: str = Field(foreign_key="triage_case.case_reference", primary_key=True,
                                max_length=32)
    user_id: str = Field(primary_key=True, max_length=128)
