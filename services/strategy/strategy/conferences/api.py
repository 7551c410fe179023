"""The conference API: staff schedule, agencies' reports come in, the IRO records the
conference held; staff, IROs and invited practitioners read it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field, model_validator

from mashcore.auth import CurrentPrincipal, Principal, Role, require_roles
from mashcore.problems import problem_responses
from mashcore.service import Context, ServiceContext
from mashcore.strict_types import IsoDate, IsoDateTime, StrictBool
from strategy.api_models import Agency, Body, Format, LongText, PractitionerRole, Text, UserId
from strategy.api_models import Short as Place
from strategy.conferences import cancellation, core_groups, icpc, plans, reviews
from strategy.conferences.arrangements import Arrangement

Organiser = Annotated[Principal, Depends(require_roles(
    Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.BUSINESS_SUPPORT))]
Iro = Annotated[Principal, Depends(require_roles(Role.IRO))]
Readers = Annotated[Principal, Depends(require_roles(
    Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.BUSINESS_SUPPORT, Role.IRO))]
FamilyRole = Literal["child", "parent_or_carer", "family_member", "supporter", "advocate"]
Category = Literal["neglect", "physical", "emotional", "sexual"]


class ParticipantIn(Body):
    """A practitioner (role, agency, user id if they have one) or a family-side participant
    by role only: no agency, no user id, never a name."""

    role: PractitionerRole | FamilyRole
    agency: Agency | None = None
    user_id: UserId | None = None

    @model_validator(mode="after")
    def _shape(self) -> ParticipantIn:
        family = self.role in ("child", "parent_or_carer", "family_member", "supporter",
                               "advocate")
        if family and (self.agency or self.user_id):
            raise ValueError("a family-side participant has a role only")
        if not family and not self.agency:
            raise ValueError("a practitioner needs an agency")
        return self


class ArrangementIn(Body):
    """How and where, for the calendar invite (each optional; without an end the invite
    lasts an hour)."""

    format: Format | None = Field(default=None, description="A meeting in person, an "
                                  "online meeting or phone calls.")
    ends_at: IsoDateTime | None = Field(default=None, description="When it is planned to "
                                        "end: after scheduled_for.")
    location: Place | None = Field(default=None, description="For a meeting in person "
                                   "(required then): an office address, never the family's.")
    dial_in: Place | None = Field(default=None, description="For an online meeting or phone "
                                  "calls (required then): the link or number to join.")

    def arrangement(self) -> Arrangement:
        return Arrangement(format=self.format, ends_at=self.ends_at, location=self.location,
                           dial_in=self.dial_in)


class IcpcScheduleIn(ArrangementIn):
    """Arrange (or re-arrange) the ICPC."""

    scheduled_for: IsoDateTime = Field(description="When it takes place.")
    chaired_by_iro: UserId = Field(description="The chairing IRO's user id (invited).")
    invitees: list[ParticipantIn] = Field(
        min_length=1, max_length=100, description="Practitioners by role and agency; the "
        "family (and the child where appropriate), supporters and advocates by role only. "
        "At least a social worker, and the family unless family_not_invited_reason.")
    family_not_invited_reason: Text | None = None


class ChildDecisionIn(Body):
    """The conference's decision for one child."""

    child_number: Annotated[int, Field(ge=1, le=50, strict=True)]
    plan: StrictBool = Field(description="Likely to suffer significant harm: a child "
                             "protection plan is made.")
    category_of_abuse: list[Category] = Field(default_factory=list, max_length=4)
    core_group: list[ParticipantIn] = Field(default_factory=list, max_length=50)
    outline_plan: Text | None = None
    first_review_due_on: IsoDate | None = Field(
        default=None, description="The first review conference: within 3 months.")


class IcpcHeldIn(Body):
    """The ICPC as held: attendance and a decision per child."""

    held_at: IsoDateTime
    attendees: list[ParticipantIn] = Field(min_length=1, max_length=100)
    decisions: list[ChildDecisionIn] = Field(min_length=1, max_length=50)
    decision_summary: Text | None = None


class ActionIn(Body):
    """A plan action: what, by whom (role, and agency for a practitioner), by when."""

    what: Text
    owner_role: PractitionerRole | FamilyRole
    owner_agency: Agency | None = None
    due_on: IsoDate


ActionStatus = Literal["open", "in_progress", "done", "not_done", "no_longer_needed"]


class ActionUpdateIn(Body):
    action_id: Annotated[str, Field(min_length=36, max_length=36)]
    status: ActionStatus
    note: Text | None = None


class ActionsIn(Body):
    """Add actions to the plan, or update their status."""

    new_actions: list[ActionIn] = Field(default_factory=list, max_length=100)
    action_updates: list[ActionUpdateIn] = Field(default_factory=list, max_length=200)


class CopyIn(Body):
    """The child was given a copy of the plan in appropriate language."""

    given_on: IsoDate
    form: Literal["written", "easy_read", "translated", "audio", "braille", "verbal", "other"]
    language: Annotated[str, Field(min_length=2, max_length=40)] | None = Field(
        default=None, description="The language of the copy, when not English.")


class CoreGroupScheduleIn(ArrangementIn):
    """Arrange the plan's next core group (a pending one is re-arranged)."""

    scheduled_for: IsoDateTime
    invitees: list[ParticipantIn] = Field(min_length=1, max_length=100)


class CoreGroupHeldIn(Body):
    """The core group as held: attendance and the plan's actions as it updated them."""

    held_at: IsoDateTime
    attendees: list[ParticipantIn] = Field(min_length=1, max_length=100)
    action_updates: list[ActionUpdateIn] = Field(default_factory=list, max_length=200)
    new_actions: list[ActionIn] = Field(default_factory=list, max_length=100)


class CoreGroupMinutesIn(Body):
    minutes: LongText


class ReviewScheduleIn(ArrangementIn):
    """Arrange the plan's next review conference (a pending one is re-arranged)."""

    scheduled_for: IsoDateTime
    chaired_by_iro: UserId
    invitees: list[ParticipantIn] = Field(min_length=1, max_length=100)


class ReviewHeldIn(Body):
    """The review as held: the plan continues, changes, or ends (closed or stepped down)."""

    held_at: IsoDateTime
    attendees: list[ParticipantIn] = Field(min_length=1, max_length=100)
    decision: Literal["continue", "change", "end", "step_down_child_in_need",
                      "step_down_early_help"]
    category_of_abuse: list[Category] = Field(
        default_factory=list, max_length=4, description="When it continues or changes.")
    next_review_due_on: IsoDate | None = Field(
        default=None, description="When it continues or changes: within 6 months.")
    rationale: Text


CancelReason = Literal["chair_unavailable", "key_practitioners_unavailable",
                       "family_unavailable", "reports_not_ready",
                       "venue_or_dial_in_unavailable", "arranged_in_error"]


class MeetingCancelIn(Body):
    """Call off a scheduled meeting: a reason code only (no free text, no names). The
    statutory due date is unchanged: reschedule it."""

    reason: CancelReason = Field(description="; ".join(
        f"`{code}`: {words}" for code, words in cancellation.REASONS.items()))


def router(_ctx: ServiceContext) -> list[APIRouter]:
    """The conferences' routes."""
    api = APIRouter(prefix="/v1", responses=problem_responses())

    @api.get("/conferences", tags=["conferences"])
    def list_conferences(ctx: Context, principal: Readers, held: bool | None = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                         ) -> list[dict[str, Any]]:
        """Your partnership's conferences (those you may see; ``held=false``: those still
        to hold), the earliest deadline first; no names, no free text. Audited."""
        return icpc.list_visible(ctx, principal, held, limit)

    @api.get("/cases/{case_reference}/conferences", tags=["conferences"])
    def case_conferences(case_reference: str, ctx: Context,
                         principal: Readers) -> list[dict[str, Any]]:
        """A case's child protection conferences, with their due dates. Audited."""
        return icpc.list_for_case(ctx, principal, case_reference)

    @api.get("/conferences/{meeting_id}", tags=["conferences"])
    def read_conference(meeting_id: str, ctx: Context,
                        principal: CurrentPrincipal) -> dict[str, Any]:
        """One conference: staff and IROs; an invited practitioner sees the conference, its
        reports' status and the decisions, not the case file. Audited."""
        return icpc.read(ctx, principal, meeting_id)

    @api.post("/conferences/{meeting_id}/schedule", tags=["conferences"],
              responses=problem_responses(409, 422))
    def schedule_conference(meeting_id: str, body: IcpcScheduleIn, ctx: Context,
                            principal: Organiser) -> dict[str, Any]:
        """Schedule or reschedule the ICPC (due within 15 working days of the strategy
        discussion that started the s47); each invited agency owes a written report."""
        return icpc.schedule(ctx, principal, meeting_id, icpc.Schedule(
            scheduled_for=body.scheduled_for, chaired_by_iro=body.chaired_by_iro,
            invitees=[p.model_dump(exclude_none=True) for p in body.invitees],
            family_not_invited_reason=body.family_not_invited_reason,
            arrangement=body.arrangement()))

    @api.post("/conferences/{meeting_id}/cancel", tags=["conferences"],
              responses=problem_responses(403, 409, 422))
    def cancel_conference(meeting_id: str, body: MeetingCancelIn, ctx: Context,
                          principal: Organiser) -> dict[str, Any]:
        """Call off the scheduled ICPC (409 once held): the invitees get a calendar
        cancellation. Its clock keeps running (still due within 15 working days of the
        strategy discussion): schedule it again."""
        return icpc.cancel(ctx, principal, meeting_id, reason=body.reason)

    @api.post("/conferences/{meeting_id}/reports/{agency}/received", tags=["conferences"],
              responses=problem_responses(403, 404))
    def report_received(meeting_id: str, agency: Agency, ctx: Context,
                        principal: CurrentPrincipal) -> dict[str, Any]:
        """An agency's written report is in (staff, or that agency's invited
        practitioner)."""
        return icpc.report_received(ctx, principal, meeting_id, agency)

    @api.post("/conferences/{meeting_id}/held", tags=["conferences"],
              responses=problem_responses(403, 409, 422))
    def conference_held(meeting_id: str, body: IcpcHeldIn, ctx: Context,
                        principal: Iro) -> dict[str, Any]:
        """The chairing IRO records the ICPC held: a decision per child; a plan needs a
        category of abuse, a core group and a first review within 3 months (422 naming
        the field otherwise)."""
        return icpc.record_held(ctx, principal, meeting_id, icpc.Held(
            held_at=body.held_at,
            attendees=[p.model_dump(exclude_none=True) for p in body.attendees],
            decisions=[{**d.model_dump(exclude_none=True, exclude={"core_group"}),
                        "core_group": [p.model_dump(exclude_none=True)
                                       for p in d.core_group]} for d in body.decisions],
            decision_summary=body.decision_summary))

    @api.get("/cases/{case_reference}/plans", tags=["child protection plans"])
    def case_plans(case_reference: str, ctx: Context,
                   principal: Readers) -> list[dict[str, Any]]:
        """A case's child protection plans, one per child. Audited."""
        return plans.list_for_case(ctx, principal, case_reference)

    @api.get("/plans/{plan_id}", tags=["child protection plans"])
    def read_plan(plan_id: str, ctx: Context, principal: CurrentPrincipal) -> dict[str, Any]:
        """One plan with its actions and core groups: staff, IROs and its core group
        members. Audited."""
        return plans.read(ctx, principal, plan_id)

    @api.post("/plans/{plan_id}/actions", tags=["child protection plans"],
              responses=problem_responses(403, 409, 422))
    def plan_actions(plan_id: str, body: ActionsIn, ctx: Context,
                     principal: Organiser) -> dict[str, Any]:
        """Add actions (what, by whom, by when) or update their status."""
        return plans.change_actions(
            ctx, principal, plan_id, new=[a.model_dump() for a in body.new_actions],
            updates=[u.model_dump(exclude_none=True) for u in body.action_updates])

    @api.post("/plans/{plan_id}/copy-given-to-child", tags=["child protection plans"],
              responses=problem_responses(403, 422))
    def plan_copy(plan_id: str, body: CopyIn, ctx: Context,
                  principal: Organiser) -> dict[str, Any]:
        """Record that the child was given a copy of the plan, when and in what form."""
        return plans.copy_given(ctx, principal, plan_id, given_on=body.given_on,
                                form=body.form, language=body.language)

    @api.post("/plans/{plan_id}/core-groups", tags=["core groups"],
              responses=problem_responses(403, 409, 422))
    def schedule_core_group(plan_id: str, body: CoreGroupScheduleIn, ctx: Context,
                            principal: Organiser) -> dict[str, Any]:
        """Arrange the plan's next core group: the first is due within 10 working days of
        the ICPC (chaired by the team manager), later ones are chaired by the social
        worker."""
        return core_groups.schedule(
            ctx, principal, plan_id, scheduled_for=body.scheduled_for,
            invitees=[p.model_dump(exclude_none=True) for p in body.invitees],
            arrangement=body.arrangement())

    @api.get("/core-groups/{meeting_id}", tags=["core groups"])
    def read_core_group(meeting_id: str, ctx: Context,
                        principal: CurrentPrincipal) -> dict[str, Any]:
        """One core group meeting. Audited."""
        return core_groups.read(ctx, principal, meeting_id)

    @api.post("/core-groups/{meeting_id}/held", tags=["core groups"],
              responses=problem_responses(403, 409, 422))
    def core_group_held(meeting_id: str, body: CoreGroupHeldIn, ctx: Context,
                        principal: CurrentPrincipal) -> dict[str, Any]:
        """The chair records it held, with the plan's actions as updated; minutes are due
        within 5 working days."""
        return core_groups.record_held(ctx, principal, meeting_id, core_groups.Held(
            held_at=body.held_at,
            attendees=[p.model_dump(exclude_none=True) for p in body.attendees],
            action_updates=[u.model_dump(exclude_none=True) for u in body.action_updates],
            new_actions=[a.model_dump() for a in body.new_actions]))

    @api.post("/core-groups/{meeting_id}/minutes", tags=["core groups"],
              responses=problem_responses(403, 409, 422))
    def core_group_minutes(meeting_id: str, body: CoreGroupMinutesIn, ctx: Context,
                           principal: CurrentPrincipal) -> dict[str, Any]:
        """The chair signs off and circulates the minutes."""
        return core_groups.circulate_minutes(ctx, principal, meeting_id,
                                             minutes=body.minutes)

    @api.post("/core-groups/{meeting_id}/cancel", tags=["core groups"],
              responses=problem_responses(403, 409, 422))
    def cancel_core_group(meeting_id: str, body: MeetingCancelIn, ctx: Context,
                          principal: Organiser) -> dict[str, Any]:
        """Call off the scheduled core group (409 once held); the plan's next core group
        arrangement reinstates it. The first core group is still due within 10 working
        days of the ICPC."""
        return core_groups.cancel(ctx, principal, meeting_id, reason=body.reason)

    @api.post("/plans/{plan_id}/reviews", tags=["review conferences"],
              responses=problem_responses(403, 409, 422))
    def schedule_review(plan_id: str, body: ReviewScheduleIn, ctx: Context,
                        principal: Organiser) -> dict[str, Any]:
        """Arrange the plan's next review conference, chaired by an IRO: due on the date
        the ICPC (first, within 3 months) or the previous review (within 6 months) set."""
        return reviews.schedule(
            ctx, principal, plan_id, scheduled_for=body.scheduled_for,
            chaired_by_iro=body.chaired_by_iro,
            invitees=[p.model_dump(exclude_none=True) for p in body.invitees],
            arrangement=body.arrangement())

    @api.get("/review-conferences/{meeting_id}", tags=["review conferences"])
    def read_review(meeting_id: str, ctx: Context,
                    principal: CurrentPrincipal) -> dict[str, Any]:
        """One review conference (staff, IROs, invitees). Audited."""
        return reviews.read(ctx, principal, meeting_id)

    @api.post("/review-conferences/{meeting_id}/cancel", tags=["review conferences"],
              responses=problem_responses(403, 409, 422))
    def cancel_review(meeting_id: str, body: MeetingCancelIn, ctx: Context,
                      principal: Organiser) -> dict[str, Any]:
        """Call off the scheduled review conference (409 once held); the plan's next review
        arrangement reinstates it, still due on the same date."""
        return reviews.cancel(ctx, principal, meeting_id, reason=body.reason)

    @api.post("/review-conferences/{meeting_id}/held", tags=["review conferences"],
              responses=problem_responses(403, 409, 422))
    def review_held(meeting_id: str, body: ReviewHeldIn, ctx: Context,
                    principal: Iro) -> dict[str, Any]:
        """The chairing IRO records the review: continue or change (categories and the
        next review within 6 months), or end the plan: close, step down to a child in need
        plan or early help (plan.ended; the plan's clocks are cancelled)."""
        return reviews.record_held(ctx, principal, meeting_id, reviews.Held(
            held_at=body.held_at,
            attendees=[p.model_dump(exclude_none=True) for p in body.attendees],
            decision=body.decision, category_of_abuse=list(body.category_of_abuse),
            next_review_due_on=body.next_review_due_on, rationale=body.rationale))

    return [api]
