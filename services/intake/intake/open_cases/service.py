"""The open-case index: loaded by the case management system (its events: consumers.py).

Every write is audited (a write of a child's record, DOMAIN.md §10), and each runs in one unit
of work. The loader is authoritative: what it sends replaces what intake held (the last write
wins), so a full reload repairs any drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from intake.open_cases.api_models import (
    OpenCaseIn,
    OpenCaseOutcome,
    OpenCasesBulkIn,
    OpenCasesBulkStored,
    OpenCaseStored,
)
from intake.open_cases.lookup import indexed_case
from intake.open_cases.models import CLOSED, OPEN, CaseStatus, OpenCase
from mashcore.audit import AuditAction, audit
from mashcore.auth import Principal
from mashcore.problems import ProblemHTTPException
from mashcore.service import ServiceContext

log = structlog.get_logger(__name__)

RESOURCE = "open_case"


def partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The partnership whose index a caller reads and writes (need-to-know)."""
    return principal.partnership or ctx.settings.partnership_default


def _values(body: OpenCaseIn, partnership: str) -> dict[str, Any]:
    closed = body.status == CLOSED
    return {
        "partnership": partnership,
        "first_name": body.child.first_name,
        "last_name": body.child.last_name,
        "date_of_birth": body.child.date_of_birth,
        "postcode": body.child.postcode,
        "allocated_worker_id": body.allocated_worker_id,
        "allocated_manager_id": body.allocated_manager_id,
        "team": body.team,
        "status": body.status,
        "opened_on": body.opened_on,
        "closed_on": body.closed_on,
        "last_involvement_ended_on": body.last_involvement_ended_on
        or (body.closed_on if closed else None),
        "siblings": list(body.siblings),
    }


@dataclass(frozen=True)
class _Stored:
    case: OpenCase
    outcome: OpenCaseOutcome


def _upsert(session: Session, case_reference: str, values: dict[str, Any],
            now: datetime) -> _Stored:
    """Create or replace the case in the caller's partnership's index (keyed on both: what
    another partnership's index holds under the same reference is neither seen nor touched)."""
    case = indexed_case(session, values["partnership"], case_reference)
    if case is None:
        case = OpenCase(case_reference=case_reference, updated_at=now, **values)
        session.add(case)
        return _Stored(case, "created")
    if all(getattr(case, name) == value for name, value in values.items()):
        return _Stored(case, "unchanged")
    for name, value in values.items():
        setattr(case, name, value)
    case.updated_at = now
    session.add(case)
    return _Stored(case, "updated")


def _store(ctx: ServiceContext, principal: Principal,
           items: Sequence[tuple[str, OpenCaseIn]]) -> list[_Stored]:
    """Upsert the cases in one unit of work, auditing each write. Retried once on a race."""
    partnership = partnership_of(ctx, principal)
    for attempt in (1, 2):
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            stored = [_upsert(uow.session, ref, _values(body, partnership), now)
                      for ref, body in items]
            for ref, _ in items:
                audit(uow.session, principal=principal, action=AuditAction.WRITE,
                      resource=RESOURCE, resource_id=ref, case_reference=ref, at=now,
                      partnership=partnership)
            try:
                uow.commit()
            except IntegrityError:
                # Another load created one of these cases first: apply ours over it.
                uow.session.rollback()
                if attempt == 2:
                    raise
                continue
        return stored
    raise AssertionError("unreachable")


def put_open_case(ctx: ServiceContext, principal: Principal, case_reference: str,
                  body: OpenCaseIn) -> OpenCaseStored:
    """Create or replace one case of the index (idempotent)."""
    if case_reference in body.siblings:
        raise ProblemHTTPException(
            422, "Invalid open case", "Faulty fields: siblings",
            extra={"errors": [{"field": "siblings",
                               "message": "a case cannot list itself among its siblings"}]})
    (stored,) = _store(ctx, principal, [(case_reference, body)])
    log.info("open case stored", case_reference=case_reference, outcome=stored.outcome,
             status=stored.case.status)
    return OpenCaseStored(case_reference=case_reference, status=status_of(stored.case),
                          outcome=stored.outcome, updated_at=stored.case.updated_at)


def load_open_cases(ctx: ServiceContext, principal: Principal,
                    body: OpenCasesBulkIn) -> OpenCasesBulkStored:
    """Create or replace many cases at once, all or none (idempotent)."""
    stored = _store(ctx, principal, [(case.case_reference, case) for case in body.cases])
    counts = {outcome: sum(1 for s in stored if s.outcome == outcome)
              for outcome in ("created", "updated", "unchanged")}
    log.info("open cases loaded", **counts)
    return OpenCasesBulkStored(**counts)


def status_of(case: OpenCase) -> CaseStatus:
    """The case's status, typed."""
    return OPEN if case.status == OPEN else CLOSED
