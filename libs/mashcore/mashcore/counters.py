"""Counters kept in the database as rows are written, so ``/metrics`` reads a handful of rows.

A model is *counted* (``count_inserts``): every row of it a transaction inserts adds one to a
named counter with labels taken from the row (the inbox counts events handled per consumer
and type; the SLA timekeeper counts transitions per kind). The increments commit in the same
transaction as the rows (a rolled-back transaction, or savepoint, counts nothing), and live
in ``metric_counter``, so every replica reports the same, monotonic, totals, a restart loses
nothing, and a purge of old rows does not lower them.

The increments are applied at commit, one upsert per counter, in a fixed order: the counter
rows are locked only for the end of the transaction, and two transactions never wait on each
other's counters in opposite orders (no deadlock between replicas).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from mashcore.pending import PerTransaction

LabelsOf = Callable[[Any], Sequence[str]]
_RULES: dict[type, list[tuple[str, LabelsOf]]] = {}
# Counts of the (sub)transaction that inserted the rows, applied at the whole one's commit.
_PENDING: PerTransaction[Counter[tuple[str, str]]] = PerTransaction("mashcore.counters")


class MetricCounter(SQLModel, table=True):
    """One counter: a name, its label values (a JSON list) and the total so far."""

    __tablename__ = "metric_counter"

    name: str = Field(primary_key=True, max_length=100)
    labels: str = Field(primary_key=True, max_length=500)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


def encode_labels(labels: Sequence[str]) -> str:
    return json.dumps(list(labels), separators=(",", ":"))


def count_inserts(model: type, name: str, labels: LabelsOf) -> None:
    """Count every inserted row of ``model`` in counter ``name``, labelled by ``labels(row)``."""
    _RULES.setdefault(model, []).append((name, labels))


def count_rows(session: Session, model: type, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count rows of ``model`` written without the ORM (a Core INSERT or a COPY, e.g.
    ``mashcore.db.insert_rows``) as the flush hook counts ORM inserts: in the current
    (sub)transaction, applied at its commit, forgotten if it rolls back."""
    rules = _RULES.get(model, ())
    if not rules:
        return
    found: Counter[tuple[str, str]] = Counter()
    for row in rows:
        view = SimpleNamespace(**row)
        for name, labels in rules:
            found[(name, encode_labels(labels(view)))] += 1
    _add_pending(session, found)


def read(session: Any, name: str) -> list[tuple[tuple[str, ...], int]]:
    """Every label set of counter ``name`` with its total (a primary-key range: no scan)."""
    rows = session.execute(
        sa.select(MetricCounter.__table__.c.labels, MetricCounter.__table__.c.value)  # type: ignore[attr-defined]
        .where(MetricCounter.__table__.c.name == name)  # type: ignore[attr-defined]
        .order_by(MetricCounter.__table__.c.labels)).all()  # type: ignore[attr-defined]
    return [(tuple(json.loads(labels)), int(value)) for labels, value in rows]


@event.listens_for(Session, "after_flush")
def _note_inserts(session: Session, _context: Any) -> None:
    if not _RULES:
        return
    found: Counter[tuple[str, str]] = Counter()
    for row in session.new:
        for name, labels in _RULES.get(type(row), ()):
            found[(name, encode_labels(labels(row)))] += 1
    _add_pending(session, found)


def _add_pending(session: Session, found: Counter[tuple[str, str]]) -> None:
    """Counts of the current (sub)transaction: applied at its commit, forgotten at its
    rollback."""
    if found and session.get_transaction() is not None:
        _PENDING.add(session, [found])


@event.listens_for(Session, "before_commit")
def _apply(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its counts are applied with the whole transaction
    if not _RULES:
        return
    session.flush()  # the commit's own flush comes after this hook: count its inserts too
    totals: Counter[tuple[str, str]] = Counter()
    for counts in _PENDING.take(session):
        totals.update(counts)
    if totals:
        increment(session.connection(), sorted(totals.items()))


def increment(connection: sa.Connection,
              counts: Iterable[tuple[tuple[str, str], int]]) -> None:
    """Add to counters (name, encoded labels) in this transaction, in the order given."""
    params = [{"name": name, "labels": labels, "value": value}
              for (name, labels), value in counts if value]
    if not params:
        return
    table = MetricCounter.__table__  # type: ignore[attr-defined]
    dialect = connection.dialect.name
    insert: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.name, table.c.labels],
        set_={"value": table.c.value + insert.excluded.value})
    for row in params:  # one at a time, in order: the locks are taken in that order
        connection.execute(statement, row)


def create_counter_table() -> None:
    """For a service's Alembic migration: the ``metric_counter`` table."""
    from alembic import op

    op.create_table(
        "metric_counter",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("labels", sa.String(500), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def backfill(name: str, query: str) -> None:
    """For a migration: start counter ``name`` from the rows already there. ``query`` selects
    the label values then the count, e.g. ``SELECT kind, count(*) FROM t GROUP BY kind``."""
    from alembic import op

    connection = op.get_bind()
    counts = [((name, encode_labels([str(v) for v in row[:-1]])), int(row[-1]))
              for row in connection.execute(sa.text(query))]
    increment(connection, sorted(counts))


def backfill_events_handled() -> None:
    """For a migration: ``events_handled`` from the inbox rows already there."""
    backfill(EVENTS_HANDLED, "SELECT consumer, event_type, count(*) FROM inbox "
                             "GROUP BY consumer, event_type")


EVENTS_HANDLED = "events_handled"
