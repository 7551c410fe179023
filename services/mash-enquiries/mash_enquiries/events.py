"""The data of the events MASH enquiries publishes (contracts/events/mash.enquiries.*)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mash_enquiries.models import Episode, InformationRequest

INFORMATION_REQUESTED = "mash.enquiries.information.requested.v1"
REQUEST_CHASED = "mash.enquiries.request.chased.v1"
REQUEST_DEADLINE_CHANGED = "mash.enquiries.request.deadline-changed.v1"
INFORMATION_PROVIDED = "mash.enquiries.information.provided.v1"
REQUEST_DECLINED = "mash.enquiries.request.declined.v1"
ENQUIRIES_COMPLETED = "mash.enquiries.enquiries.completed.v1"
OUTCOME_DECIDED = "mash.enquiries.outcome.decided.v1"


def _ids(request: InformationRequest) -> dict[str, str]:
    return {"request_id": request.id, "episode_id": request.episode_id,
            "case_reference": request.case_reference}


def information_requested(request: InformationRequest, *, requested_by: str,
                          address: dict[str, Any] | None) -> dict[str, Any]:
    data = {**_ids(request), "agency": request.agency, "question": request.question,
            "subjects": json.loads(request.subjects), "brag": request.brag,
            "sharing_basis": request.sharing_basis,
            "requested_at": request.requested_at.isoformat(), "requested_by": requested_by,
            "deadline": request.deadline.isoformat()}
    if address:
        data["address"] = address
    return data


def request_chased(request: InformationRequest, at: datetime) -> dict[str, Any]:
    return {**_ids(request), "agency": request.agency, "chased_at": at.isoformat(),
            "deadline": request.deadline.isoformat(), "chase_number": request.chase_count,
            "chased_by": None}


def request_deadline_changed(request: InformationRequest, *, previous: datetime,
                             at: datetime, reason_code: str) -> dict[str, Any]:
    return {**_ids(request), "agency": request.agency, "brag": request.brag,
            "previous_deadline": previous.isoformat(),
            "deadline": request.deadline.isoformat(), "changed_at": at.isoformat(),
            "reason_code": reason_code}


def information_provided(request: InformationRequest) -> dict[str, Any]:
    assert request.responded_at is not None and request.summary is not None
    return {**_ids(request),
            "answered_by": {"user_id": request.responded_by, "agency": request.agency},
            "provided_at": request.responded_at.isoformat(),
            "deadline": request.deadline.isoformat(), "late": request.late,
            "known": bool(request.known), "summary": request.summary,
            "risk_indicators": json.loads(request.risk_indicators),
            "relevant_dates": json.loads(request.relevant_dates),
            "attachments": json.loads(request.attachments)}


def request_declined(request: InformationRequest) -> dict[str, Any]:
    assert request.responded_at is not None
    return {**_ids(request),
            "declined_by": {"user_id": request.responded_by, "agency": request.agency},
            "declined_at": request.responded_at.isoformat(),
            "reason_code": request.decline_reason_code,
            "explanation": request.decline_explanation}


def enquiries_completed(episode: Episode, *, by: dict[str, str],
                        counts: dict[str, int]) -> dict[str, Any]:
    assert episode.completed_at is not None
    return {"episode_id": episode.id, "case_reference": episode.case_reference,
            "completed_at": episode.completed_at.isoformat(), "completed_by": by,
            "closed_early": episode.closed_early,
            "closed_early_reason": episode.closed_early_reason, "requests": counts}


def outcome_decided(episode: Episode, *, by: dict[str, str]) -> dict[str, Any]:
    assert episode.decided_at is not None
    return {"episode_id": episode.id, "case_reference": episode.case_reference,
            "outcome": episode.outcome, "rationale": episode.outcome_rationale,
            "decided_by": by, "decided_at": episode.decided_at.isoformat(),
            "early_help_destination": episode.early_help_destination}
