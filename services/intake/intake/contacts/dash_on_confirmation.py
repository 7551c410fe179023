"""The DASH request after hub staff confirm a domestic-abuse flag (issue 20).

A referral that describes domestic abuse only in its words is not flagged, so intake did not
ask the police for the DASH on arrival. When an information officer or team manager confirms
the flag triage suggested (``mash.triage.domestic-abuse.confirmed.v1``), intake asks now,
with the same ``mash.intake.dash.requested.v1`` it emits for a flag the referrer ticked: the
request to the police mailbox (notifications) and the clock (sla-timekeeper) follow as they
do for that one. ``requested_by`` names the user who confirmed. Redelivery is absorbed by the
consumer's inbox; triage announces a confirmation once.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import select

from intake import domain, events
from intake.contacts.consumers import UnknownContact
from intake.contacts.models import Contact
from mashcore.consumer import EventHandler
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS

DOMESTIC_ABUSE_CONFIRMED = "mash.triage.domestic-abuse.confirmed.v1"


def event_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """Triage's confirmation of a domestic-abuse flag: ask the police for the DASH."""

    def request_dash(event: Event, uow: UnitOfWork) -> None:
        contact = uow.session.exec(select(Contact).where(
            Contact.case_reference == event.subject)).first()
        if contact is None:
            raise UnknownContact(event.subject)
        now = ctx.clock.now()
        data = domain.dash_requested_data(
            request_id=new_id(), contact_id=contact.id,
            case_reference=contact.case_reference, requested_at=now)
        data["requested_by"] = str(event.data["confirmed_by"]["user_id"])
        ctx.emit(uow, event.follow_up(type=events.DASH_REQUESTED, source=ctx.source,
                                      recordedtime=now, data=data), INTAKE_CONTACTS)

    return {DOMESTIC_ABUSE_CONFIRMED: request_dash}
