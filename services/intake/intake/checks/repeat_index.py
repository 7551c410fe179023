"""The repeat lookup's index: each stored child's blocking keys (date of birth, full postcode).

Repeat detection used to parse every contact of the repeat window on every submission, so
its cost grew with the contacts stored. Now each contact's identified children leave a row
here, written in the contact's own transaction, and a submission reads only the contacts
that share a date of birth or a full postcode with one of its children, through the two
indexes; ``intake.checks.matching`` then scores those exactly as before. Every match shares one of
the two keys (``intake.checks.matching.blocking_key``), so the links are the same as a full scan's.

The window is applied to ``contact.received_at`` (hub staff may correct it later), so the
rows here hold no time. Links are made across partnerships as before (they are filtered when
read, README "Repeats across partnerships"), so the lookup takes no partnership.

Personal data (date of birth, postcode): never log a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import or_
from sqlmodel import Field, Session, SQLModel, col, select

from intake.checks.matching import (
    BLOCKING_SAFE_ABOVE,
    PROBABLE_MATCH_THRESHOLD,
    ChildKey,
    blocking_key,
)
from intake.contacts.models import Contact

__all__ = ["ContactMatchKey", "candidate_contacts", "record_keys"]

assert PROBABLE_MATCH_THRESHOLD > BLOCKING_SAFE_ABOVE, "blocking would miss matches"


class ContactMatchKey(SQLModel, table=True):
    """One identified child of a contact: the keys any repeat of that child shares."""

    __tablename__ = "contact_match_key"

    contact_id: str = Field(primary_key=True, foreign_key="contact.id", max_length=36)
    child_index: int = Field(primary_key=True)
    date_of_birth: date | None = Field(default=None, index=True)
    postcode: str | None = Field(default=None, max_length=8, index=True)


def record_keys(session: Session, contact_id: str, children: Sequence[ChildKey]) -> None:
    """Index a new contact's children (in the unit of work that stores the contact)."""
    for index, child in enumerate(children):
        key = blocking_key(child)
        if key is not None:
            session.add(ContactMatchKey(contact_id=contact_id, child_index=index,
                                        date_of_birth=key[0], postcode=key[1]))


def candidate_contacts(session: Session, children: Sequence[ChildKey], *, since: datetime,
                       exclude_id: str) -> Sequence[tuple[str, datetime, str]]:
    """Contacts received since ``since`` (other than ``exclude_id``) that could be a repeat
    of one of ``children``: those sharing a date of birth or a full postcode with one, as
    ``(id, received_at, submission)`` (the columns matching needs, not whole rows)."""
    keys = [key for key in map(blocking_key, children) if key is not None]
    dates = sorted({born for born, _ in keys if born is not None})
    postcodes = sorted({postcode for _, postcode in keys if postcode is not None})
    if not keys:
        return []
    shared = []
    if dates:
        shared.append(col(ContactMatchKey.date_of_birth).in_(dates))
    if postcodes:
        shared.append(col(ContactMatchKey.postcode).in_(postcodes))
    blocked = select(ContactMatchKey.contact_id).where(or_(*shared))
    return session.exec(
        select(Contact.id, Contact.received_at, Contact.submission).where(
            col(Contact.id).in_(blocked), col(Contact.received_at) >= since,
            Contact.id != exclude_id)
    ).all()
