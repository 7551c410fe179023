"""Request bodies of the MASH enquiries API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000,
                                        pattern=_NO_CONTROL)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=20000, pattern=_NO_CONTROL)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DateIn(Body):
    date: date
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=500, pattern=_NO_CONTROL)]


class AttachmentIn(Body):
    """An attachment's metadata: the content stays in your agency's document store."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=255,
                                           pattern=r"^[^/\\\x00-\x1f]+$")]
    media_type: Annotated[str, StringConstraints(max_length=127,
                                                 pattern=r"^[a-z]+/[a-z0-9.+-]+$")]
    size_bytes: int = Field(ge=0)
    document_id: Annotated[str, StringConstraints(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")] | None = None


class AnswerIn(Body):
    """What your agency's systems show about the people in the request."""

    known: bool = Field(description="Does your agency hold anything on them?")
    summary: LongText = Field(description="What your systems show, in plain words.")
    risk_indicators: Annotated[list[Annotated[str, StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=_NO_CONTROL)]],
        Field(max_length=50)] = Field(default_factory=list,
                                      description="Short risk indicators, e.g. `DV call-out`.")
    relevant_dates: Annotated[list[DateIn], Field(max_length=100)] = Field(default_factory=list)
    attachments: Annotated[list[AttachmentIn], Field(max_length=20)] = Field(
        default_factory=list, description="Metadata only.")

    @field_validator("risk_indicators")
    @classmethod
    def each_indicator_once(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def listed_when_not_known(self) -> list[tuple[str, str]]:
        """Fields that must be empty when nothing is known (checked by the API: 422)."""
        return [(name, "must be empty when known is false") for name in
                ("risk_indicators", "relevant_dates", "attachments") if getattr(self, name)
                and not self.known]


class DeclineIn(Body):
    """Why your agency will not answer; the manager decides whether to go on without it."""

    reason_code: Literal["consent_required", "insufficient_identifying_details",
                         "disproportionate_to_purpose", "legal_restriction", "wrong_agency",
                         "other"]
    explanation: Text


class CloseEarlyIn(Body):
    reason: Text = Field(description="Why the enquiries can stop before every agency has "
                         "answered (the risk is clear).")


class OutcomeIn(Body):
    """The MASH outcome (DOMAIN.md §7)."""

    outcome: Literal["nfa", "information_and_advice", "early_help", "s17_assessment",
                     "strategy_discussion", "local_social_work_unit"]
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=10000, pattern=_NO_CONTROL)] = Field(
        description="Why: required; every MASH enquiry has a manager's recorded rationale.")
    early_help_destination: Literal["family_hub", "early_help_hub",
                                    "other_professional"] | None = None
