"""The data of the events triage publishes, per the contracts (contracts/events/).

Identifiers, codes and times, plus the staff user ids and the free-text rationale the
contracts name as personal data; never a child's or a referrer's details.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

CASE_OPENED = "mash.triage.case.opened.v1"
RATING_GIVEN = "mash.triage.rating.given.v1"
CONSENT_GATE_APPLIED = "mash.triage.consent-gate.applied.v1"
THRESHOLD_DECIDED = "mash.triage.threshold.decided.v1"
CASE_RE_RATED = "mash.triage.case.re-rated.v1"
CONSENT_OVERRIDE_RECORDED = "mash.triage.consent-override.recorded.v1"
CONSENT_OBTAINED = "mash.triage.consent.obtained.v1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_opened_data(
    *,
    case_reference: str,
    contact_id: str,
    partnership: str,
    received_at: datetime,
    opened_at: datetime,
    decision_due_at: datetime,
) -> dict[str, Any]:
    """``case.opened.v1``: identifiers and times only, no personal data."""
    return {
        "case_reference": case_reference,
        "contact_id": contact_id,
        "partnership": partnership,
        "status": "awaiting_initial_rating",
        "received_at": received_at.isoformat(),
        "opened_at": opened_at.isoformat(),
        "threshold_decision_due_at": decision_due_at.isoformat(),
    }


def by(user_id: str, role: str) -> dict[str, str]:
    """Who acted, as the contracts record it: a user id and a role."""
    return {"user_id": user_id, "role": role}


def rating_given_data(*, case_reference: str, brag: str, rated_at: datetime,
                      rated_by: dict[str, str], rationale: str | None) -> dict[str, Any]:
    """``rating.given.v1``."""
    return {"case_reference": case_reference, "brag": brag, "rated_at": rated_at.isoformat(),
            "rated_by": rated_by, "rationale": rationale}


def consent_gate_data(*, case_reference: str, applied_at: datetime, outcome: str,
                      consent_to_referral: str, rationale: str, information_officer_id: str,
                      team_manager_id: str | None) -> dict[str, Any]:
    """``consent-gate.applied.v1``: only when the gate stops a contact."""
    return {
        "case_reference": case_reference, "applied_at": applied_at.isoformat(),
        "outcome": outcome, "safeguarding_concerns": False,
        "consent_to_referral": consent_to_referral, "rationale": rationale,
        "agreed_by": {"information_officer_id": information_officer_id,
                      "team_manager_id": team_manager_id},
    }


def threshold_decided_data(
    *, case_reference: str, decided_at: datetime, decided_by: dict[str, str],
    level: dict[str, str], suggested_level: dict[str, str] | None, brag: str, route: str,
    rationale: str, proceeding_without_consent: bool, without_consent_reason: str | None,
    without_consent_basis: str | None, consent_revisit_due_at: datetime | None,
    enquiries_due_at: datetime | None,
) -> dict[str, Any]:
    """``threshold.decided.v1``."""
    return {
        "case_reference": case_reference, "decided_at": decided_at.isoformat(),
        "decided_by": decided_by, "level_of_need": level,
        "suggested_level_of_need": suggested_level, "brag": brag, "route": route,
        "rationale": rationale, "proceeding_without_consent": proceeding_without_consent,
        "proceeding_without_consent_reason": without_consent_reason,
        "without_consent_basis": without_consent_basis,
        "consent_revisit_due_at": _iso(consent_revisit_due_at),
        "enquiries_due_at": _iso(enquiries_due_at),
    }


def re_rated_data(*, case_reference: str, previous_brag: str, new_brag: str,
                  re_rated_at: datetime, re_rated_by: dict[str, str], reason: str,
                  enquiries_due_at: datetime | None, route: str | None) -> dict[str, Any]:
    """``case.re-rated.v1``; ``new_route`` only when the re-rating changed the route."""
    data = {"case_reference": case_reference, "previous_brag": previous_brag,
            "new_brag": new_brag, "re_rated_at": re_rated_at.isoformat(),
            "re_rated_by": re_rated_by, "reason": reason,
            "enquiries_due_at": _iso(enquiries_due_at)}
    if route is not None:
        data["new_route"] = route
    return data


def consent_obtained_data(*, case_reference: str, recorded_at: datetime,
                          recorded_by: dict[str, str], reason: str,
                          ends_override_id: str | None) -> dict[str, Any]:
    """``consent.obtained.v1``: consent given after the decision; any override ends."""
    return {"case_reference": case_reference, "recorded_at": recorded_at.isoformat(),
            "recorded_by": recorded_by, "consent_to_referral": "given", "note": reason,
            "ends_override_id": ends_override_id}


def consent_override_data(
    *, override_id: str, case_reference: str, recorded_at: datetime,
    decided_by: dict[str, str], brag: str, consent_position: str, basis: str, reason: str,
    revisit_due_at: datetime, supersedes: str | None,
) -> dict[str, Any]:
    """``consent-override.recorded.v1``: a revisit that keeps proceeding without consent."""
    return {
        "override_id": override_id, "case_reference": case_reference,
        "recorded_at": recorded_at.isoformat(), "decided_by": decided_by, "brag": brag,
        "scope": ["referral", "information_sharing"], "consent_position": consent_position,
        "basis": basis, "reason": reason, "revisit_due_at": revisit_due_at.isoformat(),
        "supersedes_override_id": supersedes,
    }
