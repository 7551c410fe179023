"""The REST contract of the open-case index (its loader).

The loader is for the local authority's case management system (or a team manager): it
describes each case intake should know about.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from intake.contacts.api_models import Name, Postcode, StrictModel
from mashcore.strict_types import IsoDate

StaffId = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[^@\s]+$",
          description="A MASH user id (the access token subject), never a name or an email "
          "address."),
]
CASE_REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
CaseReference = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=CASE_REFERENCE_PATTERN,
          description="The case's reference: a MASH reference (`MASH-2026-K7QX3MZP`) or the "
          "case management system's own (letters, digits, `.`, `_`, `-`; up to 64)."),
]
MAX_SIBLINGS = 30
MAX_BULK = 500



class ChildIdentifiersIn(StrictModel):
    """The child's identifiers, for matching (spelling variants are tolerated)."""

    first_name: Name
    last_name: Name
    date_of_birth: IsoDate | None = Field(
        default=None, description="Strongly recommended: without it a match needs the same "
        "postcode and exactly the same names.")
    postcode: Postcode | None = None


class OpenCaseIn(StrictModel):
    """A case as the case management system holds it. Replaces what intake held before."""

    child: ChildIdentifiersIn
    status: Literal["open", "closed"]
    allocated_worker_id: StaffId | None = Field(
        default=None, description="The allocated social worker. Keep it on a closed case: "
        "under the 12-week rule that worker is asked to re-engage.")
    allocated_manager_id: StaffId | None = Field(
        default=None, description="The allocated social worker's team manager.")
    team: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The social work team holding the case.")
    opened_on: IsoDate | None = None
    closed_on: IsoDate | None = Field(default=None, description="Only for a closed case.")
    last_involvement_ended_on: IsoDate | None = Field(
        default=None, description="When the last social worker's involvement ended; for a "
        "closed case it defaults to `closed_on`.")
    siblings: Annotated[list[CaseReference], Field(max_length=MAX_SIBLINGS)] = Field(
        default_factory=list, description="The siblings' case references.")

    @model_validator(mode="after")
    def dates_agree(self) -> Self:
        """An open case has no closing date; nothing ends before the case opened."""
        if self.status == "open" and self.closed_on is not None:
            raise ValueError("closed_on must be empty while the case is open")
        if self.opened_on is not None:
            for name in ("closed_on", "last_involvement_ended_on"):
                value = getattr(self, name)
                if value is not None and value < self.opened_on:
                    raise ValueError(f"{name} is before opened_on")
        if len(set(self.siblings)) != len(self.siblings):
            raise ValueError("siblings lists a case reference twice")
        return self


class OpenCaseItemIn(OpenCaseIn):
    """One case of a bulk load."""

    case_reference: CaseReference

    @model_validator(mode="after")
    def not_its_own_sibling(self) -> Self:
        """A case is not its own sibling."""
        if self.case_reference in self.siblings:
            raise ValueError("a case cannot list itself among its siblings")
        return self


class OpenCasesBulkIn(StrictModel):
    """Up to 500 cases, stored together or not at all."""

    cases: Annotated[list[OpenCaseItemIn], Field(min_length=1, max_length=MAX_BULK)]

    @model_validator(mode="after")
    def one_entry_per_case(self) -> Self:
        """Each case reference once per load."""
        references = [case.case_reference for case in self.cases]
        if len(set(references)) != len(references):
            raise ValueError("a case reference appears more than once")
        return self


OpenCaseOutcome = Literal["created", "updated", "unchanged"]


class OpenCaseStored(BaseModel):
    """What the index now holds for the case (identifiers only: no child details)."""

    case_reference: str
    status: Literal["open", "closed"]
    outcome: OpenCaseOutcome
    updated_at: datetime


class OpenCasesBulkStored(BaseModel):
    """How many cases of a bulk load were new, changed or already as sent."""

    created: int
    updated: int
    unchanged: int
