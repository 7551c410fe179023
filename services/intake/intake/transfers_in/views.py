"""How a transfer-in reads over the API."""

from __future__ import annotations

import json

from intake.transfers_in.api_models import TRANSFER_FORM, TransferInView
from intake.transfers_in.models import TransferIn, conference_required


def transfer_view(transfer: TransferIn) -> TransferInView:
    """A transfer-in row as the API shows it."""
    decision = None
    if transfer.decided_at is not None and transfer.arrangement is not None:
        decision = {
            "arrangement": transfer.arrangement,
            "rationale": transfer.decision_rationale,
            "decided_by": {"user_id": transfer.decided_by, "role": transfer.decided_by_role},
            "decided_at": transfer.decided_at,
            "transfer_in_conference_required": conference_required(transfer.arrangement),
        }
    return TransferInView.model_validate({
        "transfer_id": transfer.id,
        "case_reference": transfer.case_reference,
        "status": transfer.status,
        "partnership": transfer.partnership,
        "from_authority": transfer.from_authority,
        "transfer_form": TRANSFER_FORM,
        "received_at": transfer.received_at,
        "children": json.loads(transfer.children),
        "child_protection_plan": json.loads(transfer.child_protection_plan),
        "decision": decision,
    })
