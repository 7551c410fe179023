"""How a consultation reads over the API."""

from __future__ import annotations

import json

from intake.consultations.api_models import ConsultationView
from intake.consultations.models import Consultation


def consultation_view(consultation: Consultation) -> ConsultationView:
    """A consultation row as the API shows it."""
    advice = None
    if consultation.advice_recorded_at is not None:
        advice = {
            "advice_given": consultation.advice_given,
            "outcome": consultation.outcome,
            "given_by": {"user_id": consultation.advice_given_by,
                         "role": consultation.advice_given_by_role},
            "recorded_at": consultation.advice_recorded_at,
        }
    return ConsultationView.model_validate({
        "consultation_id": consultation.id,
        "status": consultation.status,
        "partnership": consultation.partnership,
        "professional": {"agency": consultation.professional_agency,
                         "role": consultation.professional_role},
        "question": consultation.question,
        "child": (json.loads(consultation.child_details)
                  if consultation.child_details else None),
        "consulted_at": consultation.consulted_at,
        "received_at": consultation.received_at,
        "advice": advice,
    })
