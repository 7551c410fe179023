"""The request and response models of consultations (the confidential consultation log)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from intake.api_types import HubStaffRef, LongText, RoleText
from intake.contacts.api_models import StrictModel
from mashcore.strict_types import IsoDate, IsoDateTime

Name = Annotated[str, Field(min_length=1, max_length=100)]
ProfessionalAgency = Literal[
    "police", "health", "education", "probation", "housing", "camhs", "youth_offending",
    "early_years", "local_authority", "other",
]
PROFESSIONAL_AGENCIES: frozenset[str] = frozenset(get_args(ProfessionalAgency))
ConsultationOutcome = Literal[
    "advice_only", "advised_to_refer", "advised_early_help", "signposted_elsewhere"
]
ConsultationStatus = Literal["awaiting_advice", "advice_recorded"]


class ConsultingProfessional(StrictModel):
    """Who asks for advice: an agency and a role, never a name."""

    agency: ProfessionalAgency | None = Field(
        default=None,
        description="The professional's agency. A partner system may leave it out (its login "
        "says which agency it is) or must give its own; hub staff recording a phone "
        "consultation must give it.",
    )
    role: RoleText = Field(
        description="The professional's role, e.g. `Nursery manager`; never a name."
    )


class ConsultationChild(StrictModel):
    """The child the professional asks about, if they say. Kept on the confidential
    consultation log only: never on a child's record, never announced."""

    first_name: Name | None = None
    last_name: Name | None = None
    date_of_birth: IsoDate | None = Field(default=None, description="YYYY-MM-DD, if known.")


class ConsultationIn(StrictModel):
    """A request for consultation: advice without a referral (DOMAIN.md §3)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "professional": {"agency": "early_years", "role": "Nursery manager"},
        "question": "Synthetic example: a child has come in twice this month with bruises on "
                    "the arm; the parents say she fell. Should I refer?",
    }]})

    professional: ConsultingProfessional
    question: LongText = Field(description="What the professional asks advice about.")
    child: ConsultationChild | None = Field(
        default=None,
        description="Optional. Stays on the confidential consultation log; a consultation is "
        "not recorded on the child's record. If a referral is needed, send it as a contact.",
    )
    consulted_at: IsoDateTime | None = Field(
        default=None,
        description="When the professional asked (e.g. the time of a phone call), with a "
        "UTC offset. Defaults to now.",
    )


class ConsultationAdviceIn(StrictModel):
    """The advice hub staff gave on a consultation."""

    advice_given: LongText = Field(
        description="The advice given. Do not name the child or family here: it is announced "
        "to the hub's services."
    )
    outcome: ConsultationOutcome


class ConsultationAdvice(BaseModel):
    """The advice recorded on a consultation."""

    advice_given: str
    outcome: ConsultationOutcome
    given_by: HubStaffRef
    recorded_at: datetime


class ConsultationView(BaseModel):
    """A consultation as its agency (or the hub) sees it."""

    consultation_id: str
    status: ConsultationStatus
    partnership: str
    professional: ConsultingProfessional
    question: str
    child: ConsultationChild | None
    consulted_at: datetime
    received_at: datetime
    advice: ConsultationAdvice | None
