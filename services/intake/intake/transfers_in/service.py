"""Transfers in [002 §8]: a family with a child protection plan moves in from another
authority, which sends its transfer form (SOC 1233) (DOMAIN.md §3).

Intake gives it a case reference; a team manager decides permanent or temporary (or that it is
disputed), which announces ``transfer-in.received``; a permanent transfer needs a transfer-in
conference.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import structlog
from fastapi.responses import JSONResponse

from intake import access, domain, lifecycle
from intake.checks.quality import age_on
from intake.commands import Answer, Idempotent, partnership_of, received
from intake.errors import Refused
from intake.transfers_in import events
from intake.transfers_in.api_models import TransferDecisionIn, TransferInIn, TransferInView
from intake.transfers_in.models import TransferIn
from intake.transfers_in.views import transfer_view
from mashcore.audit import AuditAction, audit, audit_read_or_404
from mashcore.auth import Principal, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.problems import invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS

log = structlog.get_logger(__name__)

UNBORN_OVERDUE = timedelta(days=14)


def _transfer_date_errors(body: TransferInIn, today: date) -> list[tuple[str, str]]:
    errors = []
    for i, child in enumerate(body.children):
        path = f"children[{i}]"
        if child.date_of_birth is not None:
            if child.date_of_birth > today:
                errors.append((f"{path}.date_of_birth",
                               "must not be in the future; for an unborn baby set unborn and "
                               "give expected_delivery_date"))
            elif age_on(child.date_of_birth, today) >= 18:
                errors.append((f"{path}.date_of_birth",
                               "a child protection plan is for a child under 18: correct the "
                               "date of birth"))
        if (child.expected_delivery_date is not None
                and child.expected_delivery_date < today - UNBORN_OVERDUE):
            errors.append((f"{path}.expected_delivery_date",
                           "is more than two weeks in the past: if the baby has been born, "
                           "give the date of birth instead"))
    if body.child_protection_plan.plan_started_on > today:
        errors.append(("child_protection_plan.plan_started_on", "must not be in the future"))
    return errors


def submit_transfer_in(
    ctx: ServiceContext, principal: Principal, body: TransferInIn, idempotency_key: str | None
) -> JSONResponse:
    """Record the transfer form under a new case reference; a team manager decides next."""
    submission = body.model_dump(mode="json")
    request = Idempotent.of(principal, idempotency_key,
                            {"request": "POST /v1/transfers-in", "body": submission})
    now = ctx.clock.now()
    errors = _transfer_date_errors(body, domain.local_today(now))
    if errors:
        raise invalid_fields("Invalid transfer-in", errors)
    transfer = TransferIn(
        id=new_id(),
        case_reference=domain.new_case_reference(now),
        partnership=partnership_of(ctx, principal),
        status=lifecycle.AWAITING_DECISION,
        from_authority=body.from_authority,
        submitted_by_agency=principal.agency,
        submitted_by_role=str(principal.role),
        submitted_by_subject=principal.subject,
        children=json.dumps(submission["children"]),
        child_protection_plan=json.dumps(submission["child_protection_plan"]),
        received_at=now,
    )

    return request.run(ctx, now, lambda uow: received(
        uow, principal, transfer, resource="transfer_in", at=now,
        case_reference=transfer.case_reference, partnership=transfer.partnership,
        view=transfer_view(transfer), location=f"/v1/transfers-in/{transfer.id}",
        logged=lambda: log.info("transfer-in received", transfer_id=transfer.id,
                                case_reference=transfer.case_reference,
                                partnership=transfer.partnership)))


def decide_transfer_in(
    ctx: ServiceContext, principal: Principal, transfer_id: str, body: TransferDecisionIn,
    idempotency_key: str | None,
) -> JSONResponse:
    """The team manager's decision: permanent, temporary or disputed; announced to the hub.

    A disputed transfer may be decided (permanent or temporary) once the managers resolve
    it; a permanent or temporary decision is final here, and disputing a disputed transfer
    again is a 409 (intake.lifecycle.TRANSFER_IN). One writer per case: the case is locked
    and the transfer read again before deciding, so of two decisions at once the second
    sees the first.
    """
    request = Idempotent.of(principal, idempotency_key, {
        "request": f"POST /v1/transfers-in/{transfer_id}/decision",
        "body": body.model_dump(mode="json")})
    user_id = recordable_user_id(principal)
    now = ctx.clock.now()
    if body.strategy_discussion_required and not body.strategy_discussion_reason:
        raise invalid_fields("Invalid transfer-in decision", [(
            "strategy_discussion_reason", "required when strategy_discussion_required is "
            "true: why there is reasonable cause to suspect significant harm")])
    strategy_reason = (body.strategy_discussion_reason
                       if body.strategy_discussion_required else None)

    def decide(uow: UnitOfWork) -> Answer:
        transfer = access.transfer_for_change(ctx, uow, principal, transfer_id)
        if transfer is None:  # audited for its owner, committed, and a 404
            audit_read_or_404(uow, principal=principal, what="transfer-in",
                              resource="transfer_in", resource_id=transfer_id, allowed=False,
                              at=now, action=AuditAction.WRITE,
                              owner=access.transfer_owner(uow, transfer_id))
        assert transfer is not None  # audit_read_or_404 raised the 404 otherwise
        target = lifecycle.DISPUTED if body.arrangement == "disputed" else lifecycle.DECIDED
        if not lifecycle.TRANSFER_IN.may_move(transfer, target):
            if transfer.status == lifecycle.DISPUTED:
                raise Refused(
                    "Transfer-in already disputed",
                    "This transfer-in is already disputed: once the managers resolve it, "
                    "decide permanent or temporary.")
            raise Refused(
                "Transfer-in already decided",
                f"This transfer-in was already decided as {transfer.arrangement}.")
        transfer.arrangement = body.arrangement
        transfer.decision_rationale = body.rationale
        transfer.decided_by = user_id
        transfer.decided_by_role = str(principal.role)
        transfer.decided_at = now
        lifecycle.TRANSFER_IN.move(uow, transfer, target)
        ctx.emit(uow, Event(
            type=events.TRANSFER_IN_RECEIVED, source=ctx.source, subject=transfer.case_reference,
            time=now, recordedtime=now, partnership=transfer.partnership,
            data=events.transfer_in_received_data(transfer, strategy_reason),
        ), INTAKE_CONTACTS)
        audit(uow.session, principal=principal, action=AuditAction.WRITE, resource="transfer_in",
              resource_id=transfer.id, case_reference=transfer.case_reference, at=now,
              partnership=transfer.partnership)
        return Answer(200, transfer_view(transfer).model_dump(mode="json"),
                      committed=lambda: log.info(
                          "transfer-in decided", transfer_id=transfer.id,
                          case_reference=transfer.case_reference,
                          arrangement=transfer.arrangement))

    return request.run(ctx, now, decide)


def get_transfer_in(ctx: ServiceContext, principal: Principal, transfer_id: str) -> TransferInView:
    """A transfer-in, to the hub or the system that sent it; every read (and refusal) audited."""
    with ctx.unit_of_work() as uow:
        transfer = access.find_transfer(ctx, uow, principal, transfer_id)
        allowed = transfer is not None
        audit_read_or_404(uow, principal=principal, what="transfer-in", resource="transfer_in",
                          resource_id=transfer_id, allowed=allowed, at=ctx.clock.now(),
                          case_reference=transfer.case_reference if transfer else None,
                          partnership=transfer.partnership if transfer else None,
                          owner=None if allowed else access.transfer_owner(uow, transfer_id))
    assert transfer is not None
    return transfer_view(transfer)
