"""What the open-case index does with strategy's events: an ended plan closes the case."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from intake.domain import local_today
from intake.open_cases.lookup import indexed_case
from intake.open_cases.models import CLOSED, OPEN
from intake.open_cases.service import RESOURCE
from mashcore.audit import AuditAction, audit
from mashcore.auth import Principal, Role
from mashcore.consumer import EventHandler
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.service import ServiceContext

log = structlog.get_logger(__name__)

PLAN_ENDED = "mash.strategy.plan.ended.v1"
STEPPED_DOWN_TO_CHILD_IN_NEED = "stepped_down_to_child_in_need"
CONSUMER = "strategy-cases"

_EVENT_WRITER = Principal(subject=f"intake.{CONSUMER}", role=Role.SERVICE, agency="mash")
"""Who the audit log names for writes made on an event (the consumer, not a person)."""


def event_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """What intake's index does with strategy's events."""

    def plan_ended(event: Event, uow: UnitOfWork) -> None:
        """The child protection plan ended: the case closes, the involvement ended that day.

        A step-down to a child-in-need plan leaves the case open: the child keeps an allocated
        social worker under the new plan (DOMAIN.md §7). An event older than the case's
        latest opening (the case was reopened since) changes nothing, and a case the index
        never held is left alone: the event names no child to index.
        """
        data = event.data
        case_reference = str(data["case_reference"])
        ended_on = local_today(parse_time(str(data["ended_at"])))
        reason = str(data["reason"])
        case = indexed_case(uow.session, event.partnership, case_reference)
        if case is None:
            log.info("plan ended for a case not in the index", case_reference=case_reference)
            return
        if reason == STEPPED_DOWN_TO_CHILD_IN_NEED:
            log.info("plan stepped down to child in need: case stays open",
                     case_reference=case_reference)
            return
        if case.opened_on is not None and case.opened_on > ended_on:
            log.info("plan ended before the case was last opened: ignored",
                     case_reference=case_reference)
            return
        now = ctx.clock.now()
        if case.status == OPEN:
            case.status = CLOSED
            case.closed_on = ended_on
        elif case.closed_on is None:
            case.closed_on = ended_on
        if case.last_involvement_ended_on is None or case.last_involvement_ended_on < ended_on:
            case.last_involvement_ended_on = ended_on
        case.updated_at = now
        uow.session.add(case)
        audit(uow.session, principal=_EVENT_WRITER, action=AuditAction.WRITE,
              resource=RESOURCE, resource_id=case_reference, case_reference=case_reference,
              at=now, partnership=case.partnership)
        log.info("case closed: plan ended", case_reference=case_reference, reason=reason)

    return {PLAN_ENDED: plan_ended}
