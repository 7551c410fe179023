"""Every row of DOMAIN.md §8 as a clock rule, with durations from the partnership's pack.

A pack's own ``clocks`` replace the default of the same name. Events named here that no
service publishes yet (strategy's and notifications') simply never arrive until those
services exist; their clocks then run as configured.
"""

from __future__ import annotations

from typing import get_args

from intake import events as intake_events
from mashcore.policy import Duration, PolicyPack
from mashcore.policy.model import ClockRule, Route, Trigger

TRIAGE = "mash.triage."
ENQUIRIES = "mash.enquiries."
STRATEGY = "mash.strategy."
NOTIFY = "mash.notifications.notification.sent.v1"
RECEIVED = intake_events.CONTACT_RECEIVED
DISCUSSION = f"{STRATEGY}discussion.held.v1"
ICPC_HELD = f"{STRATEGY}icpc.held.v1"
CORE_GROUP = f"{STRATEGY}core-group.held.v1"
REVIEW = f"{STRATEGY}review-conference.held.v1"
ESCALATION = f"{STRATEGY}escalation.raised.v1"
S47_OPENED = f"{STRATEGY}s47-enquiry.opened.v1"
ICPC_CHILD = ["meeting_id", "child_number"]
CORRECTS = "corrects"
DAYS = "working_days"
ROUTES: tuple[str, ...] = get_args(Route)


def _t(event: str, at: str | None = None, *, instance: str | list[str] | None = None,
       reason_code: str | None = None,
       unless: dict[str, str | bool | int | list[str | bool | int | None] | None] | None = None,
       **when: str | bool | int | list[str | bool | int | None] | None) -> Trigger:
    return Trigger(event=event, at=at, when=dict(when), instance=instance,
                   reason_code=reason_code, unless=dict(unless or {}))


def _fix(event: str, at: str, *, instance: str | list[str],
         **when: str | bool | int | list[str | bool | int | None] | None) -> Trigger:
    """A strategy event correcting an earlier one's time (it carries ``corrects``)."""
    return Trigger(event=event, at=at, when=dict(when), instance=instance,
                   present=[CORRECTS])


def _d(amount: int, unit: str) -> Duration:
    return Duration.model_validate({"amount": amount, "unit": unit})


_BUILT: dict[int, tuple[PolicyPack, dict[str, ClockRule]]] = {}


def default_rules(pack: PolicyPack) -> dict[str, ClockRule]:
    """The §8 table for ``pack``, overridden by the pack's own ``clocks``; built once per
    pack (the timer asks for it for every clock it fires)."""
    built = _BUILT.get(id(pack))
    if built is None or built[0] is not pack:
        built = (pack, _build(pack))
        _BUILT[id(pack)] = built
    return built[1]


def _build(pack: PolicyPack) -> dict[str, ClockRule]:
    forwarded = _t(intake_events.FORWARDED_TO_ALLOCATED_WORKER,
                   reason_code="linked_to_open_case")
    # Hub staff corrected when the contact came in: its clocks count from the new time.
    time_corrected = [_t(intake_events.CONTACT_TIME_CORRECTED, "received_at")]
    # Feedback goes to professional referrers only (DOMAIN.md §7, §10): no feedback clock
    # for a member of the public or an anonymous referrer (intake's agency `public`), and
    # none for a linked referral the hub created itself (it is cancelled as it is announced,
    # right after its contact.received on the same partition).
    feedback_due = _t(RECEIVED, "received_at", unless={"referrer.agency": "public"})
    hub_created = _t(intake_events.LINKED_REFERRAL_CREATED,
                     reason_code="hub_created_linked_referral")
    plan_ended = _t(f"{STRATEGY}plan.ended.v1", "ended_at", instance="plan_id",
                    reason_code="plan_ended")
    rules = [
        # Locally from the contact; nationally (Working Together's one working day, the
        # Children in Need census) from when it became a referral, where that was later.
        ClockRule(clock="threshold_decision",
                  start=[_t(RECEIVED, "received_at")],
                  stop=[_t(f"{TRIAGE}threshold.decided.v1", "decided_at"),
                        _t(f"{TRIAGE}consent-gate.applied.v1", "applied_at")],
                  cancel=[forwarded],
                  correct=time_corrected,
                  national_return=[_t(intake_events.REFERRAL_ACCEPTED, "accepted_at")],
                  duration=pack.threshold_decision_within),
        ClockRule(clock="referrer_acknowledged",
                  start=[feedback_due],
                  stop=[_t(NOTIFY, "sent_at", kind="referrer_acknowledgement")],
                  cancel=[hub_created],
                  correct=time_corrected,
                  duration=_d(1, DAYS)),
        # The due time is the one triage set from the BRAG timescale; re-ratings move it.
        ClockRule(clock="mash_enquiries",
                  start=[_t(f"{TRIAGE}threshold.decided.v1", "decided_at",
                            route="mash_enquiries"),
                         _t(f"{TRIAGE}case.re-rated.v1", "re_rated_at",
                            new_route="mash_enquiries")],
                  stop=[_t(f"{ENQUIRIES}enquiries.completed.v1", "completed_at")],
                  # Re-routed elsewhere: the enquiries were not completed, they were ended.
                  cancel=[_t(f"{TRIAGE}case.re-rated.v1", "re_rated_at",
                             reason_code="route_changed",
                             new_route=[r for r in ROUTES if r != "mash_enquiries"])],
                  recompute=[_t(f"{TRIAGE}case.re-rated.v1", "re_rated_at",
                                reason_code="re_rated")],
                  due_field="enquiries_due_at", brag_field=["brag", "new_brag"]),
        ClockRule(clock="partner_information_request",
                  start=[_t(f"{ENQUIRIES}information.requested.v1", "requested_at",
                            instance="request_id")],
                  stop=[_t(f"{ENQUIRIES}information.provided.v1", "provided_at",
                           instance="request_id"),
                        _t(f"{ENQUIRIES}request.declined.v1", "declined_at",
                           instance="request_id")],
                  cancel=[_t(f"{ENQUIRIES}enquiries.completed.v1", reason_code="withdrawn")],
                  # A re-rating moves each outstanding request's deadline; enquiries
                  # announces every move, and the request's clock follows it.
                  recompute=[_t(f"{ENQUIRIES}request.deadline-changed.v1", "changed_at",
                                instance="request_id", reason_code="re_rated")],
                  due_field="deadline", brag_field="brag", agency_field="agency"),
        # Strategy's clocks run per discussion, plan, meeting or escalation stage, and only
        # an event carrying `corrects` corrects one: a second discussion is a second clock.
        ClockRule(clock="strategy_minutes",
                  start=[_t(DISCUSSION, "held_at", instance="meeting_id")],
                  stop=[_t(f"{STRATEGY}minutes.circulated.v1", "circulated_at",
                           instance="meeting_id", meeting_kind="strategy_discussion")],
                  correct=[_fix(DISCUSSION, "held_at", instance="meeting_id")],
                  duration=_d(24, "elapsed_hours")),
        # One per child whose s47 enquiry a strategy discussion opened (meeting + child):
        # one child's outcome without a conference never ends a sibling's clock; a corrected
        # held time is corrected per child (s47-enquiry.opened with `corrects`). An ICPC
        # held names its strategy discussion, not a child: it stops that discussion's
        # clocks, every child's (sla_timekeeper.clocks._instance).
        ClockRule(clock="icpc",
                  start=[_t(S47_OPENED, "opened_at", instance=ICPC_CHILD)],
                  # Only an initial conference meets it (a transfer-in conference has its
                  # own clock below); older producers send no conference_kind.
                  stop=[_t(ICPC_HELD, "held_at", instance=["strategy_meeting_id",
                                                           "child_number"],
                           conference_kind=["initial", None])],
                  cancel=[_t(f"{STRATEGY}s47-outcome.recorded.v1", reason_code="superseded",
                             instance=["strategy_meeting_id", "child_number"],
                             next_step=["no_further_action", "supportive_services",
                                        "plan_without_conference"])],
                  correct=[_fix(S47_OPENED, "opened_at", instance=ICPC_CHILD)],
                  duration=_d(15, DAYS)),
        # A family with a plan moving in permanently: the transfer-in conference is due 15
        # working days after the transfer form arrived (DOMAIN.md §7), one clock per
        # transfer. Its held event names no transfer: it meets the case's transfer-in
        # clocks only, never an s47's ICPC clock (nor does an initial ICPC meet this one).
        ClockRule(clock="transfer_in_conference",
                  start=[_t(intake_events.TRANSFER_IN_RECEIVED, "received_at",
                            instance="transfer_id", arrangement="permanent",
                            transfer_in_conference_required=True)],
                  stop=[_t(ICPC_HELD, "held_at", instance="transfer_id",
                           conference_kind="transfer_in")],
                  duration=_d(15, DAYS)),
        # The plan's clocks: one per child protection plan, ended with it.
        ClockRule(clock="first_core_group",
                  start=[_t(ICPC_HELD, "held_at", instance="plan_id", plan_made=True)],
                  stop=[_t(CORE_GROUP, "held_at", instance="plan_id", first=True)],
                  cancel=[plan_ended],
                  correct=[_fix(ICPC_HELD, "held_at", instance="plan_id", plan_made=True)],
                  duration=_d(10, DAYS)),
        ClockRule(clock="core_group_minutes",
                  start=[_t(CORE_GROUP, "held_at", instance="meeting_id")],
                  stop=[_t(f"{STRATEGY}minutes.circulated.v1", "circulated_at",
                           instance="meeting_id", meeting_kind="core_group")],
                  correct=[_fix(CORE_GROUP, "held_at", instance="meeting_id")],
                  duration=_d(5, DAYS)),
        ClockRule(clock="first_review_conference",
                  start=[_t(ICPC_HELD, "held_at", instance="plan_id", plan_made=True)],
                  stop=[_t(REVIEW, "held_at", instance="plan_id", first=True)],
                  cancel=[plan_ended],
                  correct=[_fix(ICPC_HELD, "held_at", instance="plan_id", plan_made=True)],
                  duration=_d(3, "calendar_months")),
        # Each review starts the clock for the next: the stop is processed before the start.
        ClockRule(clock="later_review_conference",
                  start=[_t(REVIEW, "held_at", instance="plan_id",
                            decision=["continue", "change"])],
                  stop=[_t(REVIEW, "held_at", instance="plan_id")],
                  cancel=[plan_ended],
                  correct=[_fix(REVIEW, "held_at", instance="plan_id",
                                decision=["continue", "change"])],
                  duration=_d(6, "calendar_months")),
        ClockRule(clock="referrer_outcome",
                  start=[feedback_due],
                  stop=[_t(NOTIFY, "sent_at", kind="referrer_outcome")],
                  cancel=[forwarded, hub_created],
                  correct=time_corrected,
                  duration=_d(5, DAYS)),
        # One per stage of a disagreement: stage 2 raised while stage 1 runs is another clock.
        ClockRule(clock="escalation_stage",
                  start=[_t(ESCALATION, "raised_at", instance=["escalation_id", "stage"])],
                  stop=[_t(f"{STRATEGY}escalation.answered.v1", "answered_at",
                           instance=["escalation_id", "stage"])],
                  correct=[_fix(ESCALATION, "raised_at", instance=["escalation_id", "stage"])],
                  # Strategy sets each stage's due time from the pack's ladder (`within`).
                  duration=_d(5, DAYS), due_field="due_at"),
    ]
    by_name: dict[str, ClockRule] = {rule.clock: rule for rule in rules}
    by_name.update({rule.clock: rule for rule in pack.clocks})
    return by_name
