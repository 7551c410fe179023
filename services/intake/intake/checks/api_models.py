"""The REST contract of requests for checks.

A request for checks is recorded by a hub worker for a caller from a listed professional body,
after validating who they are and that they are actively involved (DOMAIN.md §3). The answer
holds the four permitted facts and nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from intake.contacts.api_models import StrictModel
from intake.open_cases.api_models import ChildIdentifiersIn

RequesterBody = Literal[
    "cafcass", "youth_offending_service", "nhs", "police", "probation", "emergency_duty_team",
    "other_local_authority",
]
"""The listed professional bodies that may ask for checks (DOMAIN.md §3; [002 §2])."""
IdentityValidatedBy = Literal[
    "call_back_via_switchboard", "known_professional_contact", "secure_email_from_listed_body",
    "in_person_credentials",
]
"""How the hub worker validated the caller's identity (call back via switchboard if in doubt)."""


class RequesterIn(StrictModel):
    """Who asked, and how the hub worker satisfied themselves that they may be told."""

    body: RequesterBody = Field(description="The caller's professional body: only the listed "
                                "bodies may ask for checks.")
    identity_validated_by: IdentityValidatedBy
    active_involvement_confirmed: Literal[True] = Field(
        description="The caller's active involvement with the child was validated. Must be "
        "true: without it no check is answered.")


class CheckRequestIn(StrictModel):
    """A request for checks from another professional (not a contact: DOMAIN.md §3)."""

    requester: RequesterIn
    child: ChildIdentifiersIn


class SiblingFact(BaseModel):
    """Whether one sibling's case is open. No sibling identifiers."""

    case_open: bool


class CheckFacts(BaseModel):
    """The only facts a check may disclose (DOMAIN.md §3)."""

    known: bool = Field(description="Whether the child is known to children's social care.")
    case_status: Literal["open", "closed"] | None = Field(description="null when not known.")
    allocated_social_worker_id: str | None = Field(
        description="null when not known, when the case is closed, or when unallocated.")
    allocated_manager_id: str | None
    siblings: list[SiblingFact]


class CheckAnswer(BaseModel):
    """The answer to give the caller. Anything more needs a written request authorised by a
    team manager, stating its purpose and consent."""

    check_id: str
    answered_at: datetime
    facts: CheckFacts
