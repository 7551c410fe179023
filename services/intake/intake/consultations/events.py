"""The event a consultation announces: ``consultation.recorded``, once advice is recorded."""

from __future__ import annotations

from typing import Any

from intake.consultations.models import Consultation
from intake.events import CONSULTATION_RECORDED

__all__ = ["CONSULTATION_RECORDED", "consultation_recorded_data"]


def consultation_recorded_data(consultation: Consultation) -> dict[str, Any]:
    """The data of ``consultation.recorded.v1``: no case reference, no child or family."""
    assert consultation.advice_recorded_at is not None
    return {
        "consultation_id": consultation.id,
        "consulted_at": consultation.consulted_at.isoformat(),
        "recorded_at": consultation.advice_recorded_at.isoformat(),
        "professional": {"agency": consultation.professional_agency,
                         "role": consultation.professional_role},
        "advice_given": consultation.advice_given,
        "given_by": {"user_id": consultation.advice_given_by,
                     "role": consultation.advice_given_by_role},
        "outcome": consultation.outcome,
    }
