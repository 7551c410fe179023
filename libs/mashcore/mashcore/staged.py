"""Rows of append-only tables (the outbox, the audit log, idempotency keys) staged in a
session and written at its commit, with one Core statement per table, instead of an ORM object
each (issue 17).

An ORM insert costs an object, its state in the unit of work, and a RETURNING of its id: for
rows nothing reads back in the transaction that writes them, that was a fifth of a referral's
flush in intake and triage. Staged rows keep what the ORM gave:

- They commit with the transaction that staged them, or not at all. A row staged in a
  savepoint that is rolled back is dropped with it (the per-event path of a consumer batch);
  a top-level rollback drops everything staged.
- They are written in the order staged, so an outbox's ids (the relay's order) follow the
  order events were emitted, as the ORM's flush kept it. They are written while the
  transaction still holds its case locks, so a case's events are still in commit order
  (``mashcore.relay``).
- They are not visible to queries of the same transaction (nothing reads them there: the
  relay, ``/metrics`` and the audit API read committed rows from other sessions, and a
  command looks up its idempotency key before it stages one).
- A row that breaks a constraint fails the commit, as a flush did: an idempotency key that
  a retry, or a race, committed first raises ``IntegrityError`` from ``commit()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.orm import Session

from mashcore.db import write_rows
from mashcore.pending import PerTransaction

# Rows of one table from which PostgreSQL gets a COPY (an SLA storm's events) rather than
# an INSERT, which is one round trip less for the few rows of a command.
COPY_FROM = 50
_STAGED: PerTransaction[tuple[Table, Mapping[str, Any]]] = PerTransaction("mashcore.staged")


def stage(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` of ``table`` when the session's transaction commits (see the module)."""
    if not rows:
        return
    session.connection()  # begins the transaction, as an ORM add followed by a flush would
    _STAGED.add(session, ((table, row) for row in rows))


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its rows are written with the whole transaction
    runs: list[tuple[Table, list[Mapping[str, Any]]]] = []
    for table, row in _STAGED.take(session):
        if runs and runs[-1][0] is table:
            runs[-1][1].append(row)
        else:
            runs.append((table, [row]))
    if not runs:
        return
    connection = session.connection()
    for table, rows in runs:
        write_rows(connection, table, rows, copy_from=COPY_FROM)
