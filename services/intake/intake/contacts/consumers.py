"""What intake does with triage's decisions: a contact stopped at the consent gate and
returned to its professional referrer goes back to them (DOMAIN.md §5; [002 §4]).

Triage decides (``consent-gate.applied``, outcome ``returned_to_referrer``); intake owns the
contact and the referrer relationship, so it records the return and announces
``contact.returned-for-consent`` for notifications to send. Never to a member of the public:
triage refuses that exit for them, and this handler checks again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import structlog
from sqlmodel import select

from intake import commands, lifecycle
from intake.contacts.models import Contact
from mashcore.consumer import EventHandler
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.service import ServiceContext
from mashcore.topics import TRIAGE_CASES

CONSUMER = "triage-decisions"
TOPICS = [TRIAGE_CASES]
CONSENT_GATE_APPLIED = "mash.triage.consent-gate.applied.v1"
RETURNED = lifecycle.RETURNED
log = structlog.get_logger(__name__)
AGENCIES = {"police", "health", "education", "probation", "housing", "camhs",
            "youth_offending", "early_years", "local_authority"}


class UnknownContact(LookupError):
    """A gate decision about a contact intake does not have (dead-lettered)."""


def event_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """Triage's events intake acts on."""

    def return_to_referrer(event: Event, uow: UnitOfWork) -> None:
        data = event.data
        if data["outcome"] != "returned_to_referrer":
            return
        contact = uow.session.exec(select(Contact).where(
            Contact.case_reference == event.subject)).first()
        if contact is None:
            raise UnknownContact(event.subject)
        if contact.status == RETURNED:
            return
        if not contact.may_become(RETURNED):
            # Hub staff forwarded it to the open case's worker first (the two decisions
            # crossed): it is routed, and returning it too would notify twice. Nothing to
            # do, and nothing wrong with the event (never dead-lettered).
            log.info("consent gate return not applied: the contact is already routed",
                     contact_status=contact.status)
            return
        if contact.referrer_agency == "public":
            raise ValueError("a contact from a member of the public is never returned")
        now = ctx.clock.now()
        contact.return_for_consent(  # the consumer holds the case's lock
            event, source=ctx.source, at=now, data={
                "contact_id": contact.id,
                "case_reference": contact.case_reference,
                "returned_at": str(data["applied_at"]),
                "returned_by": {"user_id": data["agreed_by"]["information_officer_id"],
                                "role": "information_officer"},
                "referrer": {"agency": contact.referrer_agency
                             if contact.referrer_agency in AGENCIES else "other",
                             "role": _referrer_role(contact)},
                "safeguarding_concerns": False,
                "consent_to_referral": data["consent_to_referral"],
                "guidance": data["rationale"],
            })
        commands.publish(ctx, uow, contact)

    return {CONSENT_GATE_APPLIED: return_to_referrer}


def _referrer_role(contact: Contact) -> str:
    role = (json.loads(contact.submission).get("referrer") or {}).get("role") or "referrer"
    return str(role)[:100]
