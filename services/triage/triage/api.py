"""Triage's REST API for information officers and team managers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from mashcore.auth import CurrentPrincipal, Principal, Role, require_roles
from mashcore.problems import invalid_fields, problem_responses
from mashcore.service import Context, ServiceContext
from triage import access, calibration, flags, policy_view, queues, workflow
from triage.api_models import (
    Brag,
    ConsentGateIn,
    ConsentReviewIn,
    DecisionIn,
    GateAgreementIn,
    RatingIn,
    ReRatingIn,
)

HubStaff = Annotated[
    Principal, Depends(require_roles(Role.INFORMATION_OFFICER, Role.TEAM_MANAGER))
]
TeamManager = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER))]
InformationOfficer = Annotated[Principal, Depends(require_roles(Role.INFORMATION_OFFICER))]
Limit = Annotated[int, Query(ge=1, le=1000)]
BragFilter = Annotated[list[Brag] | None, Query(description="Only these BRAG ratings "
                                                "(the final one if decided, else the initial).")]
PartnershipFilter = Annotated[str | None, Query(description="Your own partnership's code; "
                                                "another partnership's is refused.")]

QUEUE_HELP = {
    "rating": "Information officers: new contacts to rate, and contacts at the consent gate.",
    "decisions": "Team managers: contacts awaiting the threshold decision, and consent-gate "
                 "exits awaiting agreement.",
    "consent-revisits": "Team managers: cases proceeding without consent, by revisit date.",
    "open": "Everything not yet decided.",
}


def router(_ctx: ServiceContext) -> list[APIRouter]:
    """Triage's routes."""
    api = APIRouter(prefix="/v1", responses=problem_responses())

    @api.get("/policy", tags=["policy"])
    def own_policy(ctx: Context, principal: CurrentPrincipal) -> dict[str, Any]:
        """Your partnership's policy pack: levels of need, threshold indicators (with the
        codes to tick), BRAG meanings, routes and timescales."""
        return policy_view.pack_view(
            ctx.policy.for_partnership(access.partnership_of(ctx, principal)))

    @api.get("/policy/{partnership}", tags=["policy"])
    def partnership_policy(partnership: str, ctx: Context,
                           _principal: CurrentPrincipal) -> dict[str, Any]:
        """A partnership's policy pack (threshold documents are public; the default pack
        applies to a partnership without its own)."""
        return policy_view.pack_view(ctx.policy.for_partnership(partnership))

    @api.get("/calibration", tags=["policy"])
    def calibration_report(
        ctx: Context,
        principal: Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER, Role.OPS))],
    ) -> dict[str, Any]:
        """Threshold decisions against the suggestions of decision support, per pack
        version: how often managers confirm a suggested level or BRAG, and which they
        override to what. Counts only: no cases, no personal data."""
        return calibration.calibration(ctx, access.partnership_of(ctx, principal))

    @api.get("/queues/{queue}", tags=["queues"])
    def work_queue(
        queue: Literal["rating", "decisions", "consent-revisits", "open"],
        ctx: Context,
        principal: HubStaff,
        brag: BragFilter = None,
        partnership: PartnershipFilter = None,
        limit: Limit = 200,
    ) -> list[dict[str, Any]]:
        """A work queue of your partnership, most urgent deadline first.

        `rating`: new contacts to rate and consent-gate exits (information officers);
        `decisions`: threshold decisions and gate agreements (team managers);
        `consent-revisits`: cases proceeding without consent; `open`: everything undecided.
        Entries carry no child's details; open a case to see them (audited).
        """
        return queues.work_queue(ctx, principal, queue, partnership=partnership,
                                 brag=brag or [], limit=limit)

    @api.get("/cases", tags=["cases"])
    def list_cases(
        ctx: Context,
        principal: HubStaff,
        status: str | None = None,
        brag: BragFilter = None,
        limit: Limit = 200,
    ) -> list[dict[str, Any]]:
        """All your partnership's cases by threshold-decision deadline, optionally by status."""
        return queues.work_queue(ctx, principal, "all", partnership=None, brag=brag or [],
                                 limit=limit, status=status)

    @api.get("/cases/{case_reference}", tags=["cases"])
    def get_case(case_reference: str, ctx: Context, principal: HubStaff) -> dict[str, Any]:
        """One case: the children, the concern, what the referral said about consent and
        risk, the suggested level with the indicators that explain it, and the rating
        history. Every read is audited."""
        return workflow.read_case(ctx, principal, case_reference)

    @api.post("/cases/{case_reference}/rating", tags=["information officer"],
              responses=problem_responses(409, 422))
    def rate(case_reference: str, body: RatingIn, ctx: Context,
             principal: HubStaff) -> dict[str, Any]:
        """Give the initial BRAG. With no safeguarding concerns and no consent the case
        goes to the consent gate; otherwise to the team manager's threshold decision."""
        return workflow.rate(ctx, principal, case_reference, workflow.Rating(
            brag=body.brag, safeguarding_concerns=body.safeguarding_concerns,
            consent_to_referral=body.consent_to_referral, indicators=body.indicators,
            rationale=body.rationale))

    @api.post("/cases/{case_reference}/consent-gate", tags=["information officer"],
              responses=problem_responses(409, 422))
    def consent_gate(case_reference: str, body: ConsentGateIn, ctx: Context,
                     principal: InformationOfficer) -> dict[str, Any]:
        """Choose the consent gate's exit: return to the referrer (done at once), or
        forward to the Early Help Hub or close (a team manager must agree)."""
        return workflow.apply_consent_gate(ctx, principal, case_reference,
                                           outcome=body.outcome, rationale=body.rationale)

    @api.post("/cases/{case_reference}/consent-gate/agreement", tags=["team manager"],
              responses=problem_responses(409, 422))
    def agree_gate(case_reference: str, body: GateAgreementIn, ctx: Context,
                   principal: TeamManager) -> dict[str, Any]:
        """Agree the information officer's consent-gate exit, or send the case on to a
        threshold decision."""
        return workflow.agree_consent_gate(ctx, principal, case_reference, agree=body.agree,
                                           note=body.note)

    @api.post("/cases/{case_reference}/threshold-decision", tags=["team manager"],
              responses=problem_responses(409, 422))
    def decide(case_reference: str, body: DecisionIn, ctx: Context,
               principal: TeamManager) -> dict[str, Any]:
        """Record the threshold decision: level of need (your partnership's), final BRAG,
        route and rationale. The suggestion it confirms or overrides is kept with it."""
        return workflow.decide(ctx, principal, case_reference, workflow.Decision(
            level_code=body.level_code, brag=body.brag, route=body.route,
            rationale=body.rationale, indicators=body.indicators,
            consent_to_referral=body.consent_to_referral,
            proceeding_without_consent=body.proceeding_without_consent,
            without_consent_reason=body.without_consent_reason,
            without_consent_basis=body.without_consent_basis))

    @api.post("/cases/{case_reference}/re-rating", tags=["team manager"],
              responses=problem_responses(403, 409, 422))
    def re_rate(case_reference: str, body: ReRatingIn, ctx: Context,
                principal: HubStaff) -> dict[str, Any]:
        """Change the BRAG with a reason; the history is kept and the clocks follow the
        event. After the threshold decision only a team manager may."""
        return workflow.re_rate(ctx, principal, case_reference, brag=body.brag,
                                reason=body.reason, route=body.route)

    @api.post("/cases/{case_reference}/consent-review", tags=["team manager"],
              responses=problem_responses(409, 422))
    def review_consent(case_reference: str, body: ConsentReviewIn, ctx: Context,
                       principal: TeamManager) -> dict[str, Any]:
        """Consent after the decision: record consent now given (ending any decision to
        proceed without it), or refused, withdrawn or not obtainable and why the case goes
        on without it (Amber or Red only; consent is asked again later)."""
        if body.consent_to_referral == "given" and body.basis is not None:
            raise invalid_fields("Consent review refused", [
                ("basis", "a basis is only for going on without consent")])
        return workflow.review_consent(ctx, principal, case_reference,
                                       consent_to_referral=body.consent_to_referral,
                                       reason=body.reason, basis=body.basis)

    return [api, *flags.routers(_ctx)]  # issue 20: the domestic-abuse flag's answer
