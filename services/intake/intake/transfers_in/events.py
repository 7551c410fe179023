"""The event a transfer-in announces: ``transfer-in.received``, once a team manager decides."""

from __future__ import annotations

import json
from typing import Any

from intake.events import TRANSFER_IN_RECEIVED
from intake.transfers_in.api_models import TRANSFER_FORM
from intake.transfers_in.models import TransferIn, conference_required

__all__ = ["TRANSFER_IN_RECEIVED", "transfer_in_received_data"]


def _child_for_event(child: dict[str, Any]) -> dict[str, Any]:
    data = {"first_name": child.get("first_name"), "last_name": child["last_name"],
            "date_of_birth": child.get("date_of_birth"), "unborn": bool(child.get("unborn"))}
    if data["unborn"]:
        data["expected_delivery_date"] = child.get("expected_delivery_date")
    return data


def transfer_in_received_data(transfer: TransferIn,
                              strategy_reason: str | None = None) -> dict[str, Any]:
    """The data of ``transfer-in.received.v1``, once the team manager has decided; with
    the reason when the decision asks strategy for a discussion."""
    assert transfer.decided_at is not None and transfer.arrangement is not None
    plan = json.loads(transfer.child_protection_plan)
    return {
        "transfer_id": transfer.id,
        "case_reference": transfer.case_reference,
        "received_at": transfer.received_at.isoformat(),
        "from_authority": transfer.from_authority,
        "transfer_form": TRANSFER_FORM,
        "children": [_child_for_event(c) for c in json.loads(transfer.children)],
        "child_protection_plan": {
            "categories_of_abuse": plan["categories_of_abuse"],
            "plan_started_on": plan["plan_started_on"],
            "next_review_due_on": plan.get("next_review_due_on"),
        },
        "arrangement": transfer.arrangement,
        "decided_by": {"user_id": transfer.decided_by, "role": transfer.decided_by_role},
        "decided_at": transfer.decided_at.isoformat(),
        "transfer_in_conference_required": conference_required(transfer.arrangement),
        "strategy_discussion_required": strategy_reason is not None,
        "strategy_discussion_reason": strategy_reason,
    }
