"""Request bodies of the MASH enquiries API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from mashcore.strict_types import IsoDate, StrictBool, StrictInt

_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000,
                                        pattern=_NO_CONTROL)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=20000, pattern=_NO_CONTROL)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DateIn(Body):
    date: IsoDate
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=500, pattern=_NO_CONTROL)]


class AttachmentIn(Body):
    """An attachment's metadata: the content stays in your agency's document store."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=255,
                                           pattern=r"^[^/\\\x00-\x1f]+$")]
    media_type: Annotated[str, StringConstraints(max_length=127,
                                                 pattern=r"^[a-z]+/[a-z0-9.+-]+$")]
    size_bytes: StrictInt = Field(ge=0)
    document_id: Annotated[str, StringConstraints(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")] | None = None


class AnswerIn(Body):
    """What your agency's systems show about the people in the request."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "known": True,
        "summary": "Synthetic example: one domestic abuse call-out to the address in 2025; "
                   "mother's partner has a caution for assault.",
        "risk_indicators": ["domestic abuse call-out", "violence caution"],
        "relevant_dates": [{"date": "2025-08-14", "description": "Call-out to the address"}],
        "attachments": [{"name": "incident-log.pdf", "media_type": "application/pdf",
                         "size_bytes": 48213}],
    }]})

    known: StrictBool = Field(description="Does your agency hold anything on them?")
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


# --- What navigators read -------------------------------------------------------------------


class QueueEntryOut(BaseModel):
    """One line of your agency's queue: open the request to see who to search for."""

    request_id: str
    case_reference: str
    agency: str
    brag: str = Field(description="The case's rating, which sets the deadline.")
    requested_at: str
    deadline: str = Field(description="When your answer is due (UTC).")
    overdue: bool
    status: str = Field(description="`pending`, `answered`, `declined` or `withdrawn`.")
    chased: bool = Field(description="Whether a reminder has been sent.")


class SubjectOut(BaseModel):
    """Someone to search your agency's systems for."""

    relationship: str = Field(description="`child`, `parent`, `carer`, `sibling`, "
                              "`other_adult_in_household` or `other_child_in_household`.")
    first_name: str | None
    last_name: str | None
    date_of_birth: str | None
    postcode: str | None


class AddressOut(BaseModel):
    lines: list[str] = Field(default_factory=list)
    town: str | None = None
    postcode: str | None = None


class RequestOut(QueueEntryOut):
    """Everything you need to search your agency's records, and nothing more: never the
    referrer, never another agency's request or answer."""

    question: str
    subjects: list[SubjectOut]
    address: AddressOut | None
    sharing_basis: str = Field(description="`consent`, or `without_consent_safeguarding` "
                               "(the manager's recorded decision, DOMAIN.md §5).")
    answer: dict[str, Any] | None = Field(description="Your agency's answer or decline, "
                                          "once given (with `late` when after the deadline).")
