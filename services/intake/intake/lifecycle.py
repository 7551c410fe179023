"""Intake's statuses and the only ways each may change (one place, used by every change):
a contact's, a consultation's and a transfer-in's.

Decision: a transition table rather than a state machine library (python-statemachine,
transitions): a handful of states and moves read best as data a reviewer can check against
DOMAIN.md §3 and §5, with nothing bound to the ORM row and no new dependency. ``Lifecycle``
is that table with its two questions (may it move? move it), one per kind of record.

A contact's status changes only through the ``Contact`` aggregate's methods
(``intake.contacts.models``), which check ``CONTACT`` and record the events to publish. A
change to a contact is one writer per case: load it with ``intake.access.contact_for_change``,
which takes the case's lock (``UnitOfWork.lock_case``) and then reads the row as committed, so
two requests (or a request and an event) about one contact act one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

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

    def __init__(self, current: str, target: str, kind: str = "contact") -> None:
        super().__init__(f"a {kind} {current} cannot become {target}")
        self.current, self.target = current, target


class HasStatus(Protocol):
    """A row with a status (a contact, a consultation, a transfer-in)."""

    status: str


@dataclass(frozen=True)
class Lifecycle:
    """One kind of record's transition table: from each status, the statuses it may take."""

    kind: str  # names the record in IllegalTransition's message
    transitions: Mapping[str, frozenset[str]]

    def may_move(self, row: HasStatus, target: str) -> bool:
        """True if the row may go from its status to ``target``."""
        return target in self.transitions.get(row.status, frozenset())

    def move(self, uow: UnitOfWork, row: HasStatus, target: str) -> None:
        """Change the row's status, or raise IllegalTransition."""
        if not self.may_move(row, target):
            raise IllegalTransition(row.status, target, self.kind)
        row.status = target
        uow.session.add(row)


# Only the Contact aggregate (intake.contacts.models) asks this table and moves a contact.
CONTACT = Lifecycle("contact", TRANSITIONS)


# A request for consultation [002 §3]: the advice is recorded once.
AWAITING_ADVICE = "awaiting_advice"
ADVICE_RECORDED = "advice_recorded"
CONSULTATION = Lifecycle("consultation", {
    AWAITING_ADVICE: frozenset({ADVICE_RECORDED}),
    ADVICE_RECORDED: frozenset(),  # recorded and announced: a second advice would announce twice
})

# A transfer-in [002 §8]: a team manager decides permanent or temporary (DECIDED, final), or
# that the authorities dispute it (DISPUTED), which is decided again once they resolve it.
AWAITING_DECISION = "awaiting_decision"
DISPUTED = "disputed"
DECIDED = "decided"
TRANSFER_IN = Lifecycle("transfer-in", {
    AWAITING_DECISION: frozenset({DECIDED, DISPUTED}),
    DISPUTED: frozenset({DECIDED}),  # disputing it again would announce the dispute twice
    DECIDED: frozenset(),
})

