"""Requests for checks: the four facts a listed professional body may be told (DOMAIN.md §3).

Another professional (CAFCASS, the Youth Offending Service, an NHS body, the police,
probation, the Emergency Duty Team, another local authority) rings or writes to ask whether a
child is known. The hub worker validates the caller's identity (calling back via the
switchboard if in doubt) and their active involvement, then records the request here for the
answer. The answer is only: whether the child is known, whether the case is open or closed,
the allocated social worker and manager (user ids), and the siblings and whether their cases
are open. Never the record's content, never a case reference, never a sibling's identity:
anything more needs a written request stating its purpose and consent, authorised by a team
manager ([002 §2]).

A check is not a contact: no contact row, no case reference, nothing on the child's record.
It is a read of a child's record, so every record it consults is in the audit log under the
check's id; the hub's log of answered checks (``answered_check``) holds who asked and how they
were validated, and ``mash.intake.checks.answered.v1`` (keyed by the check id) says the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlmodel import Session

from intake import events
from intake.checks.api_models import CheckAnswer, CheckFacts, CheckRequestIn, SiblingFact
from intake.checks.matching import ChildKey
from intake.checks.models import AnsweredCheck
from intake.open_cases.lookup import indexed_case, matching_cases
from intake.open_cases.models import OPEN, OpenCase
from intake.open_cases.service import partnership_of, status_of
from mashcore.audit import AuditAction, audit
from mashcore.auth import Principal
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS

log = structlog.get_logger(__name__)

RESOURCE = "check"


def _child_key(body: CheckRequestIn) -> ChildKey:
    child = body.child
    return ChildKey(first_name=child.first_name, last_name=child.last_name,
                    date_of_birth=child.date_of_birth, postcode=child.postcode)


def _the_case(session: Session, body: CheckRequestIn, partnership: str) -> OpenCase | None:
    """The child's case in this partnership's index: an open one first, else the best match."""
    matches = matching_cases(session, _child_key(body), partnership=partnership)
    open_cases = [case for case, _ in matches if case.status == OPEN]
    if open_cases:
        return open_cases[0]
    return matches[0][0] if matches else None


def _same_partnership(case: OpenCase | None, partnership: str) -> OpenCase | None:
    return case if case is not None and case.partnership == partnership else None


def facts_of(case: OpenCase | None, siblings: list[OpenCase | None]) -> CheckFacts:
    """The four permitted facts; a closed case names no allocated worker (the contract)."""
    if case is None:
        return CheckFacts(known=False, case_status=None, allocated_social_worker_id=None,
                          allocated_manager_id=None, siblings=[])
    is_open = case.status == OPEN
    return CheckFacts(
        known=True,
        case_status=status_of(case),
        allocated_social_worker_id=case.allocated_worker_id if is_open else None,
        allocated_manager_id=case.allocated_manager_id if is_open else None,
        # A sibling the index does not hold has no open case here.
        siblings=[SiblingFact(case_open=s is not None and s.status == OPEN) for s in siblings],
    )


def checks_answered_data(*, check_id: str, answered_at: datetime, answered_by: str,
                         body: CheckRequestIn, facts: CheckFacts) -> dict[str, Any]:
    """The data of ``checks.answered.v1``: no case reference, no child or family identifiers."""
    return {
        "check_id": check_id,
        "answered_at": answered_at.isoformat(),
        "answered_by": answered_by,
        "requester": body.requester.model_dump(mode="json"),
        "facts": facts.model_dump(mode="json"),
    }


def answer_check(ctx: ServiceContext, principal: Principal, body: CheckRequestIn) -> CheckAnswer:
    """Look the child up in the index and answer with the permitted facts only."""
    now = ctx.clock.now()
    check_id = new_id()
    partnership = partnership_of(ctx, principal)
    with ctx.unit_of_work() as uow:
        case = _the_case(uow.session, body, partnership)
        sibling_references = list(case.siblings) if case is not None else []
        siblings = [_same_partnership(indexed_case(uow.session, partnership, ref), partnership)
                    for ref in sibling_references]
        facts = facts_of(case, siblings)
        uow.session.add(AnsweredCheck(
            check_id=check_id, answered_at=now, answered_by=principal.subject,
            answered_by_role=str(principal.role), partnership=partnership,
            requester_body=body.requester.body,
            identity_validated_by=body.requester.identity_validated_by,
        ))
        ctx.emit(uow, Event(
            type=events.CHECKS_ANSWERED, source=ctx.source, subject=check_id, time=now,
            recordedtime=now, partnership=partnership,
            data=checks_answered_data(check_id=check_id, answered_at=now,
                                      answered_by=principal.subject, body=body, facts=facts),
        ), INTAKE_CONTACTS)
        # Every record the check read: the child's case, then each sibling's.
        read = [case.case_reference] if case is not None else []
        read += [s.case_reference for s in siblings if s is not None]
        for reference in read:
            audit(uow.session, principal=principal, action=AuditAction.READ, resource=RESOURCE,
                  resource_id=check_id, case_reference=reference, at=now,
                  partnership=partnership)
        if case is None:
            audit(uow.session, principal=principal, action=AuditAction.READ, resource=RESOURCE,
                  resource_id=check_id, at=now, outcome="not_found")
        uow.commit()
    log.info("checks answered", check_id=check_id, requester_body=body.requester.body,
             known=facts.known)
    return CheckAnswer(check_id=check_id, answered_at=now, facts=facts)
