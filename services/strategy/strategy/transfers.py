"""A transfer-in that needs a strategy discussion starts one (DOMAIN.md §3, §7).

Intake's ``transfer-in.received`` (the team manager's decision on a family moving in with a
child protection plan) is the case as strategy knows it when no contact preceded it: its
children, and the transferring authority as a professional referrer (normally invited).
When the team manager decided the transfer needs a strategy discussion
(``strategy_discussion_required``, with the reason), strategy requests one about every
child, as it does for a threshold decision; a decision made again (a dispute resolved) does
not open a second while one is still requested or scheduled.
"""

from __future__ import annotations

import json

from sqlmodel import col, select

from mashcore.consumer import EventHandler
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.service import ServiceContext
from strategy import rules
from strategy.discussions import Request, open_discussion
from strategy.models import Discussion, StrategyCase

TRIGGER = "transfer_in"
TRANSFERRING_AUTHORITY = "local_authority"


def _case(uow: UnitOfWork, event: Event) -> StrategyCase:
    case = uow.session.get(StrategyCase, event.subject)
    if case is not None:
        return case
    data = event.data
    case = StrategyCase(case_reference=event.subject, partnership=event.partnership,
                        children=json.dumps(data["children"]),
                        referrer_agency=TRANSFERRING_AUTHORITY,
                        referrer_role="transferring_authority",
                        received_at=parse_time(str(data["received_at"])))
    uow.session.add(case)
    return case


def transfer_in_received(ctx: ServiceContext) -> EventHandler:
    """The handler of ``mash.intake.transfer-in.received.v1``."""

    def handle(event: Event, uow: UnitOfWork) -> None:
        data = event.data
        case = _case(uow, event)
        if not data.get("strategy_discussion_required"):
            return
        pending = uow.session.exec(select(Discussion.id).where(
            Discussion.case_reference == case.case_reference, Discussion.trigger == TRIGGER,
            col(Discussion.status).in_((rules.REQUESTED, rules.SCHEDULED)))).first()
        if pending is not None:
            return
        by = data["decided_by"]
        open_discussion(
            ctx, uow, case,
            Request(trigger=TRIGGER, reason=str(data.get("strategy_discussion_reason")
                                                or "Transfer-in: strategy discussion needed."),
                    urgency="within_1_working_day", child_numbers=None),
            by={"user_id": str(by["user_id"]), "role": str(by["role"]),
                "agency": TRANSFERRING_AUTHORITY},
            at=parse_time(str(data["decided_at"])), correlation_id=event.correlationid,
            cause=event)

    return handle
