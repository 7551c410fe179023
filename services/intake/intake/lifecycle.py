"""A contact's status and the only ways it may change (one place, used by every change).

Decision: a transition table rather than a state machine library (python-statemachine,
transitions): four states and five moves read best as data a reviewer can check against
DOMAIN.md §3 and §5, with nothing bound to the ORM row and no new dependency.

A change to a contact is one writer per case: load it with ``contact_for_change``, which
takes the case's lock (``UnitOfWork.lock_case``) and then reads the row as committed, so two
requests (or a request and an event) about one contact act one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping

from intake.models import Contact
from mashcore.db import UnitOfWork

RECEIVED = "received"
OPEN_CASE_FOUND = "open_case_found"  # a probable open case: hub staff confirm forwarding
FORWARDED = "forwarded_to_allocated_worker"  # case information for the open case's worker
RETURNED = "returned_for_consent"  # triage's consent gate sent it back to the referrer

TRANSITIONS: Mapping[str, frozenset[str]] = {
    RECEIVED: frozenset({OPEN_CASE_FOUND, FORWARDED, RETURNED}),
    OPEN_CASE_FOUND: frozenset({FORWARDED, RETURNED}),
    FORWARDED: frozenset(),  # routed: forwarding or returning it again would notify twice
    RETURNED: frozenset(),
}


class IllegalTransition(Exception):
    """A status change the table does not allow (the message names states, never data)."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a contact {current} cannot become {target}")
        self.current, self.target = current, target


def may_move(contact: Contact, target: str) -> bool:
    """True if the contact may go from its status to ``target``."""
    return target in TRANSITIONS.get(contact.status, frozenset())


def move(uow: UnitOfWork, contact: Contact, target: str) -> None:
    """Change the contact's status, or raise IllegalTransition."""
    if not may_move(contact, target):
        raise IllegalTransition(contact.status, target)
    contact.status = target
    uow.session.add(contact)


def contact_for_change(uow: UnitOfWork, contact_id: str) -> Contact | None:
    """The contact, with its case locked for this unit of work and read as committed."""
    contact = uow.session.get(Contact, contact_id)
    if contact is not None:
        uow.lock_case(contact.case_reference)  # the reference never changes
        uow.session.refresh(contact)
    return contact
