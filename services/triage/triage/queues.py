"""Work queues: what each role has to do next, most urgent first (DOMAIN.md §1, §6).

A queue entry has no child's details, so listing a queue is not a read of a child's record;
opening a case is, and is audited. Locked-down cases stay in the queue (so nobody forgets
them) but say ``visible_to_you: false`` to anyone not named on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from mashcore.auth import Principal
from mashcore.problems import ProblemHTTPException
from mashcore.service import ServiceContext
from triage import rules
from triage.models import CaseAccess, TriageCase
from triage.workflow import may_see, partnership_of, summary

QUEUES: dict[str, tuple[str, ...]] = {
    "rating": rules.RATING_QUEUE,
    "decisions": rules.DECISION_QUEUE,
    "consent-revisits": (rules.DECIDED,),
    "open": rules.OPEN,
}
ALL = (*rules.OPEN, rules.DECIDED, *rules.CLOSED)


def allowed_partnership(ctx: ServiceContext, principal: Principal,
                        requested: str | None) -> str:
    """The partnership to list: the caller's own; asking for another is refused."""
    own = partnership_of(ctx, principal)
    if requested is not None and requested != own:
        raise ProblemHTTPException(
            403, detail=f"You work in partnership {own!r}; its cases are the only ones you "
            "may list.")
    return own


def work_queue(ctx: ServiceContext, principal: Principal, queue: str, *,
               partnership: str | None, brag: Sequence[str], limit: int,
               status: str | None = None) -> list[dict[str, Any]]:
    """One queue of the caller's partnership by deadline, filtered by BRAG if asked."""
    statuses = QUEUES.get(queue, ALL)
    if status is not None:
        statuses = tuple(s for s in statuses if s == status)
    chosen = allowed_partnership(ctx, principal, partnership)
    with ctx.unit_of_work() as uow:
        query = select(TriageCase).where(TriageCase.partnership == chosen,
                                         col(TriageCase.status).in_(statuses))
        deadline: Any = TriageCase.threshold_decision_due_at
        if queue == "consent-revisits":
            query = query.where(TriageCase.proceeding_without_consent)
            deadline = TriageCase.consent_revisit_due_at
        if brag:
            current = func.coalesce(TriageCase.brag, TriageCase.initial_brag)
            query = query.where(current.in_(list(brag)))
        cases = uow.session.exec(query.order_by(deadline, col(TriageCase.received_at))
                                 .limit(limit)).all()
        refs = [case.case_reference for case in cases]
        named: dict[str, set[str]] = {}
        for row in uow.session.exec(select(CaseAccess)
                                    .where(col(CaseAccess.case_reference).in_(refs))):
            named.setdefault(row.case_reference, set()).add(row.user_id)
        now = ctx.clock.now()
        entries = []
        for case in cases:
            entry = summary(case, restricted_from_caller=not may_see(
                principal, chosen, case, named.get(case.case_reference, set())))
            due = (case.consent_revisit_due_at if queue == "consent-revisits"
                   else case.threshold_decision_due_at)
            entry["overdue"] = due is not None and due < now
            entries.append(entry)
        return entries
