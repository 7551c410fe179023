"""The REST contract partner agency systems post to."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(min_length=1, max_length=100)]


class ChildIn(BaseModel):
    """A child the concern is about. Unknown identity must be said, not left blank."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    last_name: Name | None = None
    date_of_birth: date | None = None
    identity_unknown: bool = Field(
        default=False, description="Set when the child's name is not known to the referrer."
    )

    @model_validator(mode="after")
    def names_or_explicitly_unknown(self) -> ChildIn:
        """Either the child's names are given or the form says they are unknown."""
        if not self.identity_unknown:
            missing = [f for f in ("first_name", "last_name") if getattr(self, f) is None]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} required unless identity_unknown is true"
                )
        return self


class ReferrerIn(BaseModel):
    """The professional making the referral (agency comes from their credentials)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    role: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str, Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")]
    phone: Annotated[str, Field(min_length=5, max_length=40)] | None = None


class ConcernIn(BaseModel):
    """What the referrer is worried about, in plain language."""

    model_config = ConfigDict(extra="forbid")

    summary: Annotated[str, Field(min_length=1, max_length=20000)]


class ReferralIn(BaseModel):
    """A contact or referral from a partner agency."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["contact", "referral"] = "referral"
    partnership: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Safeguarding partnership the referral is sent to."
    )
    referrer: ReferrerIn
    children: Annotated[list[ChildIn], Field(min_length=1, max_length=20)]
    concern: ConcernIn


class ContactAccepted(BaseModel):
    """The answer to a POST: where to follow the contact."""

    contact_id: str
    case_reference: str
    status: str
    received_at: datetime


class ContactView(ContactAccepted):
    """A contact as its referrer (or the hub) sees it."""

    kind: str
    partnership: str
    referrer_agency: str
