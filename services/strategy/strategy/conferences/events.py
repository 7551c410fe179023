"""The conference events (contracts/events/mash.strategy.icpc.*), built from the rows:
identifiers, dates, practitioners by role, agency and user id, family by role only; never
a child's name (children are numbered by their place in the referral)."""

from __future__ import annotations

import json
from typing import Any

from strategy.conferences import arrangements
from strategy.conferences.models import ChildProtectionPlan, Conference

ICPC_SCHEDULED = "mash.strategy.icpc.scheduled.v1"
ICPC_HELD = "mash.strategy.icpc.held.v1"


def icpc_scheduled(c: Conference, organiser: dict[str, str] | None = None) -> dict[str, Any]:
    """``icpc.scheduled.v1``: what a calendar invite needs (notifications sends it): the
    meeting id as the invite's stable id, its sequence (0, then one more per reschedule)
    and the organiser, named as on ``discussion.scheduled``."""
    assert c.scheduled_for is not None and c.scheduled_at is not None
    return {
        "meeting_id": c.id, "case_reference": c.case_reference,
        "conference_kind": c.conference_kind,
        "s47_strategy_meeting_id": c.s47_strategy_meeting_id,
        "s47_started_at": c.s47_started_at.isoformat() if c.s47_started_at else None,
        **({"chaired_by_iro": c.chaired_by_iro} if c.chaired_by_iro else {}),
        "scheduled_for": c.scheduled_for.isoformat(), "invitees": json.loads(c.invitees),
        "rescheduled": c.sequence > 0, "scheduled_at": c.scheduled_at.isoformat(),
        "sequence": c.sequence, **arrangements.fields(c),
        **({"organiser": organiser} if organiser else {}),
    }


def icpc_held(c: Conference, decision: dict[str, Any],
              plan: ChildProtectionPlan | None) -> dict[str, Any]:
    """``icpc.held.v1`` for one child: stops the s47's icpc clock (a transfer-in
    conference: its transfer's own clock, by transfer_id); with a plan, starts the plan's
    first_core_group and first_review_conference clocks (keyed by plan_id)."""
    assert c.held_at is not None and c.chaired_by_iro is not None
    return {
        "meeting_id": c.id, "case_reference": c.case_reference,
        "conference_kind": c.conference_kind, "held_at": c.held_at.isoformat(),
        "chaired_by_iro": c.chaired_by_iro, "attendees": json.loads(c.attendees),
        "plan_made": plan is not None, "plan_id": plan.id if plan else None,
        "category_of_abuse": json.loads(plan.category_of_abuse) if plan else [],
        "core_group": json.loads(plan.core_group) if plan else [],
        "first_review_due_on": plan.first_review_due_on.isoformat() if plan else None,
        **({"decision_summary": c.decision_summary} if c.decision_summary else {}),
        "strategy_meeting_id": c.s47_strategy_meeting_id,
        "child_number": decision["child_number"],
        **({"transfer_id": c.transfer_id} if c.transfer_id else {}),
    }
