"""The request and response models of transfers in (form SOC 1233)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from intake.api_types import HubStaffRef, Text
from intake.contacts.api_models import StrictModel
from mashcore.strict_types import IsoDate, StrictBool

Name = Annotated[str, Field(min_length=1, max_length=100)]
AbuseCategory = Literal["neglect", "physical", "emotional", "sexual"]
Arrangement = Literal["permanent", "temporary", "disputed"]
TransferStatus = Literal["awaiting_decision", "disputed", "decided"]
TRANSFER_FORM: Literal["SOC1233"] = "SOC1233"
TRANSFERRING_AGENCY = "local_authority"
"""The agency of another authority's system: the only partner system that sends SOC 1233s."""


class TransferChild(StrictModel):
    """A child named on the transfer form; an unborn baby has an expected delivery date."""

    first_name: Name | None = Field(default=None, description="Leave empty for an unborn baby.")
    last_name: Name
    date_of_birth: IsoDate | None = Field(
        default=None, description="YYYY-MM-DD. Leave empty for an unborn baby."
    )
    unborn: StrictBool = False
    expected_delivery_date: IsoDate | None = Field(
        default=None, description="Only for an unborn baby, and then required."
    )

    @model_validator(mode="after")
    def born_or_unborn(self) -> Self:
        """A born child has a first name and birth date; an unborn one an expected date."""
        if self.unborn:
            if self.date_of_birth is not None:
                raise ValueError("date_of_birth must be empty for an unborn baby: use "
                                 "expected_delivery_date")
            if self.expected_delivery_date is None:
                raise ValueError("expected_delivery_date required when unborn is true")
        else:
            missing = [f for f in ("first_name", "date_of_birth") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{' and '.join(missing)} required unless unborn is true")
            if self.expected_delivery_date is not None:
                raise ValueError("expected_delivery_date only applies when unborn is true")
        return self


class ChildProtectionPlan(StrictModel):
    """The child protection plan as the transferring authority held it (DOMAIN.md §7)."""

    categories_of_abuse: Annotated[list[AbuseCategory], Field(min_length=1, max_length=4)]
    plan_started_on: IsoDate
    next_review_due_on: IsoDate | None = None

    @field_validator("categories_of_abuse")
    @classmethod
    def each_category_once(cls, value: list[str]) -> list[str]:
        """A category is named once."""
        if len(set(value)) != len(value):
            raise ValueError("each category of abuse may be given only once")
        return value

    @model_validator(mode="after")
    def review_after_start(self) -> Self:
        """The next review cannot be due before the plan started."""
        if self.next_review_due_on is not None and self.next_review_due_on < self.plan_started_on:
            raise ValueError("next_review_due_on must not be before plan_started_on")
        return self


class TransferInIn(StrictModel):
    """The transferring authority's completed transfer form (SOC 1233)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from_authority": "Warwickshire County Council",
        "children": [{"first_name": "Sam", "last_name": "Testchild",
                      "date_of_birth": "2018-06-30"}],
        "child_protection_plan": {"categories_of_abuse": ["neglect"],
                                  "plan_started_on": "2026-08-14",
                                  "next_review_due_on": "2027-02-12"},
    }]})

    from_authority: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="The transferring local authority, e.g. `Warwickshire County Council`."
    )
    transfer_form: Literal["SOC1233"] = Field(default=TRANSFER_FORM,
                                              description="The form: always SOC 1233.")
    children: Annotated[list[TransferChild], Field(min_length=1, max_length=20)]
    child_protection_plan: ChildProtectionPlan


class TransferDecisionIn(StrictModel):
    """The team manager's decision on a transfer-in."""

    arrangement: Arrangement = Field(
        description="`permanent` (records created and a transfer-in conference arranged), "
        "`temporary`, or `disputed` (the authorities disagree: managers escalate, and the "
        "transfer can be decided again once resolved)."
    )
    rationale: Text | None = Field(default=None, description="Why, in plain words.")
    strategy_discussion_required: StrictBool = Field(
        default=False, description="The transfer needs a strategy discussion (new concerns "
        "since the plan was made: strategy requests one about every child, DOMAIN.md §7).")
    strategy_discussion_reason: Text | None = Field(
        default=None, description="Why there is reasonable cause to suspect significant "
        "harm: required when a strategy discussion is needed.")


class TransferDecision(BaseModel):
    """The decision recorded on a transfer-in."""

    arrangement: Arrangement
    rationale: str | None
    decided_by: HubStaffRef
    decided_at: datetime
    transfer_in_conference_required: bool


class TransferInView(BaseModel):
    """A transfer-in as the hub (or the authority that sent it) sees it."""

    transfer_id: str
    case_reference: str
    status: TransferStatus
    partnership: str
    from_authority: str
    transfer_form: Literal["SOC1233"]
    received_at: datetime
    children: list[TransferChild]
    child_protection_plan: ChildProtectionPlan
    decision: TransferDecision | None
