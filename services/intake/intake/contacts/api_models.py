"""The REST contract partner agency systems post to.

A referral carries everything DOMAIN.md §4 says a good referral contains. Almost all of it is
optional: a safeguarding referral is never refused for being incomplete. Intake scores its
completeness and tells the referrer what is missing (``intake.quality``). What *is* refused
is a referral that contradicts itself or leaves out something the hub cannot work without:
who is referring, which child (or that the child's identity is unknown), what the concern
is, and, whenever a consent question is answered "no", why not.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from mashcore.strict_types import IsoDate, IsoDateTime, StrictBool, StrictFloat, StrictInt

Name = Annotated[str, Field(min_length=1, max_length=100)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
LongText = Annotated[str, Field(min_length=1, max_length=20000)]
Email = Annotated[str, Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, Field(min_length=5, max_length=40)]
# An instant as an ISO 8601 string with its UTC offset, kept as text (parsed where it is
# used); mashcore.strict_types.IsoDateTime parses it at once.
IsoDateTimeText = Annotated[str, Field(
    pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$",
    json_schema_extra={"format": "date-time"}, examples=["2026-11-24T09:40:00+00:00"])]

_POSTCODE = (
    r"^(?:[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9][A-Za-z]{2}|[Gg][Ii][Rr]\s*0[Aa][Aa])$"
)


def _normalise_postcode(value: str) -> str:
    """Capitals and one space before the inward code: ``cv12ab`` -> ``CV1 2AB``."""
    compact = re.sub(r"\s+", "", value).upper()
    return f"{compact[:-3]} {compact[-3:]}"


Postcode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=5, max_length=10, pattern=_POSTCODE),
    AfterValidator(_normalise_postcode),
    Field(description="A UK postcode, e.g. `CV1 2AB` (any case, with or without the space)."),
]
NhsNumber = Annotated[
    str,
    Field(pattern=r"^[0-9]{3} ?[0-9]{3} ?[0-9]{4}$",
          description="The 10-digit NHS number, with or without spaces (e.g. `943 476 5919`)."),
]

if TYPE_CHECKING:
    from intake.checks.quality import QualityAssessment

YesNoUnknown = Literal["yes", "no", "unknown"]
ConsentAnswer = Literal["yes", "no", "not_sought"]
PastOrPresent = Literal["past", "present", "both", "unclear"]
ScaleWho = Literal["referrer", "child", "parent", "other"]
DashRiskLevel = Literal["standard", "medium", "high"]
NotSoughtBasis = Literal[
    "seeking_consent_would_risk_significant_harm",
    "seeking_consent_would_prejudice_crime_prevention_or_detection",
    "consent_refused_safeguarding_concern",
    "consent_not_obtainable_in_time",
    "other",
]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# Control characters (NUL above all) are refused in every text field: PostgreSQL cannot store
# NUL, so a referral accepted here would fail further down the pipeline. Tab, CR, LF are fine.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _without_control_characters(value: Any) -> Any:
    if isinstance(value, str) and _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    if isinstance(value, list):
        for item in value:
            _without_control_characters(item)
    return value


class StrictModel(BaseModel):
    """Every part of the referral refuses fields it does not know (a typo is not data)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return _without_control_characters(value)

    def _require_one_of(self, *fields: str) -> None:
        if all(_blank(getattr(self, f)) for f in fields):
            raise ValueError(f"give at least one of {', '.join(fields)}")


# --- People ----------------------------------------------------------------------------------


class AddressIn(StrictModel):
    """A home address. The postcode decides which area team the family belongs to."""

    lines: Annotated[list[ShortText], Field(max_length=4)] = Field(
        default_factory=list,
        description="House number and street, then any further lines (up to four).",
    )
    town: ShortText | None = Field(default=None, description="Town or city.")
    postcode: Postcode | None = None
    no_fixed_abode: StrictBool = Field(
        default=False,
        description="Set when the family has no fixed address (e.g. sofa-surfing, homeless); "
        "give the last known address, if any, above.",
    )


class ChildIn(StrictModel):
    """A child the concern is about. Unknown identity must be said, not left blank.

    For an unborn baby set `unborn` and give the expected date of delivery and, if known,
    the father's name, instead of a date of birth.
    """

    first_name: Name | None = None
    last_name: Name | None = None
    date_of_birth: IsoDate | None = Field(
        default=None, description="Date of birth (YYYY-MM-DD). Leave empty for an unborn baby."
    )
    identity_unknown: StrictBool = Field(
        default=False, description="Set when the child's name is not known to the referrer."
    )
    unborn: StrictBool = Field(
        default=False, description="Set when the referral is about an unborn baby."
    )
    expected_date: IsoDate | None = Field(
        default=None, description="For an unborn baby: the expected date of delivery."
    )
    father_name: Name | None = Field(
        default=None,
        description="For an unborn baby: the father's full name, if known. MASH partners "
        "check their records for him too.",
    )
    over_18_reason: Text | None = Field(
        default=None,
        description="Only when this young person is 18 or over: why the referral is about "
        "them (for example a care leaver, or a young adult still in school).",
    )
    gender: ShortText | None = Field(
        default=None, description="The child's gender, as the child or family describe it."
    )
    ethnicity: ShortText | None = None
    religion: ShortText | None = None
    language: ShortText | None = Field(
        default=None, description="The child's first language."
    )
    interpreter_needed: StrictBool | None = Field(
        default=None, description="Whether the child or family need an interpreter."
    )
    disability: Text | None = Field(
        default=None,
        description="Any disability or special educational need, in plain words.",
    )
    school: ShortText | None = Field(
        default=None, description="School, nursery or college the child attends."
    )
    gp: ShortText | None = Field(
        default=None, description="The GP surgery the child is registered with."
    )
    nhs_number: NhsNumber | None = None

    @model_validator(mode="after")
    def names_or_explicitly_unknown(self) -> Self:
        """Either the child's names are given or the form says they are unknown."""
        if not self.identity_unknown and not self.unborn:
            missing = [f for f in ("first_name", "last_name") if getattr(self, f) is None]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} required unless identity_unknown is true"
                )
        return self

    @model_validator(mode="after")
    def born_or_unborn(self) -> Self:
        """An unborn baby has an expected date, not a birth date; only it has a father_name."""
        if self.unborn and self.date_of_birth is not None:
            raise ValueError("date_of_birth must be empty for an unborn baby: use expected_date")
        if not self.unborn:
            given = [f for f in ("expected_date", "father_name") if getattr(self, f) is not None]
            if given:
                raise ValueError(f"{' and '.join(given)} only apply when unborn is true")
        return self


class PersonIn(StrictModel):
    """Someone else in the child's family or home (a sibling, or another adult or child)."""

    first_name: Name | None = None
    last_name: Name | None = None
    relationship: ShortText | None = Field(
        default=None,
        description="Who they are to the child, e.g. `half-brother`, `mother's partner`, "
        "`lodger`.",
    )
    date_of_birth: IsoDate | None = Field(
        default=None,
        description="Date of birth (YYYY-MM-DD). Partner agencies search their records by "
        "name and date of birth.",
    )
    phone: Phone | None = None
    lives_in_home: StrictBool | None = Field(
        default=None, description="Whether they live in the child's home."
    )

    @model_validator(mode="after")
    def says_who(self) -> Self:
        """An entry must name the person or at least say who they are to the child."""
        self._require_one_of("first_name", "last_name", "relationship")
        return self


class ParentCarerIn(PersonIn):
    """A parent or carer of the child(ren)."""

    email: Email | None = None
    address: AddressIn | None = Field(
        default=None, description="Only if different from the child's address."
    )
    parental_responsibility: StrictBool | None = Field(
        default=None, description="Whether this person has parental responsibility."
    )
    language: ShortText | None = Field(default=None, description="Their first language.")
    interpreter_needed: StrictBool | None = None


# --- Referrer --------------------------------------------------------------------------------


class DeputyIn(StrictModel):
    """Someone who knows the child and the concern and can answer for the referrer."""

    name: Name
    role: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def can_be_contacted(self) -> Self:
        """A deputy the hub cannot reach is no deputy."""
        self._require_one_of("email", "phone")
        return self


class ReferrerIn(StrictModel):
    """The person making the referral. Their agency comes from the sending system's login.

    A member of the public (referring through a hub worker) may ask to stay anonymous: set
    `anonymous`; their name and contact details are then optional and never passed on,
    although anonymity cannot be guaranteed.
    """

    name: Name | None = Field(default=None, description="Required unless `anonymous` is set.")
    role: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="Your role in your agency, e.g. `Designated safeguarding lead`, "
        "`Health visitor`, `Probation officer`, `Housing options officer`; for the public, "
        "e.g. `Neighbour` or `Grandparent`.",
    )
    email: Email | None = Field(
        default=None,
        description="Where the hub sends questions and the outcome. An email address or a "
        "phone number is required unless `anonymous` is set.",
    )
    phone: Phone | None = None
    availability: Text | None = Field(
        default=None,
        description="When you can be reached about this referral over the next few days "
        "(the hub decides within one working day).",
    )
    deputy: DeputyIn | None = Field(
        default=None,
        description="If you may not be available: a colleague who knows the child and your "
        "concern and can answer for you.",
    )
    anonymous: StrictBool = Field(
        default=False,
        description="A member of the public who asks not to be identified to the family.",
    )

    @model_validator(mode="after")
    def identified_unless_anonymous(self) -> Self:
        """A named referrer the hub can call back, unless they asked to stay anonymous."""
        if not self.anonymous:
            if _blank(self.name):
                raise ValueError("name required unless anonymous is true")
            if _blank(self.email) and _blank(self.phone):
                raise ValueError("email or phone required unless anonymous is true")
        return self


# --- The concern -----------------------------------------------------------------------------


class WhenIn(StrictModel):
    """A date (and, if known, a time) when something that worries you happened."""

    on: IsoDate = Field(description="The date (YYYY-MM-DD).")
    at: time | None = Field(default=None, description="The local time, if known (HH:MM).")
    what_happened: Text | None = Field(
        default=None, description="What happened then, if there is more than one date."
    )


class ChronologyEntryIn(StrictModel):
    """One event in the child's history, in date order."""

    on: IsoDate = Field(description="The date (YYYY-MM-DD); the first of the month if unsure.")
    approximate: StrictBool = Field(default=False, description="Set when the date is approximate.")
    what_happened: Text


class ConcernIn(StrictModel):
    """What you are worried about, in plain language without acronyms or jargon."""

    summary: LongText = Field(
        description="What you are worried about and what has happened, in plain words. "
        "Write out abbreviations: not everyone reading it works in your agency.",
    )
    who: Text | None = Field(
        default=None,
        description="Who is involved: who caused or may cause harm, who was there, and "
        "which child it happened to.",
    )
    where: Text | None = Field(default=None, description="Where it happened.")
    when: list[WhenIn] = Field(
        default_factory=list, max_length=50, description="When it happened: dates and times."
    )
    when_description: Text | None = Field(
        default=None,
        description="When it happened, in words, if you cannot give dates "
        "(e.g. `most weekends since the summer`).",
    )
    past_or_present: PastOrPresent | None = Field(
        default=None,
        description="Is this happening now (`present`), did it happen in the past (`past`), "
        "or `both`? Say `unclear` only if you really cannot tell.",
    )
    frequency: Text | None = Field(
        default=None,
        description="How often it happens (e.g. `once`, `two or three times a week`).",
    )
    child_spoken_to: YesNoUnknown | None = Field(
        default=None,
        description="Has anyone spoken to the child about this? `no` is a clear answer "
        "(e.g. for a baby); say why in `child_spoken_to_details`.",
    )
    child_spoken_to_details: Text | None = Field(
        default=None,
        description="What the child said, in their words where possible, or why they were "
        "not spoken to.",
    )
    direct_disclosure: StrictBool | None = Field(
        default=None, description="Whether the child told someone directly."
    )
    impact_on_child: Text | None = Field(
        default=None,
        description="What this means for the child: their safety, health, development and "
        "day-to-day life.",
    )
    chronology: list[ChronologyEntryIn] = Field(
        default_factory=list, max_length=200,
        description="Earlier events that help build a picture of the child's life, in date "
        "order, separating the past from the present.",
    )


# --- What has been done ----------------------------------------------------------------------


class ActionTriedIn(StrictModel):
    """Something already done to help the child or family, and whether it worked."""

    what: Text = Field(description="What was done, e.g. `attendance meetings with mother`.")
    by_whom: ShortText | None = Field(default=None, description="Which service or person.")
    worked: Literal["yes", "partly", "no", "too_early_to_say"] | None = Field(
        default=None, description="Whether it worked."
    )
    details: Text | None = Field(
        default=None, description="What changed or did not, and why you think so."
    )


class ProfessionalIn(StrictModel):
    """Another professional working with the child or family."""

    name: Name | None = None
    agency: ShortText | None = Field(
        default=None, description="Their service, e.g. `Health visiting team`."
    )
    role: ShortText | None = None
    phone: Phone | None = None
    email: Email | None = None
    involvement: Text | None = Field(
        default=None, description="What they do with the family and since when."
    )

    @model_validator(mode="after")
    def says_who(self) -> Self:
        """An entry must say who the professional is or which service."""
        self._require_one_of("name", "agency", "role")
        return self


class PreviousAssessmentIn(StrictModel):
    """An earlier assessment of the child or family."""

    kind: ShortText = Field(
        description="Which assessment, e.g. `Early help assessment`, `Child and family "
        "assessment`."
    )
    completed_on: IsoDate | None = None
    by: ShortText | None = Field(default=None, description="Which service carried it out.")
    outcome: Text | None = None


class EarlyHelpIn(StrictModel):
    """Whether early help has been tried before this referral."""

    tried: Literal["yes", "offered_but_declined", "no", "not_appropriate"] = Field(
        description="`not_appropriate` when the risk of significant harm means a referral "
        "cannot wait for early help."
    )
    details: Text | None = Field(
        default=None, description="What was offered or done, by whom, and how it went."
    )


# --- Consent ---------------------------------------------------------------------------------


class ConsentAttemptIn(StrictModel):
    """One attempt to discuss the referral or get consent."""

    on: IsoDate | None = None
    how: ShortText | None = Field(
        default=None, description="e.g. `phone call to mother`, `meeting at school`."
    )
    outcome: Text = Field(description="What happened.")


class ConsentIn(StrictModel):
    """The consent questions of the referral form.

    Every question answered `no` (or `not_sought`) needs a reason in `reasons_if_not`: say
    why not, and what attempts were made. You may refer without consent when asking would
    put the child or someone else at risk of significant harm, or prejudice the prevention
    or detection of crime; say so.
    """

    discussed_with_parents: StrictBool | None = Field(
        default=None, description="Have you discussed this referral with the parents/carers?"
    )
    parents_aware: StrictBool | None = Field(
        default=None, description="Do the parents/carers know that you are making it?"
    )
    consent_to_referral: ConsentAnswer | None = Field(
        default=None, description="Have the parents/carers consented to the referral?"
    )
    consent_to_information_sharing: ConsentAnswer | None = Field(
        default=None,
        description="Have they consented to their information being shared between agencies?",
    )
    child_over_16_consented: StrictBool | None = Field(
        default=None,
        description="For a young person aged 16 or over: have they consented themselves? "
        "Leave empty if no child is 16 or over.",
    )
    not_sought_basis: NotSoughtBasis | None = Field(
        default=None, description="If consent was not sought or not given: on what basis."
    )
    reasons_if_not: Text | None = Field(
        default=None,
        description="Required when any answer above is `no` or `not_sought`: why not, and "
        "what attempts were made.",
    )
    attempts: list[ConsentAttemptIn] = Field(
        default_factory=list, max_length=50,
        description="Attempts made to discuss the referral or get consent.",
    )

    def refusals(self) -> list[str]:
        """The questions answered `no` or `not_sought`, each as `field is 'answer'`."""
        found = []
        for name in ("discussed_with_parents", "parents_aware", "child_over_16_consented"):
            if getattr(self, name) is False:
                found.append(f"{name} is false")
        for name in ("consent_to_referral", "consent_to_information_sharing"):
            answer = getattr(self, name)
            if answer in ("no", "not_sought"):
                found.append(f"{name} is '{answer}'")
        return found

    @model_validator(mode="after")
    def each_no_has_a_reason(self) -> Self:
        """A 'no' without a reason leaves the hub guessing; the form asks for one."""
        refusals = self.refusals()
        if refusals and _blank(self.reasons_if_not):
            raise ValueError(
                f"{' and '.join(refusals)}: give the reason (and any attempts made) in "
                "reasons_if_not"
            )
        return self


# --- Signs of Safety -------------------------------------------------------------------------


class WorriesIn(StrictModel):
    """What are we worried about?"""

    harm: Text | None = Field(
        default=None,
        description="Past and current hurt, injury or abuse to the child, and who caused it.",
    )
    danger_statements: Text | None = Field(
        default=None,
        description="What you believe is likely to happen to the child if nothing changes.",
    )
    complicating_factors: Text | None = Field(
        default=None,
        description="What in and around the family makes the problems harder to deal with.",
    )


class WorkingWellIn(StrictModel):
    """What's working well?"""

    strengths: Text | None = Field(
        default=None,
        description="People, plans and actions that contribute to the child's wellbeing.",
    )
    existing_safety: Text | None = Field(
        default=None,
        description="What the parents, carers or child already do to keep the child safe "
        "when the danger is present.",
    )


class NextStepsIn(StrictModel):
    """What needs to happen?"""

    safety_goals: Text | None = Field(
        default=None,
        description="What needs to be seen to be sure the child is safe enough.",
    )
    next_steps: Text | None = Field(
        default=None, description="What happens next: what, who, by when."
    )


class ScaleIn(StrictModel):
    """A safety scale: 10 means the child is safe enough, 0 that they must be removed now."""

    who: ScaleWho = Field(description="Whose judgement this is.")
    who_details: ShortText | None = Field(
        default=None, description="Who exactly, e.g. `mother`, `health visitor`."
    )
    score: StrictInt = Field(ge=0, le=10)


class SignsOfSafetyIn(StrictModel):
    """Your Signs of Safety analysis, in plain words."""

    worries: WorriesIn | None = None
    working_well: WorkingWellIn | None = None
    next_steps: NextStepsIn | None = None
    scales: Annotated[list[ScaleIn], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="One or more 0-10 safety scales, one per person asked."
    )


class ViewOfNeedIn(StrictModel):
    """Your view of the child's level of need against the partnership's threshold document."""

    view: Text = Field(description="Your view, and the indicators that support it.")
    level_code: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None,
        description="The level in the partnership's threshold document, e.g. `L3`.",
    )
    indicators: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]] = (
        Field(default_factory=list, max_length=100,
              description="The threshold indicators you see, as the codes the partnership's "
              "policy lists (triage `GET /v1/policy/{partnership}`), e.g. `pc-neglect`. "
              "Indicative only: the hub decides.")
    )


class DomesticAbuseIn(StrictModel):
    """Domestic abuse, and the risk assessment that goes with it."""

    flag: StrictBool = Field(description="Whether this is a domestic abuse referral.")
    dash_completed: StrictBool | None = Field(
        default=None, description="Whether a DASH risk assessment has been completed."
    )
    dash_risk_level: DashRiskLevel | None = Field(
        default=None, description="The risk level the DASH assessment gave."
    )
    caada_ric_score: StrictInt | None = Field(
        default=None, ge=0, le=24,
        description="The number of `yes` answers on the CAADA-DASH risk identification "
        "checklist (0-24; 14 or more is high risk).",
    )
    barnardos_scale: StrictInt | None = Field(
        default=None, ge=1, le=4,
        description="The Barnardo's domestic violence risk scale (1-4; 3 or 4 is high risk).",
    )

    @model_validator(mode="after")
    def consistent(self) -> Self:
        """Risk results cannot come with 'not domestic abuse' or 'no DASH completed'."""
        results = [f for f in ("dash_risk_level", "caada_ric_score", "barnardos_scale")
                   if getattr(self, f) is not None]
        if results and not self.flag:
            raise ValueError(f"{' and '.join(results)} given but flag is false")
        dash = [f for f in ("dash_risk_level", "caada_ric_score") if getattr(self, f) is not None]
        if dash and self.dash_completed is False:
            raise ValueError(f"{' and '.join(dash)} given but dash_completed is false")
        return self


# --- Agency-specific sections (DOMAIN.md §4, [000]) ------------------------------------------


class PresentationIn(StrictModel):
    """An earlier presentation with similar injuries or concerns."""

    on: IsoDate | None = None
    what_happened: Text


class HealthSectionIn(StrictModel):
    """For health professionals (GP, hospital, ambulance, midwife, health visitor...)."""

    part_of_health: Literal[
        "gp_practice", "emergency_department", "hospital_ward", "ambulance_service",
        "midwifery", "health_visiting", "school_nursing", "sexual_health",
        "adult_mental_health", "other",
    ] | None = Field(default=None, description="Which part of health you work for.")
    presenting_need: Text | None = Field(
        default=None, description="The child's (or patient's) presenting health need."
    )
    arrived_at: IsoDateTime | None = Field(
        default=None,
        description="When the child arrived in your service, with a UTC offset "
        "(e.g. `2026-11-20T21:40:00+00:00`).",
    )
    treatment_and_advice: Text | None = Field(
        default=None, description="Treatment and advice given, and where you signposted."
    )
    accompanied_by: Text | None = Field(
        default=None, description="Who was with the child when they presented."
    )
    other_professionals_involved: Text | None = Field(
        default=None, description="Other professionals involved in this incident."
    )
    ambulance_or_police_log_number: ShortText | None = None
    discrepancies_in_account: Text | None = Field(
        default=None,
        description="Any differences between what the child and the parents said about "
        "the injury or illness.",
    )
    previous_similar_presentations: list[PresentationIn] = Field(
        default_factory=list, max_length=50,
        description="Earlier presentations with similar injuries or concerns: dates and "
        "what happened.",
    )
    concerns_about_discharge: Text | None = Field(
        default=None,
        description="Any concern about discharging the child home to their parents/carers.",
    )


class CamhsSectionIn(StrictModel):
    """For child and adolescent mental health services."""

    referred_to_camhs_by: ShortText | None = Field(
        default=None, description="Which agency or person referred the child to your service."
    )
    involved_since: IsoDate | None = Field(
        default=None, description="Since when you have been working with the child."
    )
    diagnosis: Text | None = Field(default=None, description="The diagnosis, if any.")
    history: list[ChronologyEntryIn] = Field(
        default_factory=list, max_length=200,
        description="The history of concerns in date order, separating past from present.",
    )
    risks: Text | None = Field(
        default=None, description="Risks to the child, e.g. self-harm or suicidal thoughts."
    )
    how_parents_manage_risks: Text | None = None
    how_camhs_manages_risks: Text | None = None
    why_escalate: Text | None = Field(
        default=None,
        description="Why you believe the child's needs should now go to children's services.",
    )
    how_childrens_services_can_help: Text | None = None


class ProbationSectionIn(StrictModel):
    """For probation: about a person under supervision who has contact with children."""

    person_supervised: ShortText | None = Field(
        default=None,
        description="Who the person is to the child (e.g. `mother's partner`); give their "
        "name and date of birth under parents_carers or other_adults_in_home.",
    )
    offence: Text | None = None
    sentencing_date: IsoDate | None = None
    sentence: Text | None = None
    contact_with_children: Text | None = Field(
        default=None, description="What contact they have with children, and how often."
    )
    contact_supervised: Literal["supervised", "unsupervised", "none", "unknown"] | None = None
    restrictions: Text | None = Field(
        default=None, description="Licence conditions, orders or other restrictions."
    )
    assessed_risk_level: Literal["low", "medium", "high", "very_high"] | None = Field(
        default=None, description="The assessed level of risk this person poses to children."
    )


class HousingSectionIn(StrictModel):
    """For housing and homelessness services."""

    homeless_application_on: IsoDate | None = Field(
        default=None, description="When the homeless application was made."
    )
    reason_homeless: Text | None = Field(
        default=None, description="Why the family has become homeless."
    )
    support_offered: Text | None = Field(
        default=None,
        description="Support offered or due from your service, or that they are not "
        "entitled and why.",
    )
    domestic_abuse_known: StrictBool | None = Field(
        default=None, description="Whether there are known issues of domestic abuse."
    )
    family_or_friends: Text | None = Field(
        default=None, description="Family or friends the family could stay with."
    )
    recourse_to_public_funds: YesNoUnknown | None = None
    immigration_status: ShortText | None = None
    how_supported_so_far: Text | None = Field(
        default=None, description="How the family has supported itself until now."
    )


class EducationSectionIn(StrictModel):
    """For schools, colleges and other education settings."""

    made_aware_at: IsoDateTime | None = Field(
        default=None,
        description="When you were made aware of the concern (for a specific incident), "
        "with a UTC offset.",
    )
    how_it_came_to_attention: Text | None = None
    direct_disclosure: StrictBool | None = Field(
        default=None, description="Whether the child disclosed directly to staff."
    )
    parents_spoken_to: StrictBool | None = Field(
        default=None, description="Whether you spoke to either parent before referring."
    )
    parents_not_spoken_to_reason: Text | None = None
    context_in_school: Text | None = Field(
        default=None,
        description="The child in school: friendships, parents' engagement, progress.",
    )
    attendance_percent: StrictFloat | None = Field(
        default=None, ge=0, le=100, description="Attendance this school year, in per cent."
    )
    support_offered: Text | None = Field(
        default=None, description="Support the school has offered to date."
    )
    previous_concerns: Text | None = Field(
        default=None,
        description="Previous safeguarding concerns about the child or family and how they "
        "were resolved.",
    )


AgencySectionName = Literal["health", "camhs", "probation", "housing", "education"]


class AgencySectionsIn(StrictModel):
    """The section for your own agency (others may be filled in too)."""

    health: HealthSectionIn | None = None
    camhs: CamhsSectionIn | None = None
    probation: ProbationSectionIn | None = None
    housing: HousingSectionIn | None = None
    education: EducationSectionIn | None = None


# --- The referral ----------------------------------------------------------------------------

REFERRAL_EXAMPLE: dict[str, Any] = {
    "kind": "referral",
    "form": "marf",
    "partnership": "coventry",
    "referrer": {
        "name": "Alex Testreferrer",
        "role": "Designated safeguarding lead",
        "email": "dsl@school.example",
        "phone": "01632 960123",
        "availability": "In school Monday to Friday, 8am to 5pm.",
        "deputy": {"name": "Jo Testdeputy", "role": "Deputy safeguarding lead",
                   "email": "deputy.dsl@school.example"},
    },
    "children": [{
        "first_name": "Sam", "last_name": "Testchild", "date_of_birth": "2016-04-02",
        "gender": "Male", "ethnicity": "White British", "language": "English",
        "interpreter_needed": False, "school": "Example Primary School",
        "gp": "Example Street Surgery",
    }],
    "siblings": [{"first_name": "Lily", "last_name": "Testchild",
                  "relationship": "sister", "date_of_birth": "2020-09-14",
                  "lives_in_home": True}],
    "parents_carers": [{
        "first_name": "Dana", "last_name": "Testparent", "relationship": "mother",
        "date_of_birth": "1990-01-15", "phone": "07700 900123",
        "parental_responsibility": True, "lives_in_home": True,
    }],
    "other_adults_in_home": [{"first_name": "Chris", "last_name": "Testpartner",
                              "relationship": "mother's partner",
                              "date_of_birth": "1987-07-30", "lives_in_home": True}],
    "address": {"lines": ["1 Example Street"], "town": "Coventry", "postcode": "CV1 9ZZ"},
    "concern": {
        "summary": "Synthetic example. Sam arrived at school with a bruise on his left cheek. "
        "He told his teacher that his mother's partner hit him when he spilt his drink.",
        "who": "Sam; his mother's partner is said to have hit him.",
        "where": "At home.",
        "when": [{"on": "2026-11-19", "at": "18:30",
                  "what_happened": "Sam says he was hit after tea."}],
        "past_or_present": "present",
        "frequency": "Sam says it has happened once before, in the summer.",
        "child_spoken_to": "yes",
        "child_spoken_to_details": "Sam said: 'He got cross and hit me.'",
        "direct_disclosure": True,
        "impact_on_child": "Sam is quiet and says he does not want to go home.",
    },
    "what_has_been_tried": [{"what": "Weekly check-ins with the school learning mentor.",
                             "worked": "partly"}],
    "early_help": {"tried": "no", "details": "No early help so far."},
    "consent": {
        "discussed_with_parents": True, "parents_aware": True,
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes",
    },
    "signs_of_safety": {
        "worries": {"harm": "A bruise to Sam's cheek, which he says his mother's partner "
                    "caused."},
        "working_well": {"strengths": "His mother came into school the same day."},
        "next_steps": {"next_steps": "The school will keep checking in with Sam daily."},
        "scales": [{"who": "referrer", "score": 4}],
    },
    "referrer_view_of_need": {"view": "Sam may be at risk of significant harm.",
                              "level_code": "L4"},
    "agency_sections": {"education": {
        "made_aware_at": "2026-11-20T08:45:00+00:00",
        "how_it_came_to_attention": "His teacher noticed the bruise at registration.",
        "direct_disclosure": True, "parents_spoken_to": True,
        "context_in_school": "Sam is settled and has friends; his progress is good.",
        "attendance_percent": 96.5,
    }},
}


class ReferralIn(StrictModel):
    """A contact or referral from a partner agency (the multi-agency referral form).

    Only `referrer`, `children` and `concern.summary` are required: a safeguarding referral
    is never refused for being incomplete. But the more you say, the better the decision:
    what is missing or unclear is scored and reported back to you.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [REFERRAL_EXAMPLE]})

    kind: Literal["contact", "referral"] = Field(
        default="referral",
        description="`referral` when you are asking for services or safeguarding for a child; "
        "`contact` for a request for advice, information or a service that may become one.",
    )
    form: Literal["marf", "police_referral", "other"] | None = Field(
        default=None,
        description="The multi-agency referral form (`marf`), the police's own form, or other.",
    )
    partnership: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")] | None = Field(
        default=None,
        description="Safeguarding partnership the referral is sent to, as its code (e.g. "
        "`coventry`). Leave it out to use your account's partnership.",
    )
    received_at: IsoDateTimeText | None = Field(
        default=None,
        description="Hub staff only: when the contact really came in (a phone call recorded "
        "later), with its UTC offset; not in the future, not older than the partnership's "
        "limit (7 days by default). Partner systems leave it out: a contact is received when "
        "it is sent.",
    )
    referrer: ReferrerIn = Field(
        description="You: who you are and how the hub can reach you (or your deputy)."
    )
    children: Annotated[list[ChildIn], Field(min_length=1, max_length=20)] = Field(
        description="Every child the concern is about, including an unborn baby."
    )
    siblings: list[PersonIn] = Field(
        default_factory=list, max_length=20,
        description="The children's brothers and sisters who are not themselves the subject "
        "of the referral, wherever they live.",
    )
    parents_carers: list[ParentCarerIn] = Field(
        default_factory=list, max_length=10,
        description="Parents and carers, with a phone number so the hub can contact them.",
    )
    other_adults_in_home: list[PersonIn] = Field(
        default_factory=list, max_length=20,
        description="Any other adult living in or regularly staying at the child's home.",
    )
    other_children_in_home: list[PersonIn] = Field(
        default_factory=list, max_length=20,
        description="Any other child living in the child's home who is not a sibling.",
    )
    address: AddressIn | None = Field(default=None, description="The child's home address.")
    concern: ConcernIn = Field(
        description="What you are worried about: what, who, where, when, how often, whether "
        "it is happening now, whether the child was spoken to, and the impact on the child."
    )
    what_has_been_tried: list[ActionTriedIn] = Field(
        default_factory=list, max_length=50,
        description="What you or others have already done, and whether it worked.",
    )
    other_professionals: list[ProfessionalIn] = Field(
        default_factory=list, max_length=50,
        description="Other professionals working with the child or family.",
    )
    previous_assessments: list[PreviousAssessmentIn] = Field(
        default_factory=list, max_length=50, description="Earlier assessments you know of."
    )
    early_help: EarlyHelpIn | None = Field(
        default=None, description="Whether early help has been tried before this referral."
    )
    consent: ConsentIn | None = Field(
        default=None,
        description="The consent questions. Leaving them out does not stop the referral, "
        "but the hub will have to ask.",
    )
    signs_of_safety: SignsOfSafetyIn | None = Field(
        default=None,
        description="Your Signs of Safety analysis: what we are worried about, what is working "
        "well, what needs to happen, and a 0-10 safety scale.",
    )
    referrer_view_of_need: ViewOfNeedIn | None = Field(
        default=None,
        description="Your view of the level of need against the partnership's threshold "
        "document.",
    )
    domestic_abuse: DomesticAbuseIn | None = Field(
        default=None,
        description="For domestic abuse: the flag and the DASH (or Barnardo's) risk assessment.",
    )
    staff_linked: StrictBool = Field(
        default=False,
        description="Set when the referral is about a member of staff of a partner agency or "
        "their family: access to the record may then be restricted.",
    )
    staff_link_details: Text | None = Field(
        default=None,
        description="Who the member of staff is and how they are linked to the child.",
    )
    agency_sections: AgencySectionsIn | None = Field(
        default=None,
        description="The questions specific to your agency (health, CAMHS, probation, "
        "housing, education).",
    )

    @model_validator(mode="after")
    def staff_link_is_flagged(self) -> Self:
        """Details of a staff link without the flag would leave the record unprotected."""
        if self.staff_link_details is not None and not self.staff_linked:
            raise ValueError("staff_link_details given but staff_linked is false")
        return self


class FindingOut(BaseModel):
    """One thing missing or unclear in what you sent, and what to add."""

    code: str
    field: str
    message: str


class QualityFeedback(BaseModel):
    """How complete the referral is. It never stops a referral: it tells you what to add."""

    completeness_score: int = Field(description="0-100; 100 means nothing was found missing.")
    missing_or_unclear: list[str]
    findings: list[FindingOut]

    @classmethod
    def of(cls, assessment: QualityAssessment) -> QualityFeedback:
        """The feedback for an assessment."""
        return cls(
            completeness_score=assessment.completeness_score,
            missing_or_unclear=list(assessment.missing_or_unclear),
            findings=[FindingOut(code=f.code, field=f.field, message=f.message)
                      for f in assessment.findings],
        )


class ContactAccepted(BaseModel):
    """The answer to a POST: where to follow the contact, and what it lacks."""

    contact_id: str
    case_reference: str
    status: str
    received_at: datetime
    quality: QualityFeedback


class ContactView(ContactAccepted):
    """A contact as its referrer (or the hub) sees it."""

    linked_contacts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Hub staff only: repeats about the same child from any agency, and "
        "linked referrals (a parent under 18). Never shown to referrers.")
    open_case_reference: str | None = Field(
        default=None, description="Hub staff only: the probable open case about the child "
        "(confirm with POST /v1/contacts/{id}/forward).")

    kind: str
    partnership: str
    referrer_agency: str


UserId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^@\s]+$")]


class HeadOfServiceIn(StrictModel):
    """The Head of Service consulted about a staff-linked record."""

    user_id: UserId
    consulted_at: IsoDateTime


class LockDownIn(StrictModel):
    """Restrict a record to named users (staff-linked or otherwise sensitive)."""

    allowed_user_ids: Annotated[list[UserId], Field(min_length=1, max_length=50)]
    reason_code: Literal["staff_member_subject", "staff_member_family", "other_sensitive"]
    head_of_service_consulted: HeadOfServiceIn | None = None

    @model_validator(mode="after")
    def staff_linked_needs_head_of_service(self) -> Self:
        """A staff-linked lock-down records that the Head of Service was consulted."""
        if self.reason_code != "other_sensitive" and self.head_of_service_consulted is None:
            raise ValueError("head_of_service_consulted is required for staff-linked records")
        return self
