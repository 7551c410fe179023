"""Triage's service layer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from mashcore.audit import audit_read_or_404
from mashcore.auth import Principal
from mashcore.consumer import EventHandler
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.service import ServiceContext
from mashcore.topics import TRIAGE_CASES
from mashcore.workingtime import WorkingCalendar
from triage import domain
from triage.models import TriageCase

CONTACT_RECEIVED = "mash.intake.contact.received.v1"


def event_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """What triage does with intake's events."""
    calendar = WorkingCalendar.england()

    def open_case(event: Event, uow: UnitOfWork) -> None:
        """A received contact becomes a case awaiting its initial rating."""
        data = event.data
        received_at = parse_time(str(data["received_at"]))
        now = ctx.clock.now()
        case = TriageCase(
            case_reference=event.subject,
            contact_id=str(data["contact_id"]),
            partnership=event.partnership,
            kind=str(data["kind"]),
            status=domain.AWAITING_INITIAL_RATING,
            received_at=received_at,
            opened_at=now,
            threshold_decision_due_at=domain.threshold_decision_due(received_at, calendar),
            children=json.dumps(data["children"]),
            concern_summary=str(data["concern"]["summary"]),
        )
        uow.session.add(case)
        ctx.emit(uow, event.follow_up(
            type=domain.CASE_OPENED,
            source=ctx.source,
            recordedtime=now,
            data=domain.case_opened_data(
                case_reference=case.case_reference,
                contact_id=case.contact_id,
                partnership=case.partnership,
                received_at=received_at,
                opened_at=now,
                decision_due_at=case.threshold_decision_due_at,
            ),
        ), TRIAGE_CASES)

    return {CONTACT_RECEIVED: open_case}


def _summary(case: TriageCase) -> dict[str, Any]:
    return {
        "case_reference": case.case_reference,
        "contact_id": case.contact_id,
        "partnership": case.partnership,
        "status": case.status,
        "received_at": _iso(case.received_at),
        "threshold_decision_due_at": _iso(case.threshold_decision_due_at),
    }


def _iso(value: datetime) -> str:
    return value.isoformat()


def partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The one partnership whose cases a member of hub staff may see (need-to-know)."""
    return principal.partnership or ctx.settings.partnership_default


def list_cases(
    ctx: ServiceContext, principal: Principal, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """Cases of the caller's partnership by threshold-decision deadline, most urgent first."""
    with ctx.unit_of_work() as uow:
        query = (select(TriageCase)
                 .where(TriageCase.partnership == partnership_of(ctx, principal))
                 .order_by(col(TriageCase.threshold_decision_due_at)).limit(limit))
        if status:
            query = query.where(TriageCase.status == status)
        return [_summary(case) for case in uow.session.exec(query).all()]


def get_case(ctx: ServiceContext, principal: Principal, case_reference: str) -> dict[str, Any]:
    """One case with the child details, audited."""
    with ctx.unit_of_work() as uow:
        case = uow.session.get(TriageCase, case_reference)
        # Another partnership's case is indistinguishable from a missing one.
        allowed = case is not None and case.partnership == partnership_of(ctx, principal)
        audit_read_or_404(uow, principal=principal, what="case", resource="triage_case",
                          resource_id=case_reference, allowed=allowed, at=ctx.clock.now(),
                          case_reference=case_reference)
    assert case is not None
    return {
        **_summary(case),
        "kind": case.kind,
        "opened_at": _iso(case.opened_at),
        "children": json.loads(case.children),
        "concern_summary": case.concern_summary,
    }
