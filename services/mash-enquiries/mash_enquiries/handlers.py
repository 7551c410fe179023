"""What MASH enquiries does with intake's and triage's events (inbox + outbox per event)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from intake.events import CONTACT_RECEIVED, RECORD_LOCKED_DOWN
from mash_enquiries import episodes
from mash_enquiries.models import CaseAccess, CaseRecord
from mashcore.consumer import EventHandler, NotYetKnown
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.lockdown import named_in, replace_named_users
from mashcore.service import ServiceContext

THRESHOLD_DECIDED = "mash.triage.threshold.decided.v1"
CASE_RE_RATED = "mash.triage.case.re-rated.v1"
CONSENT_OVERRIDE_RECORDED = "mash.triage.consent-override.recorded.v1"
CONSENT_OBTAINED = "mash.triage.consent.obtained.v1"


def intake_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """The people to search for, and who may see a locked-down case."""

    def remember_case(event: Event, uow: UnitOfWork) -> None:
        if uow.session.get(CaseRecord, event.subject) is not None:
            return
        data = event.data
        uow.session.add(CaseRecord(
            case_reference=event.subject, partnership=event.partnership,
            children=json.dumps(data["children"]), family=json.dumps(data.get("family") or []),
            postcode=data.get("postcode"), restricted=bool(data.get("staff_linked")),
            address=json.dumps(data["address"]) if data.get("address") else None,
            received_at=parse_time(str(data["received_at"]))))

    def lock_down(event: Event, uow: UnitOfWork) -> None:
        case = uow.session.get(CaseRecord, event.subject)
        if case is None:
            raise NotYetKnown(f"contact:{event.subject}")
        case.restricted = True
        uow.session.add(case)
        replace_named_users(uow.session, CaseAccess, "case_reference", event.subject,
                            named_in(event.data))

    return {CONTACT_RECEIVED: remember_case, RECORD_LOCKED_DOWN: lock_down}


def triage_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """Threshold decisions open episodes; re-ratings and consent decisions change them."""

    def decided(event: Event, uow: UnitOfWork) -> None:
        episodes.on_decision(ctx, uow, event)

    def re_rated(event: Event, uow: UnitOfWork) -> None:
        episodes.on_re_rating(ctx, uow, event)

    def override(event: Event, uow: UnitOfWork) -> None:
        episodes.on_consent(uow, event, episodes.WITHOUT_CONSENT)

    def obtained(event: Event, uow: UnitOfWork) -> None:
        episodes.on_consent(uow, event, "consent")

    return {THRESHOLD_DECIDED: decided, CASE_RE_RATED: re_rated,
            CONSENT_OVERRIDE_RECORDED: override, CONSENT_OBTAINED: obtained}
