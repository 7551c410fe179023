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

from intake.models import Contact, ContactLink
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext


def linked_ids(contact_id: str) -> Select[Any]:
    """The ids of the contacts linked to ``contact_id``, either way round (a subquery)."""
    return select(union(
        select(ContactLink.linked_contact_id).where(ContactLink.contact_id == contact_id),
        select(ContactLink.contact_id).where(ContactLink.linked_contact_id == contact_id),
    ).subquery().c[0])


def other_partnership_links(ctx: ServiceContext, uow: UnitOfWork,
                            contact: Contact) -> list[dict[str, Any]]:
    """One entry per other partnership holding a linked contact whose pack shares that a link
    exists: ``{"other_partnership_link": true, "contact": <its MASH>}``."""
    partnerships = uow.session.exec(
        select(Contact.partnership).distinct()
        .where(col(Contact.id).in_(linked_ids(contact.id)),
               col(Contact.partnership) != contact.partnership)
        .order_by(col(Contact.partnership))).all()
    shown = []
    for partnership in partnerships:
        policy = ctx.policy.for_partnership(partnership).cross_border_links
        if policy is not None:
            shown.append({"other_partnership_link": True, "contact": policy.mash_contact})
    return shown
