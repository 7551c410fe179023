"""What triage does with intake's events: open, enrich, lock down or close a case.

Each handler runs in the consumer's transaction (inbox + outbox), so a redelivered event
changes nothing twice. They reach the database through the ORM alone (``session.get``, ORM
statements, ``session.add``), whose queries flush what is pending first: the consumer is
``orm_only`` (a batch is flushed once). Keep it so, or drop ``orm_only`` in service.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from intake.events import (
    CONTACT_RECEIVED,
    CONTACT_TIME_CORRECTED,
    FORWARDED_TO_ALLOCATED_WORKER,
    RECORD_LOCKED_DOWN,
    REFERRAL_ACCEPTED,
)
from mashcore.consumer import EventHandler
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.lockdown import named_in, replace_named_users
from mashcore.service import ServiceContext
from mashcore.topics import TRIAGE_CASES
from triage import domain, rules
from triage.models import CaseAccess, TriageCase


class CaseNotOpened(LookupError):
    """An event about a case triage never opened (dead-lettered with this reason)."""


# session.info key: the cases this transaction opened (case reference -> row).
_OPENED = "triage_opened_cases"


def _case(uow: UnitOfWork, event: Event) -> TriageCase:
    """The event's case, locked for this transaction. A case the transaction opened itself
    (its contact.received came first in the same batch) is the row in hand: no other
    transaction can see or change it before the commit, so it needs no SELECT ... FOR
    UPDATE (issue 17). Once its savepoint is rolled back it is no longer in the session,
    and is looked up as any other."""
    opened = uow.session.info.get(_OPENED, {}).get(event.subject)
    if opened is not None and opened in uow.session:
        return opened  # type: ignore[no-any-return]
    case = uow.session.get(TriageCase, event.subject, with_for_update=True)
    if case is None:
        raise CaseNotOpened(event.type)
    return case


def event_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """What triage does with intake's events."""

    def open_case(event: Event, uow: UnitOfWork) -> None:
        """A received contact becomes a case awaiting its initial rating."""
        data = event.data
        received_at = parse_time(str(data["received_at"]))
        now = ctx.clock.now()
        pack = ctx.policy.for_partnership(event.partnership)
        case = TriageCase(
            case_reference=event.subject,
            contact_id=str(data["contact_id"]),
            partnership=event.partnership,
            kind=str(data["kind"]),
            status=rules.AWAITING_INITIAL_RATING,
            received_at=received_at,
            opened_at=now,
            threshold_decision_due_at=pack.due(pack.threshold_decision_within, received_at),
            children=json.dumps(data["children"]),
            concern_summary=str(data["concern"]["summary"]),
            correlation_id=event.correlationid,
            referrer_agency=str(data["referrer"]["agency"]),
            # Staff-linked: team managers only until locked down (DOMAIN.md §3).
            restricted=bool(data.get("staff_linked")),
        )
        uow.session.add(case)
        uow.session.info.setdefault(_OPENED, {})[case.case_reference] = case
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

    def add_referral(event: Event, uow: UnitOfWork) -> None:
        """The referral's consent, flags, DASH, view of need and quality, for the IO and TM."""
        case = _case(uow, event)
        data = dict(event.data)
        case.referral = json.dumps(data)
        case.referrer_agency = str(data["referrer"]["agency"])
        if case.consent_to_referral == "unknown":  # nobody has recorded consent yet
            case.consent_to_referral = str(data["consent"]["referral"])
            if case.status == rules.AWAITING_CONSENT_GATE and case.consent_to_referral == "given":
                case.status = rules.AWAITING_THRESHOLD_DECISION
        case.restricted = case.restricted or bool(data["flags"]["staff_linked"])
        uow.session.add(case)

    def close_forwarded(event: Event, uow: UnitOfWork) -> None:
        """Intake sent the contact to an open case's allocated worker as a case note
        (DOMAIN.md §3): it is not a new referral, so triage closes its case."""
        case = _case(uow, event)
        if case.status in rules.OPEN:
            case.status = rules.FORWARDED_TO_ALLOCATED_WORKER
            case.closed_at = parse_time(str(event.data["forwarded_at"]))
            uow.session.add(case)

    def lock_down(event: Event, uow: UnitOfWork) -> None:
        """Only the named users may see the case from now on (DOMAIN.md §3, §10)."""
        case = _case(uow, event)
        case.restricted = True
        uow.session.add(case)
        replace_named_users(uow.session, CaseAccess, "case_reference", case.case_reference,
                            named_in(event.data))

    def correct_time(event: Event, uow: UnitOfWork) -> None:
        """Hub staff corrected when the contact came in: the decision is due from then."""
        case = _case(uow, event)
        case.received_at = parse_time(str(event.data["received_at"]))
        if case.status in rules.OPEN:
            pack = ctx.policy.for_partnership(case.partnership)
            case.threshold_decision_due_at = pack.due(pack.threshold_decision_within,
                                                      case.received_at)
        uow.session.add(case)

    return {
        CONTACT_RECEIVED: open_case,
        CONTACT_TIME_CORRECTED: correct_time,
        REFERRAL_ACCEPTED: add_referral,
        FORWARDED_TO_ALLOCATED_WORKER: close_forwarded,
        RECORD_LOCKED_DOWN: lock_down,
    }
