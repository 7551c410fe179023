"""Requests for consultation [002 §3]: a professional asks for advice without committing to a
referral (DOMAIN.md §3).

It is held on the confidential consultation log, never as a contact and never with a case
reference; any child details stay on that log. Hub staff record the advice given, which
announces ``consultation.recorded`` keyed by the consultation's own id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from fastapi.responses import JSONResponse

from intake import access, domain, lifecycle
from intake.commands import Answer, Idempotent, partnership_of, received
from intake.consultations import events
from intake.consultations.api_models import (
    PROFESSIONAL_AGENCIES,
    ConsultationAdviceIn,
    ConsultationIn,
    ConsultationView,
)
from intake.consultations.models import Consultation
from intake.consultations.views import consultation_view
from intake.errors import Refused
from mashcore.audit import AuditAction, audit, audit_read_or_404
from mashcore.auth import Principal, Role, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.problems import invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS

log = structlog.get_logger(__name__)

HUB_ROLES = (Role.INFORMATION_OFFICER, Role.TEAM_MANAGER)
CONSULTATION_SKEW = timedelta(minutes=5)


def professional_agency(principal: Principal, body: ConsultationIn) -> str:
    """The asking professional's agency: a partner system's own, or what hub staff say."""
    given = body.professional.agency
    if principal.role in HUB_ROLES:
        if given is None:
            raise invalid_fields("Invalid consultation", [(
                "professional.agency", "required when hub staff record a consultation")])
        return given
    own = principal.agency if principal.agency in PROFESSIONAL_AGENCIES else "other"
    if given is not None and given != own:
        raise invalid_fields("Invalid consultation", [(
            "professional.agency", "must be your own agency (as your login says) or left out")])
    return own


def _consultation_date_errors(body: ConsultationIn, now: datetime) -> list[tuple[str, str]]:
    errors = []
    if body.consulted_at is not None and body.consulted_at > now + CONSULTATION_SKEW:
        errors.append(("consulted_at", "must not be in the future"))
    if (body.child is not None and body.child.date_of_birth is not None
            and body.child.date_of_birth > domain.local_today(now)):
        errors.append(("child.date_of_birth", "must not be in the future"))
    return errors


def submit_consultation(
    ctx: ServiceContext, principal: Principal, body: ConsultationIn, idempotency_key: str | None
) -> JSONResponse:
    """Put a request for consultation on the confidential log. No contact, no case reference."""
    request = Idempotent.of(principal, idempotency_key, {
        "request": "POST /v1/consultations", "body": body.model_dump(mode="json")})
    now = ctx.clock.now()
    errors = _consultation_date_errors(body, now)
    if errors:
        raise invalid_fields("Invalid consultation", errors)
    agency = professional_agency(principal, body)
    consultation = Consultation(
        id=new_id(),
        partnership=partnership_of(ctx, principal),
        status=lifecycle.AWAITING_ADVICE,
        professional_agency=agency,
        professional_role=body.professional.role,
        submitted_by_agency=principal.agency,
        submitted_by_role=str(principal.role),
        submitted_by_subject=principal.subject,
        question=body.question,
        child_details=body.child.model_dump_json() if body.child else None,
        consulted_at=body.consulted_at or now,
        received_at=now,
    )

    return request.run(ctx, now, lambda uow: received(
        uow, principal, consultation, resource="consultation", at=now,
        view=consultation_view(consultation), location=f"/v1/consultations/{consultation.id}",
        logged=lambda: log.info("consultation received", consultation_id=consultation.id,
                                agency=consultation.professional_agency,
                                partnership=consultation.partnership)))


def record_advice(
    ctx: ServiceContext, principal: Principal, consultation_id: str,
    body: ConsultationAdviceIn, idempotency_key: str | None,
) -> JSONResponse:
    """Record the advice given, and announce it keyed by the consultation's own id.

    Recorded once (intake.lifecycle.CONSULTATION): a second advice is a 409, also when two
    arrive at once (the consultation is locked and read again before recording).
    """
    request = Idempotent.of(principal, idempotency_key, {
        "request": f"POST /v1/consultations/{consultation_id}/advice",
        "body": body.model_dump(mode="json")})
    user_id = recordable_user_id(principal)
    now = ctx.clock.now()

    def record(uow: UnitOfWork) -> Answer:
        consultation = access.consultation_for_change(ctx, uow, principal, consultation_id)
        if consultation is None:  # audited for its owner, committed, and a 404
            audit_read_or_404(uow, principal=principal, what="consultation",
                              resource="consultation", resource_id=consultation_id,
                              allowed=False, at=now, action=AuditAction.WRITE,
                              owner=access.consultation_owner(uow, consultation_id))
        assert consultation is not None  # audit_read_or_404 raised the 404 otherwise
        if not lifecycle.CONSULTATION.may_move(consultation, lifecycle.ADVICE_RECORDED):
            raise Refused("Advice already recorded",
                          "The advice on this consultation is already recorded.")
        consultation.advice_given = body.advice_given
        consultation.outcome = body.outcome
        consultation.advice_given_by = user_id
        consultation.advice_given_by_role = str(principal.role)
        consultation.advice_recorded_at = now
        lifecycle.CONSULTATION.move(uow, consultation, lifecycle.ADVICE_RECORDED)
        ctx.emit(uow, Event(
            type=events.CONSULTATION_RECORDED, source=ctx.source, subject=consultation.id,
            time=now, recordedtime=now, partnership=consultation.partnership,
            data=events.consultation_recorded_data(consultation),
        ), INTAKE_CONTACTS)
        audit(uow.session, principal=principal, action=AuditAction.WRITE,
              resource="consultation", resource_id=consultation.id, at=now)
        return Answer(200, consultation_view(consultation).model_dump(mode="json"),
                      committed=lambda: log.info(
                          "consultation advice recorded", consultation_id=consultation.id,
                          outcome=consultation.outcome, partnership=consultation.partnership))

    return request.run(ctx, now, record)


def get_consultation(
    ctx: ServiceContext, principal: Principal, consultation_id: str
) -> ConsultationView:
    """A consultation, to the agency that asked or the hub; every read (and refusal) audited."""
    with ctx.unit_of_work() as uow:
        consultation = access.find_consultation(ctx, uow, principal, consultation_id)
        allowed = consultation is not None
        # Not a child's case: the audit entry carries no case reference.
        audit_read_or_404(uow, principal=principal, what="consultation",
                          resource="consultation", resource_id=consultation_id,
                          allowed=allowed, at=ctx.clock.now(),
                          partnership=consultation.partnership if consultation else None,
                          owner=None if allowed else access.consultation_owner(
                              uow, consultation_id))
    assert consultation is not None
    return consultation_view(consultation)
