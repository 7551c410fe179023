"""The events strategy publishes (contracts/events/mash.strategy.*), built from its rows.

Identifiers, codes, times, practitioners by role and agency (user ids, never names), and
the free text the contracts name as personal data; never a child's name: children are
numbered by their place in the referral.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from strategy.models import Discussion, Escalation, S47Enquiry

DISCUSSION_REQUESTED = "mash.strategy.discussion.requested.v1"
DISCUSSION_SCHEDULED = "mash.strategy.discussion.scheduled.v1"
DISCUSSION_CANCELLED = "mash.strategy.discussion.cancelled.v1"
DISCUSSION_HELD = "mash.strategy.discussion.held.v1"
MINUTES_CIRCULATED = "mash.strategy.minutes.circulated.v1"
S47_OUTCOME_RECORDED = "mash.strategy.s47-outcome.recorded.v1"
S47_ENQUIRY_OPENED = "mash.strategy.s47-enquiry.opened.v1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def practitioner(role: str, agency: str, user_id: str | None) -> dict[str, str]:
    """A practitioner as the contracts record one: role, agency and (if known) user id."""
    who = {"role": role, "agency": agency}
    if user_id:
        who["user_id"] = user_id
    return who


def discussion_requested(d: Discussion) -> dict[str, Any]:
    """``discussion.requested.v1``."""
    return {
        "meeting_id": d.id, "case_reference": d.case_reference, "trigger": d.trigger,
        "follows_meeting_id": d.follows_meeting_id,
        "requested_by": practitioner(d.requested_by_role, d.requested_by_agency,
                                     d.requested_by),
        **({"reason": d.reason} if d.reason else {}),
        "requested_at": d.requested_at.isoformat(), "urgency": d.urgency,
        "child_numbers": json.loads(d.child_numbers),
    }


def _organiser(d: Discussion) -> dict[str, str]:
    assert d.organiser_role is not None and d.organiser_id is not None
    return {"role": d.organiser_role, "user_id": d.organiser_id}


def discussion_scheduled(d: Discussion, *, at: datetime) -> dict[str, Any]:
    """``discussion.scheduled.v1``: all a calendar invite needs, no child's name."""
    assert d.starts_at is not None and d.format is not None and d.chair_id is not None
    return {
        "meeting_id": d.id, "case_reference": d.case_reference, "format": d.format,
        "scheduled_for": d.starts_at.isoformat(), "ends_at": _iso(d.ends_at),
        "location": d.location, "dial_in": d.dial_in, "organiser": _organiser(d),
        "chaired_by": d.chair_id, "invitees": json.loads(d.invitees),
        "referrer_invited": d.referrer_invited, "rescheduled": d.sequence > 0,
        "sequence": d.sequence,
        "child_numbers": json.loads(d.child_numbers), "scheduled_at": at.isoformat(),
    }


def discussion_cancelled(d: Discussion, *, at: datetime, organiser: dict[str, str],
                         ) -> dict[str, Any]:
    """``discussion.cancelled.v1``: the invitees' calendars drop the meeting."""
    assert d.starts_at is not None
    return {
        "meeting_id": d.id, "case_reference": d.case_reference,
        "scheduled_for": d.starts_at.isoformat(), "invitees": json.loads(d.invitees),
        "organiser": organiser, "sequence": d.sequence, "reason": d.cancelled_reason,
        "cancelled_at": at.isoformat(),
    }


def discussion_held(d: Discussion, *, starts_s47: bool) -> dict[str, Any]:
    """``discussion.held.v1``: starts_s47 when it opened any child's s47 enquiry (the
    ICPC clock runs from held_at); every held discussion starts the minutes clock."""
    assert d.held_at is not None and d.chair_id is not None and d.format is not None
    decisions = json.loads(d.s47_decisions)
    return {
        "meeting_id": d.id, "case_reference": d.case_reference, "format": d.format,
        "held_at": d.held_at.isoformat(), "chaired_by": d.chair_id,
        "attendees": json.loads(d.attendees), "apologies": json.loads(d.apologies),
        "s47_decision": any(x["s47_decision"] for x in decisions),
        "s47_decisions": decisions,
        "s47_decision_rationale": d.s47_decision_rationale, "starts_s47": starts_s47,
        "criminal_investigation": d.criminal_investigation,
        "criminal_investigation_start_by": _iso(d.criminal_investigation_start_by),
        "follows_meeting_id": d.follows_meeting_id, "minutes_due_at": _iso(d.minutes_due_at),
        "actions": json.loads(d.actions),
    }


def s47_enquiry_opened(d: Discussion, *, child_number: int,
                       enquiry_id: str) -> dict[str, Any]:
    """``s47-enquiry.opened.v1``: one per child whose s47 enquiry the discussion opened;
    starts that child's ICPC clock (meeting_id + child_number). No name."""
    assert d.held_at is not None
    return {"s47_enquiry_id": enquiry_id, "case_reference": d.case_reference,
            "meeting_id": d.id, "child_number": child_number,
            "opened_at": d.held_at.isoformat()}


def minutes_circulated(d: Discussion) -> dict[str, Any]:
    """``minutes.circulated.v1``: who signed them off, never the minutes themselves."""
    assert d.held_at is not None and d.signed_off_by is not None
    assert d.circulated_at is not None
    return {
        "meeting_id": d.id, "case_reference": d.case_reference,
        "meeting_kind": "strategy_discussion", "held_at": d.held_at.isoformat(),
        "signed_off_by": d.signed_off_by, "signed_off_by_role": "team_manager",
        "circulated_at": d.circulated_at.isoformat(),
    }


def s47_outcome_recorded(s47: S47Enquiry) -> dict[str, Any]:
    """``s47-outcome.recorded.v1``: recorded by the social worker, agreed by the team
    manager."""
    assert s47.recorded_by and s47.recorded_by_agency and s47.agreed_by
    assert s47.agreed_by_agency and s47.agreed_at is not None
    return {
        "case_reference": s47.case_reference, "strategy_meeting_id": s47.meeting_id,
        "s47_enquiry_id": s47.id, "child_number": s47.child_number,
        "outcome": s47.outcome, "next_step": s47.next_step, "rationale": s47.rationale,
        "recorded_by": practitioner("social_worker", s47.recorded_by_agency, s47.recorded_by),
        "agreed_by": practitioner("team_manager", s47.agreed_by_agency, s47.agreed_by),
        "agreement_rationale": s47.agreement_rationale,
        "agreed_at": s47.agreed_at.isoformat(), "concluded_at": s47.agreed_at.isoformat(),
    }


ESCALATION_RAISED = "mash.strategy.escalation.raised.v1"
ESCALATION_ANSWERED = "mash.strategy.escalation.answered.v1"


def escalation_raised(e: Escalation) -> dict[str, Any]:
    """``escalation.raised.v1``: starts the stage's clock."""
    return {
        "escalation_id": e.id, "case_reference": e.case_reference, "stage": e.stage,
        "raised_by": practitioner(e.raised_by_role, e.raised_by_agency, e.raised_by),
        "escalated_to": json.loads(e.escalated_to), "about": e.about, "summary": e.summary,
        "raised_at": e.stage_raised_at.isoformat(), "due_at": e.due_at.isoformat(),
    }


def escalation_answered(e: Escalation, *, answered_by: dict[str, str], resolved: bool,
                        resolution: str, at: datetime) -> dict[str, Any]:
    """``escalation.answered.v1``: stops the stage's clock."""
    return {
        "escalation_id": e.id, "case_reference": e.case_reference, "stage": e.stage,
        "answered_by": answered_by, "resolved": resolved, "resolution": resolution,
        "answered_at": at.isoformat(),
    }
