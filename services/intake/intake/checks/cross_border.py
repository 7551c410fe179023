"""Repeat links across partnerships (children move): policy, never a disclosure.

Repeat detection links contacts about the same child from any partnership, and the link is
kept. What another partnership's staff see of it is the linked partnership's policy
(``cross_border_links`` in its pack): by default nothing at all; if the pack sets it, only
that a link exists and whom to ask (that partnership's MASH), never the reference, the id or
any content. Either way the answer is built from a query that never loads the other
partnership's record into the response.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import union
from sqlalchemy.sql import Select
from sqlmodel import col, select

from intake.contacts.models import Contact, ContactLink
from mashcore.audit import AuditAction, audit
from mashcore.auth import Principal
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext


def linked_ids(contact_id: str) -> Select[Any]:
    """The ids of the contacts linked to ``contact_id``, either way round (a subquery)."""
    return select(union(
        select(ContactLink.linked_contact_id).where(ContactLink.contact_id == contact_id),
        select(ContactLink.contact_id).where(ContactLink.linked_contact_id == contact_id),
    ).subquery().c[0])


def other_partnership_links(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                            contact: Contact) -> list[dict[str, Any]]:
    """One entry per other partnership holding a linked contact whose pack shares that a link
    exists: ``{"other_partnership_link": true, "contact": <its MASH>}``. Each linked contact
    so disclosed is audited under its own reference and partnership (``existence_only``), so
    that partnership's managers see who learned of it."""
    others = uow.session.exec(
        select(Contact)
        .where(col(Contact.id).in_(linked_ids(contact.id)),
               col(Contact.partnership) != contact.partnership)
        .order_by(col(Contact.partnership), col(Contact.received_at))).all()
    shown: dict[str, dict[str, Any]] = {}
    for other in others:
        policy = ctx.policy.for_partnership(other.partnership).cross_border_links
        if policy is None:
            continue
        shown.setdefault(other.partnership, {"other_partnership_link": True,
                                             "contact": policy.mash_contact})
        audit(uow.session, principal=principal, action=AuditAction.READ,
              resource="contact_link", resource_id=other.id,
              case_reference=other.case_reference, at=ctx.clock.now(),
              outcome="existence_only", partnership=other.partnership)
    return list(shown.values())
