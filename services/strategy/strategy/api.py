"""The strategy API: social workers and team managers convene; business support organises;
police and health participants read the meetings they are part of."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Query

from mashcore.auth import CurrentPrincipal, Principal, Role, require_roles
from mashcore.policy.model import AnsweringTokenRole
from mashcore.problems import problem_responses
from mashcore.service import Context, ServiceContext
from strategy import discussions, escalations, s47
from strategy.api_models import (
    CancelIn,
    DiscussionRequestIn,
    EscalateIn,
    EscalationAnswerIn,
    EscalationIn,
    EscalationToAnswerOut,
    HeldIn,
    MinutesIn,
    S47AgreementIn,
    S47OutcomeIn,
    ScheduleIn,
)

Convener = Annotated[Principal, Depends(require_roles(Role.SOCIAL_WORKER, Role.TEAM_MANAGER))]
Organiser = Annotated[Principal, Depends(require_roles(
    Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.BUSINESS_SUPPORT))]
Chair = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER, Role.BUSINESS_SUPPORT))]
TeamManager = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER))]
SocialWorker = Annotated[Principal, Depends(require_roles(Role.SOCIAL_WORKER))]
Staff = Organiser
Professional = Annotated[Principal, Depends(require_roles(
    Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.NAVIGATOR, Role.INFORMATION_OFFICER, Role.IRO))]
Answerer = Annotated[Principal, Depends(require_roles(
    *(Role(role) for role in get_args(AnsweringTokenRole))))]
Limit = Annotated[int, Query(ge=1, le=1000)]
Status = Literal["requested", "scheduled", "cancelled", "held", "minutes_signed_off",
                 "minutes_circulated"]


def router(_ctx: ServiceContext) -> list[APIRouter]:
    """Strategy's routes."""
    api = APIRouter(prefix="/v1", responses=problem_responses())

    @api.post("/strategy-discussions", tags=["strategy discussions"], status_code=201,
              responses=problem_responses(404, 422))
    def request_discussion(body: DiscussionRequestIn, ctx: Context,
                           principal: Convener) -> dict[str, Any]:
        """Ask for a strategy discussion on any case of your partnership, open cases
        included, at any time: why, how urgent, about which children."""
        return discussions.request_discussion(
            ctx, principal, body.case_reference, discussions.Request(
                trigger=body.trigger, reason=body.reason, urgency=body.urgency,
                child_numbers=body.child_numbers, follows_meeting_id=body.follows_meeting_id))

    @api.get("/strategy-discussions", tags=["strategy discussions"])
    def list_discussions(ctx: Context, principal: Staff, status: Status | None = None,
                         limit: Limit = 200) -> list[dict[str, Any]]:
        """Your partnership's discussions, oldest request first; no names."""
        return discussions.list_open(ctx, principal, status, limit)

    @api.get("/strategy-discussions/{meeting_id}", tags=["strategy discussions"])
    def read_discussion(meeting_id: str, ctx: Context,
                        principal: CurrentPrincipal) -> dict[str, Any]:
        """One discussion: its schedule, what was decided and the minutes. Staff see the
        children's names; an invited police or health practitioner sees the meeting, not
        the case file. Audited."""
        return discussions.read(ctx, principal, meeting_id)

    @api.post("/strategy-discussions/{meeting_id}/schedule", tags=["strategy discussions"],
              responses=problem_responses(409, 422))
    def schedule(meeting_id: str, body: ScheduleIn, ctx: Context,
                 principal: Organiser) -> dict[str, Any]:
        """Schedule or reschedule: format, time, place or dial-in, chair and invitees by
        role and agency (at least a social worker, health and police; a missing one is a
        422 naming it). Each call is a new version of the same calendar invite."""
        return discussions.schedule(ctx, principal, meeting_id, discussions.Schedule(
            format=body.format, starts_at=body.starts_at, ends_at=body.ends_at,
            location=body.location, dial_in=body.dial_in, chair_id=body.chair_id,
            invitees=[p.model_dump(exclude_none=True) for p in body.invitees],
            invite_referrer=body.invite_referrer,
            referrer_not_invited_reason=body.referrer_not_invited_reason))

    @api.post("/strategy-discussions/{meeting_id}/cancel", tags=["strategy discussions"],
              responses=problem_responses(409, 422))
    def cancel(meeting_id: str, body: CancelIn, ctx: Context,
               principal: Organiser) -> dict[str, Any]:
        """Call off a scheduled discussion (it may be scheduled again)."""
        return discussions.cancel(ctx, principal, meeting_id, reason=body.reason)

    @api.post("/strategy-discussions/{meeting_id}/held", tags=["strategy discussions"],
              responses=problem_responses(409, 422))
    def held(meeting_id: str, body: HeldIn, ctx: Context, principal: Chair) -> dict[str, Any]:
        """Record the discussion as held: attendance, apologies, criminal investigation,
        the s47 decision per child (opening each child's s47 enquiry) and the actions."""
        return discussions.record_held(ctx, principal, meeting_id, discussions.Held(
            held_at=body.held_at,
            attendees=[p.model_dump(exclude_none=True) for p in body.attendees],
            apologies=[p.model_dump(exclude_none=True) for p in body.apologies],
            criminal_investigation=body.criminal_investigation,
            criminal_investigation_start_by=body.criminal_investigation_start_by,
            s47_decisions=_decisions(body),
            s47_decision_rationale=body.s47_decision_rationale,
            actions=[a.model_dump(mode="json") for a in body.actions]))

    @api.post("/strategy-discussions/{meeting_id}/minutes/sign-off",
              tags=["strategy discussions"], responses=problem_responses(403, 409, 422))
    def sign_off(meeting_id: str, body: MinutesIn, ctx: Context,
                 principal: TeamManager) -> dict[str, Any]:
        """The chairing team manager signs off the minutes."""
        return discussions.sign_off_minutes(ctx, principal, meeting_id, minutes=body.minutes)

    @api.post("/strategy-discussions/{meeting_id}/minutes/circulate",
              tags=["strategy discussions"], responses=problem_responses(409))
    def circulate(meeting_id: str, ctx: Context, principal: Chair) -> dict[str, Any]:
        """Circulate the signed-off minutes to the attendees (within 24 hours)."""
        return discussions.circulate_minutes(ctx, principal, meeting_id)

    @api.get("/cases/{case_reference}/strategy-discussions", tags=["cases"])
    def case_discussions(case_reference: str, ctx: Context,
                         principal: Staff) -> list[dict[str, Any]]:
        """A case's strategy discussions. Audited."""
        return discussions.list_for_case(ctx, principal, case_reference)

    @api.get("/cases/{case_reference}/s47-enquiries", tags=["s47 enquiries"])
    def case_s47(case_reference: str, ctx: Context, principal: Staff) -> list[dict[str, Any]]:
        """A case's s47 enquiries, one per child. Audited."""
        return s47.list_for_case(ctx, principal, case_reference)

    @api.get("/s47-enquiries/{enquiry_id}", tags=["s47 enquiries"])
    def read_s47(enquiry_id: str, ctx: Context, principal: Staff) -> dict[str, Any]:
        """One child's s47 enquiry. Audited."""
        return s47.read(ctx, principal, enquiry_id)

    @api.post("/s47-enquiries/{enquiry_id}/outcome", tags=["s47 enquiries"],
              responses=problem_responses(409, 422))
    def outcome(enquiry_id: str, body: S47OutcomeIn, ctx: Context,
                principal: SocialWorker) -> dict[str, Any]:
        """Record the outcome and its next step (the mapping is enforced: 422 naming
        next_step otherwise); a team manager then agrees it."""
        return s47.record_outcome(ctx, principal, enquiry_id, outcome=body.outcome,
                                  next_step=body.next_step, rationale=body.rationale)

    @api.post("/s47-enquiries/{enquiry_id}/agreement", tags=["s47 enquiries"],
              responses=problem_responses(409, 422))
    def agreement(enquiry_id: str, body: S47AgreementIn, ctx: Context,
                  principal: TeamManager) -> dict[str, Any]:
        """Agree the social worker's outcome with your rationale (it is then concluded and
        announced), or send it back."""
        return s47.agree_outcome(ctx, principal, enquiry_id, agree=body.agree,
                                 rationale=body.rationale)

    @api.post("/escalations", tags=["escalations"], status_code=201,
              responses=problem_responses(404, 422))
    def raise_disagreement(body: EscalationIn, ctx: Context,
                           principal: Professional) -> dict[str, Any]:
        """Raise a professional disagreement about a decision on a case, at stage 1 of the
        ladder; the stage answers within 5 working days (its clock runs on the dashboard)."""
        return escalations.raise_disagreement(
            ctx, principal, body.case_reference, about=body.about, summary=body.summary,
            escalated_to=body.escalated_to.model_dump())

    @api.get("/escalations", tags=["escalations"],
             response_model=list[EscalationToAnswerOut])
    def escalations_to_answer(ctx: Context, principal: Answerer,
                              limit: Limit = 200) -> list[dict[str, Any]]:
        """The disagreements waiting for your answer: your partnership's, at a stage escalated
        to you that your role answers on its ladder; the earliest answer deadline first; no
        names, no free text. Audited."""
        return escalations.list_to_answer(ctx, principal, limit)

    @api.get("/escalations/{escalation_id}", tags=["escalations"])
    def read_escalation(escalation_id: str, ctx: Context,
                        principal: CurrentPrincipal) -> dict[str, Any]:
        """A disagreement and its stages, for whoever raised or answers it and hub staff.
        Audited."""
        return escalations.read(ctx, principal, escalation_id)

    @api.post("/escalations/{escalation_id}/answer", tags=["escalations"],
              responses=problem_responses(403, 409, 422))
    def answer_escalation(escalation_id: str, body: EscalationAnswerIn, ctx: Context,
                          principal: CurrentPrincipal) -> dict[str, Any]:
        """Answer the stage escalated to you: resolved, or not (with your answer)."""
        return escalations.answer(ctx, principal, escalation_id, resolved=body.resolved,
                                  resolution=body.resolution)

    @api.post("/escalations/{escalation_id}/escalate", tags=["escalations"],
              responses=problem_responses(403, 409, 422))
    def escalate(escalation_id: str, body: EscalateIn, ctx: Context,
                 principal: CurrentPrincipal) -> dict[str, Any]:
        """Take an unresolved answer to the next stage (you raised the disagreement)."""
        return escalations.escalate(ctx, principal, escalation_id, summary=body.summary,
                                    escalated_to=body.escalated_to.model_dump())

    return [api]


def _decisions(body: HeldIn) -> dict[int, bool]:
    decided: dict[int, bool] = {}
    for d in body.s47_decisions:
        decided[d.child_number] = d.s47
    return decided
