"""What strategy does with the events before it (inbox + outbox per event).

Intake's contact tells it the case's children and referrer (and lock-downs who may see the
case); a threshold decision or a re-rating routed to ``strategy_discussion``, or a MASH
outcome ``strategy_discussion``, requests a discussion about every child of the case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from intake.events import CONTACT_RECEIVED, RECORD_LOCKED_DOWN, TRANSFER_IN_RECEIVED
from mashcore.consumer import EventHandler, NotYetKnown
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.lockdown import named_in, replace_named_users
from mashcore.service import ServiceContext
from strategy.discussions import Request, open_discussion
from strategy.models import CaseAccess, StrategyCase
from strategy.transfers import transfer_in_received

THRESHOLD_DECIDED = "mash.triage.threshold.decided.v1"
CASE_RE_RATED = "mash.triage.case.re-rated.v1"
OUTCOME_DECIDED = "mash.enquiries.outcome.decided.v1"
STRATEGY_DISCUSSION = "strategy_discussion"


def _case(uow: UnitOfWork, event: Event) -> StrategyCase:
    case = uow.session.get(StrategyCase, event.subject)
    if case is None:
        # The contact is on another topic and may not have been read yet: wait for it.
        raise NotYetKnown(f"contact:{event.subject}")
    return case


def _urgency(brag: str | None) -> str:
    return "immediate" if brag == "red" else "within_1_working_day"


def intake_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """The case's children and referrer, and who may see a locked-down case."""

    def remember_case(event: Event, uow: UnitOfWork) -> None:
        if uow.session.get(StrategyCase, event.subject) is not None:
            return
        data = event.data
        uow.session.add(StrategyCase(
            case_reference=event.subject, partnership=event.partnership,
            children=json.dumps(data["children"]),
            referrer_agency=str(data["referrer"]["agency"]),
            referrer_role=str(data["referrer"]["role"]),
            restricted=bool(data.get("staff_linked")),
            received_at=parse_time(str(data["received_at"]))))

    def lock_down(event: Event, uow: UnitOfWork) -> None:
        case = _case(uow, event)
        case.restricted = True
        uow.session.add(case)
        replace_named_users(uow.session, CaseAccess, "case_reference", event.subject,
                            named_in(event.data))

    return {CONTACT_RECEIVED: remember_case, RECORD_LOCKED_DOWN: lock_down,
            TRANSFER_IN_RECEIVED: transfer_in_received(ctx)}


def decision_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """Triage's and MASH enquiries' decisions that call for a strategy discussion."""

    def requested(event: Event, uow: UnitOfWork, *, trigger: str, by_field: str,
                  at_field: str, brag: str | None) -> None:
        data = event.data
        by = data[by_field]
        open_discussion(
            ctx, uow, _case(uow, event),
            Request(trigger=trigger, reason=str(data.get("rationale") or data.get("reason")),
                    urgency=_urgency(brag), child_numbers=None),
            by={"user_id": str(by["user_id"]), "role": str(by["role"]),
                "agency": "local_authority"},
            at=parse_time(str(data[at_field])), correlation_id=event.correlationid,
            cause=event)

    def threshold_decided(event: Event, uow: UnitOfWork) -> None:
        if event.data["route"] == STRATEGY_DISCUSSION:
            requested(event, uow, trigger="threshold_decision", by_field="decided_by",
                      at_field="decided_at", brag=str(event.data["brag"]))

    def re_rated(event: Event, uow: UnitOfWork) -> None:
        if event.data.get("new_route") == STRATEGY_DISCUSSION:
            requested(event, uow, trigger="threshold_decision", by_field="re_rated_by",
                      at_field="re_rated_at", brag=str(event.data["new_brag"]))

    def mash_outcome(event: Event, uow: UnitOfWork) -> None:
        if event.data["outcome"] == STRATEGY_DISCUSSION:
            requested(event, uow, trigger="mash_outcome", by_field="decided_by",
                      at_field="decided_at", brag=None)

    return {THRESHOLD_DECIDED: threshold_decided, CASE_RE_RATED: re_rated,
            OUTCOME_DECIDED: mash_outcome}


def merged(*maps: Mapping[str, EventHandler]) -> dict[str, EventHandler]:
    """Several parts of the service reacting to the same events: each event type's handlers
    run in the order given, in one unit of work (a transfer-in may both request a strategy
    discussion and arrange a transfer-in conference)."""
    steps: dict[str, list[EventHandler]] = {}
    for handlers in maps:
        for event_type, handler in handlers.items():
            steps.setdefault(event_type, []).append(handler)

    def in_order(chain: list[EventHandler]) -> EventHandler:
        def handle(event: Event, uow: UnitOfWork) -> None:
            for step in chain:
                step(event, uow)
        return handle

    return {t: chain[0] if len(chain) == 1 else in_order(chain) for t, chain in steps.items()}
