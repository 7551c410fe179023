"""Engines and units of work: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import ARRAY, Column, DateTime, Table, TypeDecorator, any_, bindparam, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, create_engine


def is_postgres(engine: Engine) -> bool:
    """True on PostgreSQL (row locks, SKIP LOCKED, advisory locks available)."""
    return engine.dialect.name == "postgresql"


def among(column: ColumnElement[Any] | Mapped[Any], values: Sequence[Any], dialect: Dialect
          ) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``, one parameter.

    One statement whatever the number of values, which psycopg prepares once and PostgreSQL
    plans once; an IN list is a statement of its own for each length, parsed and planned
    afresh (issue 17: triage's batch read its inbox in some 25 shapes, each planned on every
    use, for over a millisecond of the server's time a batch)."""
    return _among(column, None, postgres=dialect.name == "postgresql", value=list(values))


def among_bound(column: ColumnElement[Any] | Mapped[Any], name: str, *, postgres: bool
                ) -> ColumnElement[bool]:
    """``among`` for a statement built once and run many times: the values are bound at
    execution, as the list ``name`` (on PostgreSQL one array parameter; elsewhere an
    expanding IN, rendered for each execution)."""
    return _among(column, name, postgres=postgres)


def _among(column: ColumnElement[Any] | Mapped[Any], name: str | None, *, postgres: bool,
           **value: Any) -> ColumnElement[bool]:
    expression = cast(ColumnElement[Any], column)  # an ORM attribute is one too
    if postgres:
        return expression == any_(bindparam(name, type_=ARRAY(expression.type), **value))
    return expression.in_(bindparam(name, expanding=True, **value))


def make_engine(url: str) -> Engine:
    """An engine tuned for the dialect; SQLite files get WAL and a busy timeout."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            # Sessions are used from worker threads (FastAPI sync routes, consumers).
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,  # SQL parameters are referrals: never in errors or logs
        )
        sa_event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(
        url,
        hide_parameters=True,  # SQL parameters are referrals: never in errors or logs
        pool_size=10,
        max_overflow=10,
        # An unreachable server fails fast (a 503 the client can retry), never hangs a request.
        # Sessions in UTC: psycopg then reads every timestamp with the ``datetime.UTC`` zone
        # itself, so ``UtcDateTime`` has nothing to convert (issue 17: at 1,000,000 stored
        # contacts the repeat lookup converted some 190 a referral from the server's zone).
        # No SQL of ours depends on the session's zone: instants are stored and compared as
        # timestamptz, and calendar days are worked out in Python (mashcore.workingtime).
        connect_args={"connect_timeout": 10, "options": "-c TimeZone=UTC"},
        pool_timeout=10,
        # Connections older than this are replaced at check-out (server or proxy idle limits).
        pool_recycle=POOL_RECYCLE_SECONDS,
    )
    sa_event.listen(engine.pool, "checkin", _note_checkin)
    dialect = engine.dialect

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return  # new (just connected) or just used: alive
        try:
            dialect.do_ping(dbapi_connection)  # what pool_pre_ping sends: one round trip
        except Exception as exc:  # any failure: the pool discards it and checks out another
            raise DisconnectionError("pooled connection found dead") from exc

    sa_event.listen(engine.pool, "checkout", ping_if_idle)
    return engine


POOL_RECYCLE_SECONDS = 1800
PING_AFTER_IDLE_SECONDS = 2.0
"""A pooled connection idle longer than this is pinged before use (issue 17).

Decision: instead of ``pool_pre_ping`` (one round trip before every transaction, one of the
eleven of a contact POST), a connection is pinged only when it has sat in the pool for a
while: a PostgreSQL restart takes longer than that, so after one every connection is idle
past it, is pinged, found dead and replaced before the request uses it (the first request
after a restart still succeeds). Under load connections come straight back and are not
pinged. If one dies in the window anyway, its statement fails as an outage (a 503 with
Retry-After; nothing committed) and SQLAlchemy invalidates the whole pool."""


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the single writer
    cursor.execute("PRAGMA synchronous=FULL")  # a 202 means on disk, even after power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class UnitOfWork:
    """One database transaction; events added here are written to the outbox in it."""

    def __init__(self, session: Session, on_commit: Callable[[], None] | None = None) -> None:
        self.session = session
        self._on_commit = on_commit
        self.outbox_written = False

    def lock_case(self, case_reference: str) -> None:
        """Serialise all work on one case: call first thing in every unit of work that
        changes it (commands and consumed events alike); held until commit or rollback.

        Decision: the key is the case reference alone (unique across partnerships), so a
        command and an event about one case always meet on the same lock, whichever
        partnership each believes it is in. PostgreSQL: a transaction-scoped advisory lock on
        a 64-bit hash of the key (a collision only serialises two cases, never breaks one).
        SQLite (embedded, one writer anyway): the database's write lock, taken at once
        (BEGIN IMMEDIATE), so nothing read after this call can change before the commit.
        """
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                               {"key": f"mash-case:{case_reference}"})
            return
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:  # already writing: the lock is held
            raw.execute("BEGIN IMMEDIATE")

    def try_lock_case(self, case_reference: str) -> bool:
        """The case's lock (as ``lock_case``) if no other unit of work holds it now, else
        False at once: for timers, which go on with other cases rather than wait (and so
        never deadlock holding several). SQLite: True (one writer anyway)."""
        connection = self.session.connection()
        if connection.dialect.name != "postgresql":
            return True
        return bool(connection.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"mash-case:{case_reference}"}).scalar_one())

    def commit(self) -> None:
        """Commit state and outbox rows together, then wake the relay."""
        self.session.commit()
        if self.outbox_written and self._on_commit is not None:
            self._on_commit()
        self.outbox_written = False


@contextmanager
def unit_of_work(
    engine: Engine, on_commit: Callable[[], None] | None = None
) -> Iterator[UnitOfWork]:
    """A fresh session and transaction; rolled back unless committed."""
    with Session(engine, expire_on_commit=False) as session:
        uow = UnitOfWork(session, on_commit)
        try:
            yield uow
        except BaseException:
            session.rollback()
            raise


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def versioned(version: Column[int]) -> dict[str, Any]:
    """Mapper arguments of a row guarded by a version counter (optimistic locking): the ORM
    sets ``version`` itself (1, then +1 on each UPDATE, which checks the old value).

    ``eager_defaults`` off: nothing is fetched back after an INSERT. The column's server
    default ("1", for rows that predate it) is the only one these rows have, and the ORM
    writes the value itself, yet with "auto" it judged the default missing and sent each
    flush's rows as one multi-row INSERT asking RETURNING: a statement past psycopg's
    50 parameters, parsed afresh every time (issue 17: in triage, 0.66 -> 0.39 ms of CPU per
    case opened). Now the rows go as an executemany of one short, cached statement."""
    return {"version_id_col": version, "eager_defaults": False}


def utc_column(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    """A UTC timestamp column for SQLModel ``sa_column=``."""
    return Column(UtcDateTime(), nullable=nullable, index=index)


def insert_rows(uow: UnitOfWork, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows (all with the same columns) written now, in their order, in the unit of work's
    transaction, in one statement (``write_rows``, a COPY on PostgreSQL)."""
    write_rows(uow.session.connection(), table, rows)


# Each column of a row with its type's bind processor (None: the value goes as it is).
_Processors = tuple[tuple[str, Callable[[Any], Any] | None], ...]


def _processors(dialect: Dialect, table: Table, names: Sequence[str]) -> _Processors:
    return tuple((name, table.c[name].type.bind_processor(dialect)) for name in names)


def _bound(processors: _Processors, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's values as its columns' types bind them, in the columns' order (a naive
    datetime is refused); None stays None."""
    values: dict[str, Any] = {}
    for name, process in processors:
        value = row[name]
        values[name] = value if process is None or value is None else process(value)
    return values


# (table, column names, dialect name) -> the INSERT as the dialect compiles it, with its
# columns' processors; None where the compiled form needs SQLAlchemy at execution
# (positional parameters, escaped names, Python-side defaults): those go through it.
_INSERTS: dict[tuple[Table, tuple[str, ...], str], tuple[str, _Processors] | None] = {}


def _insert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """An INSERT of ``rows``, compiled once per table and columns and sent with
    ``exec_driver_sql``: one execute for one row, an executemany for more. The statement and
    the bound values are those ``connection.execute(table.insert(), rows)`` sends (bind casts,
    column types' processing), without its per-call compiling, cache lookups and
    parameter processing (issue 17: about 0.05 ms of CPU per call, four calls per referral
    in intake). The engine's events still see it, and a driver error is still SQLAlchemy's
    (an ``IntegrityError`` for a duplicate key)."""
    names = tuple(rows[0])
    key = (table, names, connection.dialect.name)
    try:
        compiled = _INSERTS[key]
    except KeyError:
        compiled = _INSERTS[key] = _compiled_insert(connection.dialect, table, names)
    if compiled is None:
        connection.execute(table.insert(), list(rows))
        return
    statement, processors = compiled
    parameters = [_bound(processors, row) for row in rows]
    connection.exec_driver_sql(statement, parameters[0] if len(parameters) == 1 else parameters)


def _compiled_insert(dialect: Dialect, table: Table, names: tuple[str, ...]
                     ) -> tuple[str, _Processors] | None:
    compiled = table.insert().compile(dialect=dialect, column_keys=list(names),
                                      for_executemany=True)
    if (compiled.positional or compiled.escaped_bind_names or compiled.insert_prefetch
            or compiled.returning or set(compiled.binds) != set(names)):
        return None
    return compiled.string, _processors(dialect, table, names)


def write_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
               copy_from: int = 1) -> None:
    """Rows (all with the same columns) written now, in their order, in one statement: on
    PostgreSQL from ``copy_from`` rows a ``COPY ... FROM STDIN`` (no per-row Bind/Execute for
    the server to work through; issue 17's SLA storm), otherwise an executemany of one
    INSERT. Each value goes through its column type's bind processing, as in an INSERT (a
    naive datetime is refused)."""
    if not rows:
        return
    dialect = connection.dialect
    if len(rows) < copy_from or dialect.name != "postgresql" or dialect.driver != "psycopg":
        _insert(connection, table, rows)
        return
    names = list(rows[0])
    processors = _processors(dialect, table, names)
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    statement = (f"COPY {dialect.identifier_preparer.format_table(table)} ({columns}) "
                 "FROM STDIN")
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(list(_bound(processors, row).values()))
