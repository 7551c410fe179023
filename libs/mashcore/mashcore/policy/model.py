"""The policy pack of one safeguarding partnership (schema version 1).

Where the seeds disagree the rule is policy, not code (DOMAIN.md §6): the levels of need
and their names, the threshold indicators per domain and level, the meaning of each BRAG
colour, which routes each colour allows, the timescales, and Medway's 12-week rule. Each
partnership has one YAML file, ``policy/partnerships/<code>.yaml``; ``default.yaml`` applies
to a partnership without its own pack. The format is documented in ``policy/README.md``.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mashcore.plainwords import PlainWords
from mashcore.workingtime import DayCountRule, WorkingCalendar

Brag = Literal["blue", "green", "amber", "red"]
BRAGS: tuple[Brag, ...] = ("blue", "green", "amber", "red")
Route = Literal[
    "nfa", "information_and_advice", "early_help", "mash_enquiries", "strategy_discussion",
    "allocated_worker",
]
Domain = Literal["child_development", "parental_capacity", "family_and_environment"]
# Facts the referral states in structured fields, which an indicator can be matched on.
Signal = Literal[
    "domestic_abuse", "domestic_abuse_high_risk", "unborn_child", "child_under_1",
    "young_parent_under_18", "child_16_or_over", "low_safety_scale",
]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
Keyword = Annotated[str, StringConstraints(min_length=3, max_length=80, strip_whitespace=True,
                                           to_lower=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(_Strict):
    """A timescale: an amount of elapsed hours, working hours, working days or months."""

    amount: int = Field(gt=0, le=1000)
    unit: Literal["elapsed_hours", "working_hours", "working_days", "calendar_months"]

    def after(self, start: datetime, calendar: WorkingCalendar,
              rule: DayCountRule | None = None) -> datetime:
        """When a timescale starting at ``start`` ends (docs/working-days.md)."""
        if self.unit == "elapsed_hours":
            return calendar.add_elapsed_hours(start, self.amount)
        if self.unit == "working_hours":
            return calendar.add_working_hours(start, self.amount)
        if self.unit == "working_days":
            return calendar.add_working_days(start, self.amount, rule=rule)
        return calendar.add_calendar_months(start, self.amount)

    def describe(self) -> str:
        """e.g. ``4 elapsed hours``, ``1 working day``."""
        unit = self.unit.replace("_", " ")
        return f"{self.amount} {unit[:-1] if self.amount == 1 else unit}"


class Level(_Strict):
    """A level of need, in the partnership's own words, lowest first."""

    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    description: Text
    suggested_brag: Brag = Field(
        description="The BRAG the decision support suggests when this is the highest level "
        "matched; the team manager decides."
    )
    statutory: bool = Field(
        default=False, description="Whether this level needs a statutory response (s17/s47)."
    )


class Indicator(_Strict):
    """One threshold indicator: indicative only, never a substitute for judgement [003]."""

    code: Code
    domain: Domain
    level: Code
    text: Text
    keywords: list[Keyword] = Field(
        default_factory=list,
        description="Words or phrases which, found in the concern, suggest this indicator "
        "(case-insensitive, whole words).",
    )
    signals: list[Signal] = Field(
        default_factory=list,
        description="Structured facts on the referral that suggest this indicator.",
    )


class BragPolicy(_Strict):
    """What one BRAG colour means in this partnership and what follows it."""

    meaning: Text
    routes: list[Route] = Field(min_length=1)
    enquiries_within: Duration | None = Field(
        default=None,
        description="MASH enquiries (and partner information requests) are due within this "
        "(DOMAIN.md §8); required for a colour that allows the mash_enquiries route.",
    )

    @model_validator(mode="after")
    def enquiries_have_a_timescale(self) -> Self:
        if "mash_enquiries" in self.routes and self.enquiries_within is None:
            raise ValueError("a colour that allows mash_enquiries needs enquiries_within")
        return self


class BragTable(_Strict):
    """All four colours, each defined (DOMAIN.md §6)."""

    blue: BragPolicy
    green: BragPolicy
    amber: BragPolicy
    red: BragPolicy

    def of(self, brag: Brag) -> BragPolicy:
        policy: BragPolicy = getattr(self, brag)
        return policy


Agency = Literal["police", "health", "education", "probation", "housing", "camhs",
                 "youth_offending", "early_years", "local_authority", "other"]
CORE_AGENCIES: tuple[Agency, ...] = ("police", "health", "education", "probation")
DEFAULT_QUESTION = (
    "What do your agency's systems hold about these people: current and past involvement, "
    "risks to the children (violence, abuse, neglect, exploitation, substance misuse, mental "
    "health), and anything the hub should know to decide what happens next?"
)


class EnquiriesPolicy(_Strict):
    """MASH enquiries (DOMAIN.md §2, §8): who is asked, what, and when they are chased."""

    agencies: list[Agency] = Field(
        default_factory=lambda: list(CORE_AGENCIES), min_length=1,
        description="The partner agencies asked on every Amber or Red episode [001, 002 §4].",
    )
    question: Text = Field(default=DEFAULT_QUESTION,
                           description="The question every agency is asked.")
    questions: dict[Agency, Text] = Field(
        default_factory=dict, description="An agency's own question, where it differs.")
    chase_at: float = Field(
        default=0.5, gt=0, lt=1,
        description="Chase an unanswered request when this fraction of its time has passed.",
    )

    def question_for(self, agency: str) -> str:
        for named, question in self.questions.items():
            if named == agency:
                return question
        return self.question


ClockName = Literal[
    "threshold_decision", "referrer_acknowledged", "mash_enquiries",
    "partner_information_request", "strategy_minutes", "icpc", "first_core_group",
    "core_group_minutes", "first_review_conference", "later_review_conference",
    "referrer_outcome", "escalation_stage", "transfer_in_conference",
]
FieldValue = str | bool | int | None


class Trigger(_Strict):
    """An event that moves a clock: its type, the data field holding when it happened
    (the event's own time if none), conditions on its data, and the field that tells one
    clock of a case from another (e.g. one per information request)."""

    event: Annotated[str, StringConstraints(pattern=r"^mash\.[a-z0-9.-]+\.v[0-9]+$")]
    at: str | None = None
    when: dict[str, FieldValue | list[FieldValue]] = Field(
        default_factory=dict, description="Conditions on the data: equal, or one of a list. "
        "A dotted name reads a nested field (`referrer.agency`).")
    instance: str | list[str] | None = Field(
        default=None, description="The data field naming the clock's instance (e.g. one per "
        "information request); several fields make one instance together (an escalation's id "
        "and stage). Absent from the event: every instance of the case.")
    unless: dict[str, FieldValue | list[FieldValue]] = Field(
        default_factory=dict, description="Conditions that must NOT hold (equal, or one of a "
        "list), e.g. no referrer feedback clock for a referrer from agency `public`.")
    present: list[str] = Field(
        default_factory=list, description="Data fields that must be set (not null), e.g. "
        "`corrects` for a correction.")
    reason_code: str | None = None


class ClockRule(_Strict):
    """One statutory timescale as configuration (DOMAIN.md §8: every row is a clock)."""

    clock: ClockName
    start: list[Trigger] = Field(min_length=1)
    stop: list[Trigger] = Field(default_factory=list)
    cancel: list[Trigger] = Field(default_factory=list)
    pause: list[Trigger] = Field(default_factory=list)
    resume: list[Trigger] = Field(default_factory=list)
    recompute: list[Trigger] = Field(
        default_factory=list,
        description="Events that set a new due time from their `due_field` (e.g. re-rating).")
    correct: list[Trigger] = Field(
        default_factory=list,
        description="Events correcting when a running clock of their instance started (`at`); "
        "they start, stop and end nothing. With any, only these correct: a start repeated "
        "for a running instance is ignored.")
    duration: Duration | None = Field(
        default=None, description="The timescale; or take the due time from the start "
        "event's `due_field`.")
    due_field: str | None = None
    brag_field: str | list[str] | None = Field(
        default=None, description="Where the start (or re-computing) event says the case's "
        "BRAG; of several fields, the first present.")
    agency_field: str | None = Field(default=None,
                                     description="Where the start event says the agency.")
    national_return: list[Trigger] = Field(
        default_factory=list,
        description="Events whose `at` is the start the national return counts from, kept "
        "beside the local start where the two differ (e.g. the referral date of the "
        "Children in Need census against the contact the MASH clock starts from).")
    warn_at: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.5, 0.75])

    @model_validator(mode="after")
    def knows_its_due_time(self) -> Self:
        if self.duration is None and self.due_field is None:
            raise ValueError("a clock needs a duration or a due_field")
        return self

    @functools.cached_property
    def trigger_events(self) -> frozenset[str]:
        """Every event type a trigger of the rule names: no other event can move its clocks
        (worked out once per rule: a pack's rules are built once)."""
        return frozenset(trigger.event for trigger in (
            *self.start, *self.stop, *self.cancel, *self.pause, *self.resume,
            *self.recompute, *self.correct, *self.national_return))


class ConsentPolicy(_Strict):
    """DOMAIN.md §5: proceeding without consent is revisited."""

    revisit_within: Duration


class CrossBorderLinks(_Strict):
    """What this partnership lets other partnerships see of its contacts that repeat detection
    linked to theirs (children move): only that a link exists, and who to ask."""

    mash_contact: Annotated[str, StringConstraints(min_length=1, max_length=300,
                                                   strip_whitespace=True)] = Field(
        description="Who to ask about the linked contact: this partnership's MASH, e.g. "
        "'Coventry MASH, 024 7678 8555, mash@coventry.gov.example'. Never a case reference.")


EscalationRole = Literal[
    "line_manager", "team_manager", "designated_safeguarding_lead", "service_manager",
    "assistant_director", "deputy_director", "partnership_representative"]
"""The practitioner roles a disagreement is escalated to (strategy's ``escalated_to.role``)."""
AnsweringTokenRole = Literal["team_manager", "navigator", "iro"]
"""The access-token roles that may answer a stage: the team manager of children's social
care (acting for line and service managers and directors of the local authority), a partner
agency's practitioner in the hub (``navigator``, acting for its safeguarding lead or
director), an independent reviewing officer. Never a social worker, business support, a
referring system or ops."""


DEFAULT_ANSWERED_BY: tuple[AnsweringTokenRole, ...] = ("team_manager", "navigator")


class EscalationStage(_Strict):
    """One stage of the escalation ladder (DOMAIN.md §7, §8)."""

    stage: int = Field(ge=1, le=10, description="1 first; stages are numbered 1, 2, 3...")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200,
                                           strip_whitespace=True)]
    roles: list[EscalationRole] = Field(
        min_length=1, description="Whom the stage is escalated to (`escalated_to.role`).")
    answered_by: list[AnsweringTokenRole] = Field(
        default_factory=lambda: list(DEFAULT_ANSWERED_BY), min_length=1,
        description="The access-token roles that may answer it (besides being the person "
        "it was escalated to).")
    within: Duration = Field(
        default_factory=lambda: Duration(amount=5, unit="working_days"),
        description="The stage answers within this (the escalation_stage clock's due time).")


def default_escalation_ladder() -> list[EscalationStage]:
    """The default ladder (DEFAULT_ESCALATION_LADDER), as a pack without its own has it."""
    return [EscalationStage.model_validate(stage) for stage in DEFAULT_ESCALATION_LADDER]


DEFAULT_ESCALATION_LADDER: tuple[dict[str, object], ...] = (
    {"stage": 1, "name": "Line or team manager", "roles": ["line_manager", "team_manager"]},
    {"stage": 2, "name": "Designated safeguarding leads or service managers",
     "roles": ["designated_safeguarding_lead", "service_manager"]},
    {"stage": 3, "name": "Assistant or deputy directors",
     "roles": ["assistant_director", "deputy_director"]},
    {"stage": 4, "name": "The safeguarding partnership",
     "roles": ["partnership_representative"]},
)
"""The default ladder (DOMAIN.md §7; policy/README.md), each stage within 5 working days."""


class PolicyPack(_Strict):
    """One partnership's policy (schema version 1)."""

    schema_version: Literal[1]
    partnership: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="The pack's own version, recorded on every decision made under it."
    )
    sources: list[Text] = Field(min_length=1, description="Where the rules come from.")
    notes: list[Text] = Field(default_factory=list)
    levels: list[Level] = Field(min_length=2, description="Lowest level first.")
    indicators: list[Indicator] = Field(default_factory=list)
    brag: BragTable
    threshold_decision_within: Duration
    consent: ConsentPolicy
    enquiries: EnquiriesPolicy = Field(default_factory=EnquiriesPolicy)
    clocks: list[ClockRule] = Field(
        default_factory=list,
        description="Clocks that replace the defaults of the same name (the SLA timekeeper).")
    calendar: Literal["england"] = Field(
        default="england", description="Working days: weekends and England's bank holidays."
    )
    working_day_rule: DayCountRule = Field(
        default=DayCountRule.END_OF_NTH_WORKING_DAY,
        description="How 'within N working days' becomes an instant (docs/working-days.md).",
    )
    plain_words: PlainWords = Field(
        default_factory=PlainWords,
        description="Phrases read in the referrer's own words (issue 20; mashcore/plainwords.py):"
        " a partnership's rules add to default.yaml's.")
    contact_time_limit_days: int = Field(
        default=7, gt=0, le=90,
        description="How far back hub staff may record or correct when a contact came in "
        "(a phone call recorded later); the SLA clocks count from that time.")
    conference_reports_due_working_days_before: int = Field(
        default=2, ge=1, le=15,
        description="Agencies' written reports for a child protection conference are due at "
        "close of business this many working days before it (DOMAIN.md §7; Working Together "
        "leaves the date to local procedures).")
    recent_involvement_weeks: int | None = Field(
        default=None, gt=0, le=104,
        description="Medway's 12-week rule [003]: re-engage a social worker involved this "
        "recently. Null: off.",
    )
    escalation_ladder: list[EscalationStage] = Field(
        default_factory=default_escalation_ladder, min_length=1, max_length=10,
        description="The stages a professional disagreement goes up, stage 1 first.")
    cross_border_links: CrossBorderLinks | None = Field(
        default=None,
        description="Null (the default): another partnership's staff see nothing of this "
        "partnership's contacts linked to theirs. Set: they see that a link exists and whom "
        "to ask, never the reference or content.",
    )

    def working_calendar(self) -> WorkingCalendar:
        """The calendar this pack's timescales count on."""
        return _calendar(self.working_day_rule)

    def due(self, duration: Duration, start: datetime) -> datetime:
        """When ``duration`` from ``start`` ends on this pack's calendar."""
        return duration.after(start, self.working_calendar())

    def level(self, code: str) -> Level | None:
        return next((level for level in self.levels if level.code == code), None)

    def rank(self, code: str) -> int:
        """0 for the lowest level."""
        return [level.code for level in self.levels].index(code)

    def indicator(self, code: str) -> Indicator | None:
        return next((i for i in self.indicators if i.code == code), None)

    def escalation_stage(self, stage: int) -> EscalationStage | None:
        """The ladder's stage of that number, if the ladder has it."""
        return next((s for s in self.escalation_ladder if s.stage == stage), None)


@functools.cache
def _calendar(rule: DayCountRule) -> WorkingCalendar:
    return WorkingCalendar.england(day_count_rule=rule)


def reference_errors(pack: PolicyPack) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-references the schema cannot check: unique codes, indicators' levels."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    codes = [level.code for level in pack.levels]
    for i, level in enumerate(pack.levels):
        if codes.index(level.code) != i:
            errors.append((("levels", i, "code"), f"duplicate level code {level.code!r}"))
    seen: set[str] = set()
    for i, indicator in enumerate(pack.indicators):
        if indicator.level not in codes:
            errors.append((("indicators", i, "level"),
                           f"unknown level {indicator.level!r} (the levels are "
                           f"{', '.join(codes)})"))
        if indicator.code in seen:
            errors.append((("indicators", i, "code"),
                           f"duplicate indicator code {indicator.code!r}"))
        seen.add(indicator.code)
    for i, stage in enumerate(pack.escalation_ladder):
        if stage.stage != i + 1:
            errors.append((("escalation_ladder", i, "stage"),
                           f"stage {stage.stage} is listed {i + 1}: number the stages 1, 2, "
                           "3... in order"))
    errors += _plain_words_errors(pack, seen)
    return errors


def _plain_words_errors(pack: PolicyPack,
                        indicators: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
    """A pack's phrase rules (issue 20): unique codes, indicators of this pack, flag rules."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for i, rule in enumerate(pack.plain_words.rules):
        loc: tuple[str | int, ...] = ("plain_words", "rules", i)
        if rule.code in seen:
            errors.append(((*loc, "code"), f"duplicate rule code {rule.code!r}"))
        seen.add(rule.code)
        if rule.indicator is not None and rule.indicator not in indicators:
            errors.append(((*loc, "indicator"), f"unknown indicator {rule.indicator!r}"))
        if (rule.kind == "flag") != (rule.flag is not None):
            errors.append(((*loc, "flag"), "a flag rule names its flag; no other rule does"))
    return errors
