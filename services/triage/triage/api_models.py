"""Request bodies of triage's API, with the descriptions the OpenAPI page shows."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mashcore.strict_types import StrictBool

Brag = Literal["blue", "green", "amber", "red"]
Route = Literal["nfa", "information_and_advice", "early_help", "mash_enquiries",
                "strategy_discussion", "allocated_worker"]
Consent = Literal["given", "refused", "not_sought", "unknown"]
Basis = Literal[
    "seeking_consent_would_risk_significant_harm",
    "seeking_consent_would_prejudice_crime_prevention_or_detection",
    "consent_refused_safeguarding_concern",
    "consent_not_obtainable_in_time",
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000,
                                        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=10000,
                                            pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
Indicators = Annotated[list[Code], Field(max_length=200)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RatingIn(Body):
    """The information officer's initial BRAG rating (DOMAIN.md §1, §6)."""

    brag: Brag = Field(description="Blue: information or NFA; Green: early help; Amber: "
                       "MASH action; Red: immediate safeguarding concern (your partnership's "
                       "meanings: GET /v1/policy).")
    safeguarding_concerns: StrictBool = Field(
        description="Are there safeguarding concerns? With none and no consent the contact "
        "is not accepted as a referral: it goes to the consent gate (DOMAIN.md §5).")
    consent_to_referral: Consent | None = Field(
        default=None, description="What you found when you checked consent; leave out to "
        "keep the referral's answer.")
    indicators: Indicators = Field(
        default_factory=list, description="Threshold indicators you see in the referral, as "
        "codes of your partnership's pack (GET /v1/policy).")
    rationale: Text | None = Field(default=None, description="Why this rating.")


class ConsentGateIn(Body):
    """The consent gate's exit (DOMAIN.md §5)."""

    outcome: Literal["returned_to_referrer", "early_help_hub", "closed"] = Field(
        description="Return to the referrer to discuss with the family (now); forward to the "
        "Early Help Hub or close (once a team manager agrees).")
    rationale: Text = Field(description="Why.")


class GateAgreementIn(Body):
    """A team manager's answer to an information officer's gate exit."""

    agree: StrictBool = Field(description="Agree the exit; false sends the case to a threshold "
                        "decision instead.")
    note: Text | None = None


class DecisionIn(Body):
    """The team manager's threshold decision (DOMAIN.md §6)."""

    level_code: Code = Field(description="Your partnership's level of need, e.g. `L3` "
                             "(GET /v1/policy lists the levels).")
    brag: Brag = Field(description="The final BRAG rating.")
    route: Route = Field(description="What happens next; each BRAG allows the routes your "
                         "partnership's pack lists.")
    rationale: LongText = Field(description="Why: required, and kept with the decision.")
    indicators: Indicators = Field(
        default_factory=list, description="More threshold indicators you see (codes).")
    consent_to_referral: Consent | None = Field(
        default=None, description="Consent as it now stands, if it has changed.")
    proceeding_without_consent: StrictBool = Field(
        default=False, description="Proceed without the family's consent: Amber or Red only, "
        "with the reason and the lawful basis; consent is revisited (DOMAIN.md §5).")
    without_consent_reason: Text | None = None
    without_consent_basis: Basis | None = None


class ReRatingIn(Body):
    """A change of BRAG, e.g. when new information arrives (the history is kept)."""

    brag: Brag
    reason: Text = Field(description="Why the rating changes.")
    route: Route | None = Field(
        default=None, description="After the threshold decision: the new route, when the new "
        "colour does not allow the current one (e.g. NFA re-rated Red → `mash_enquiries`).")


class ConsentReviewIn(Body):
    """The revisit of a decision to proceed without consent (DOMAIN.md §5)."""

    consent_to_referral: Literal["given", "refused", "not_sought", "withdrawn",
                                 "not_obtainable"] = Field(
        description="Consent as it now stands: `given` ends any decision to proceed without "
        "it; anything else needs one (Amber or Red only), with the basis.")
    reason: Text = Field(description="What was tried, and why the case goes on as it does.")
    basis: Basis | None = Field(default=None, description="Required unless consent is given.")
