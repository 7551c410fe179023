"""Work queues: what each role has to do next, most urgent first (DOMAIN.md §1, §6).

A queue entry has no child's details, but listing a queue is a read all the same: each case
listed is audited (issue 12), and so is opening a case. A case the caller may not see
(another partnership, a locked-down case they are not named on, a staff-linked case before
lock-down for anyone but a team manager) is left out altogether: even its existence is
need-to-know.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, exists, false, func, or_, true
from sqlmodel import col, select

from mashcore.audit import audit_listed
from mashcore.auth import Principal, Role
from mashcore.problems import ProblemHTTPException
from mashcore.service import ServiceContext
from triage import access, rules, views
from triage.models import CaseAccess, TriageCase

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
    own = access.partnership_of(ctx, principal)
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
            query = query.where(col(TriageCase.proceeding_without_consent).is_(True))
            deadline = TriageCase.consent_revisit_due_at
        if brag:
            current = func.coalesce(TriageCase.brag, TriageCase.initial_brag)
            query = query.where(current.in_(list(brag)))
        query = query.where(_visible_to(principal))
        cases = uow.session.exec(query.order_by(deadline, col(TriageCase.received_at))
                                 .limit(limit)).all()
        now = ctx.clock.now()
        audit_listed(uow.session, principal=principal, resource="triage_case_list", at=now,
                     listed=[(c.case_reference, c.case_reference, c.partnership)
                             for c in cases])
        uow.commit()
        return [views.summary(case, now) for case in cases]


def _visible_to(principal: Principal) -> Any:
    """access.may_see as SQL (the partnership is filtered separately)."""
    locked = exists().where(col(CaseAccess.case_reference) == TriageCase.case_reference)
    named = exists().where(col(CaseAccess.case_reference) == TriageCase.case_reference,
                           col(CaseAccess.user_id) == principal.subject)
    staff_linked = and_(~locked, true() if principal.role == Role.TEAM_MANAGER else false())
    return or_(col(TriageCase.restricted).is_(False), named, staff_linked)
