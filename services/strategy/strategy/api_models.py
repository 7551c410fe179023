"""Request bodies of the strategy API, with the descriptions the OpenAPI page shows."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mashcore.strict_types import IsoDateTime, StrictBool, StrictInt

_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000,
                                        pattern=_NO_CONTROL)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=20000, pattern=_NO_CONTROL)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500,
                                         pattern=_NO_CONTROL)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                                          pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@:-]*$")]
CaseReference = Annotated[str, StringConstraints(pattern=r"^MASH-[0-9]{4}-[A-Z0-9]{8}$")]
MeetingId = Annotated[str, StringConstraints(
    pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
Format = Literal["meeting", "video_call", "phone_calls"]
Urgency = Literal["immediate", "within_1_working_day", "within_3_working_days"]
PractitionerRole = Literal[
    "social_worker", "team_manager", "service_manager", "iro", "information_officer",
    "navigator", "referrer", "practitioner", "designated_safeguarding_lead", "line_manager",
    "assistant_director", "deputy_director", "partnership_representative", "legal_adviser",
    "minute_taker"]
Agency = Literal["police", "health", "education", "probation", "housing", "camhs",
                 "youth_offending", "early_years", "local_authority", "other"]
ChildNumbers = Annotated[list[Annotated[StrictInt, Field(ge=1, le=50)]],
                         Field(min_length=1, max_length=50)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PractitionerIn(Body):
    """A practitioner by role and agency; the user id when they have a MASH account."""

    role: PractitionerRole
    agency: Agency = Field(description="Never a member of the public (DOMAIN.md §7).")
    user_id: UserId | None = Field(default=None, description="Their MASH user id (the "
                                   "access token subject): never a name or an email.")


class DiscussionRequestIn(Body):
    """Ask for a strategy discussion (DOMAIN.md §7): on any case, at any time, more than
    one per case allowed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"case_reference": "MASH-2026-P9CJ4VTB",
         "reason": "Synthetic example: the child disclosed at school that their stepfather "
                   "hit them; bruising seen by the class teacher.",
         "urgency": "immediate", "child_numbers": [1], "trigger": "open_case_new_information"},
    ]})

    case_reference: CaseReference
    reason: Text = Field(description="Why there is reasonable cause to suspect that a "
                         "child is suffering, or is likely to suffer, significant harm.")
    urgency: Urgency = Field(description="How soon it must take place.")
    child_numbers: ChildNumbers | None = Field(
        default=None, description="Which children of the case, by their place in the "
        "referral (1 is the first listed); every child when left out.")
    trigger: Literal["open_case_new_information", "during_assessment", "transfer_in",
                     "further_discussion", "other"] = Field(
        default="other", description="What led to the request.")
    follows_meeting_id: MeetingId | None = Field(
        default=None, description="An earlier discussion of this case about the same concern.")


class ScheduleIn(Body):
    """When, how and with whom. At least a social worker, health and police; the chairing
    team manager is invited as chair, and the referrer when a professional."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"format": "video_call", "starts_at": "2026-11-24T14:00:00+00:00",
         "ends_at": "2026-11-24T15:00:00+00:00",
         "dial_in": "https://meet.example/strategy-discussion", "chair_id": "tm-1",
         "invitees": [
             {"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
             {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
             {"role": "navigator", "agency": "police", "user_id": "pc-1"}],
         "invite_referrer": True},
    ]})

    format: Format = Field(description="A meeting in person, an online meeting or phone calls.")
    starts_at: IsoDateTime
    ends_at: IsoDateTime
    location: Short | None = Field(default=None, description="For a meeting in person: an "
                                   "office address, never the family's.")
    dial_in: Short | None = Field(default=None, description="For an online meeting or phone "
                                  "calls: the link or number to join.")
    chair_id: UserId = Field(description="User id of the team manager who chairs it.")
    invitees: Annotated[list[PractitionerIn], Field(min_length=1, max_length=50)]
    invite_referrer: StrictBool = Field(
        default=True, description="The referrer is normally invited "
        "when a professional; never a member of the public.")
    referrer_not_invited_reason: Text | None = Field(
        default=None, description="Why a professional referrer is not invited.")


class CancelIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "Synthetic example: police unavailable; rearranged for tomorrow."},
    ]})

    reason: Text = Field(description="Why the discussion is called off.")


class S47DecisionIn(Body):
    child_number: StrictInt = Field(ge=1, le=50)
    s47: StrictBool = Field(description="Whether s47 enquiries are undertaken for this child.")


class ActionIn(Body):
    action: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=2000, pattern=_NO_CONTROL)]
    owner_role: PractitionerRole
    owner_agency: Agency
    due_by: IsoDateTime | None = None


class HeldIn(Body):
    """The discussion took place (DOMAIN.md §7)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"held_at": "2026-11-24T14:00:00+00:00",
         "attendees": [
             {"role": "social_worker", "agency": "local_authority", "user_id": "sw-1"},
             {"role": "practitioner", "agency": "health", "user_id": "hv-1"},
             {"role": "navigator", "agency": "police", "user_id": "pc-1"}],
         "apologies": [{"role": "designated_safeguarding_lead", "agency": "education"}],
         "criminal_investigation": "required",
         "criminal_investigation_start_by": "2026-11-25T09:00:00+00:00",
         "s47_decisions": [{"child_number": 1, "s47": True}],
         "s47_decision_rationale": "Synthetic example: reasonable cause to suspect that "
                                   "child 1 is suffering significant harm.",
         "actions": [{"action": "Synthetic example: joint visit with police today.",
                      "owner_role": "social_worker", "owner_agency": "local_authority",
                      "due_by": "2026-11-24T18:00:00+00:00"}]},
    ]})

    held_at: IsoDateTime
    attendees: Annotated[list[PractitionerIn], Field(min_length=1, max_length=50)] = Field(
        description="Who attended, by role and agency: at least a social worker, health "
        "and police.")
    apologies: Annotated[list[PractitionerIn], Field(max_length=50)] = Field(
        default_factory=list)
    criminal_investigation: Literal["required", "not_required", "already_underway"]
    criminal_investigation_start_by: IsoDateTime | None = Field(
        default=None, description="When it starts, when one is required.")
    s47_decisions: Annotated[list[S47DecisionIn], Field(min_length=1, max_length=50)] = Field(
        description="The s47 decision for each child of the discussion.")
    s47_decision_rationale: Text
    actions: Annotated[list[ActionIn], Field(max_length=100)] = Field(default_factory=list)


class MinutesIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"minutes": "Synthetic example minutes: present SW, police, health. Decision: "
                    "s47 enquiries for child 1; joint visit today."},
    ]})

    minutes: LongText = Field(description="The minutes as signed off by the chair.")


class S47OutcomeIn(Body):
    """The social worker's outcome of one child's s47 enquiry (DOMAIN.md §7)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "substantiated_continuing_risk", "next_step": "icpc",
         "rationale": "Synthetic example: injuries consistent with the disclosure; risk "
                      "continues while the stepfather lives at home."},
    ]})

    outcome: Literal["not_substantiated", "substantiated_no_continuing_risk",
                     "substantiated_continuing_risk"]
    next_step: Literal["no_further_action", "supportive_services", "plan_without_conference",
                       "icpc"] = Field(
        description="not_substantiated → no_further_action or supportive_services; "
        "substantiated_no_continuing_risk → supportive_services or plan_without_conference; "
        "substantiated_continuing_risk → icpc.")
    rationale: Text


class S47AgreementIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"agree": True, "rationale": "Synthetic example: agreed; convene an ICPC."},
    ]})

    agree: StrictBool = Field(description="Agree the outcome (it is concluded and announced), or "
                        "send it back to the social worker.")
    rationale: Text



class EscalatedToIn(Body):
    """Who answers the stage: a role of the stage on the partnership's ladder (its policy
    pack's; by default 1: line_manager or team_manager; 2: designated_safeguarding_lead or
    service_manager; 3: assistant_director or deputy_director; 4:
    partnership_representative), their agency and MASH user id: not someone who answered an
    earlier stage. They answer signed in with a role the stage allows (by default
    team_manager, or navigator for a partner agency)."""

    role: PractitionerRole
    agency: Agency
    user_id: UserId


class EscalationIn(Body):
    """A professional disagreement about a decision on a case (DOMAIN.md §7)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"case_reference": "MASH-2026-P9CJ4VTB", "about": "threshold_decision",
         "summary": "Synthetic example: police disagree with the Amber rating: ask for "
                    "a strategy discussion.",
         "escalated_to": {"role": "team_manager", "agency": "local_authority",
                          "user_id": "tm-1"}},
    ]})

    case_reference: CaseReference
    about: Literal["threshold_decision", "mash_outcome", "information_sharing",
                   "strategy_decision", "s47_outcome", "other"]
    summary: Text = Field(description="The disagreement and what you ask to be reconsidered.")
    escalated_to: EscalatedToIn


class EscalationAnswerIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"resolved": False,
         "resolution": "Synthetic example: the decision stands: no new information."},
    ]})

    resolved: StrictBool = Field(description="False when the disagreement remains (whoever raised "
                           "it may escalate it to the next stage).")
    resolution: Text


class EscalateIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"summary": "Synthetic example: still disagree; the risk is not addressed.",
         "escalated_to": {"role": "service_manager", "agency": "local_authority",
                          "user_id": "sm-1"}},
    ]})

    summary: Text = Field(description="Why the answer does not resolve it.")
    escalated_to: EscalatedToIn


class RaisedByOut(BaseModel):
    """Who raised a disagreement, by role and agency (no user id, no name)."""

    role: str
    agency: str


class EscalationToAnswerOut(BaseModel):
    """A stage waiting for your answer: codes and times only, no free text (the summary is on
    the escalation itself)."""

    escalation_id: str
    case_reference: str
    about: str = Field(description="The decision disputed.")
    stage: int
    stage_name: str = Field(description="The stage's name on the partnership's ladder.")
    status: Literal["awaiting_answer"]
    raised_by: RaisedByOut
    stage_raised_at: str = Field(description="When this stage was raised (ISO 8601).")
    due_at: str = Field(description="When this stage must be answered (ISO 8601).")
