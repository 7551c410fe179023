"""What a session's transactions leave for their commit, kept per (sub)transaction.

Two things are applied only when a whole transaction commits: the counters of rows it
inserted (``mashcore.counters``) and the rows staged for its commit (``mashcore.staged``).
Each item is kept with the transaction (or savepoint) that was current when it was added;
a rolled-back savepoint drops the items added inside it (and inside savepoints nested in
it), a rolled-back or finished transaction all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

T = TypeVar("T")


class PerTransaction(Generic[T]):
    """Items added during a session's transaction, taken in order at its commit."""

    def __init__(self, name: str) -> None:
        self._items = f"{name}.pending"  # session.info: [(transaction, item)] in order
        self._rolled_back = f"{name}.rolled_back"  # session.info: savepoints rolled back
        event.listen(Session, "after_soft_rollback", self._forget)
        event.listen(Session, "after_transaction_end", self._clear)

    def add(self, session: Session, items: Iterable[T]) -> None:
        """Keep ``items`` with the session's current (sub)transaction, which must exist."""
        transaction = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(self._items, []).extend((transaction, item) for item in items)

    def take(self, session: Session) -> list[T]:
        """The items of the transaction now committing, in the order added, but for those
        of rolled-back savepoints; none are kept after."""
        items = session.info.pop(self._items, None)
        rolled_back = session.info.pop(self._rolled_back, set())
        if not items:
            return []
        return [item for transaction, item in items if not _within(transaction, rolled_back)]

    def _forget(self, session: Session, previous: SessionTransaction) -> None:
        if previous.parent is None:  # the whole transaction: nothing it added happened
            self._clear(session, previous)
        elif self._items in session.info:  # a savepoint: what was added inside it did not
            session.info.setdefault(self._rolled_back, set()).add(previous)

    def _clear(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop(self._items, None)
            session.info.pop(self._rolled_back, None)


def _within(transaction: SessionTransaction | None, rolled_back: set[SessionTransaction]) -> bool:
    while transaction is not None:
        if transaction in rolled_back:
            return True
        transaction = transaction.parent
    return False
