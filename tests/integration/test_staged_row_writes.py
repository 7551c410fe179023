"""The few rows of a command's append-only tables (outbox, audit, idempotency keys, the repeat
index; ``mashcore.db.write_rows``) go to PostgreSQL as the INSERT SQLAlchemy would send,
compiled once and sent at driver level (issue 17): one execute for one row, an executemany
for more, no RETURNING; values through their columns' types; a duplicate key still
SQLAlchemy's ``IntegrityError``; a naive timestamp still refused. Real PostgreSQL, and SQLite
for the embedded default."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import SQLModel

from mashcore.db import make_engine, write_rows
from mashcore.outbox import OutboxRecord

OUTBOX = OutboxRecord.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def row(n: int, at: datetime = NOW) -> dict[str, Any]:
    """An outbox row of a synthetic event."""
    return {"event_id": f"event-{n}", "event_type": "mash.test.v1", "topic": "mash.test",
            "key": f"MASH-2026-T{n:05d}", "headers": "[]", "payload": b"\x00{}",
            "created_at": at}


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (request.getfixturevalue("pg_url") if request.param == "postgresql"
           else f"sqlite:///{tmp_path / 'rows.sqlite'}")
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine, tables=[OUTBOX])
    yield engine
    engine.dispose()


class Sent:
    """The statements the engine sends: (text, parameters, executemany)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any, bool]] = []

    def __enter__(self) -> Sent:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
              executemany: bool) -> None:
        self.statements.append((statement, parameters, executemany))


def stored(engine: Engine) -> list[tuple[str, str, bytes, datetime]]:
    with engine.connect() as connection:
        return [(r.event_id, r.key, r.payload, r.created_at.astimezone(UTC)) for r in
                connection.execute(select(OUTBOX).order_by(OUTBOX.c.id))]


def test_one_row_is_one_insert_and_several_one_executemany_in_their_order(
        engine: Engine) -> None:
    east = timezone(timedelta(hours=5))
    with Sent(engine) as sent, engine.begin() as connection:
        write_rows(connection, OUTBOX, [row(1, NOW.astimezone(east))], copy_from=50)
        write_rows(connection, OUTBOX, [row(n) for n in (2, 3, 4)], copy_from=50)
    [(one, single, many_flag_1), (_, several, many_flag_2)] = sent.statements
    assert one.startswith("INSERT INTO outbox") and "RETURNING" not in one
    assert not many_flag_1 and len(single) == len(row(1))  # one parameter set
    assert many_flag_2 and len(several) == 3
    assert stored(engine) == [(f"event-{n}", f"MASH-2026-T{n:05d}", b"\x00{}", NOW)
                              for n in (1, 2, 3, 4)]


def test_a_duplicate_key_is_sqlalchemys_integrity_error_and_nothing_is_kept(
        engine: Engine) -> None:
    with engine.begin() as connection:
        write_rows(connection, OUTBOX, [row(1)], copy_from=50)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        write_rows(connection, OUTBOX, [row(2)], copy_from=50)
        write_rows(connection, OUTBOX, [row(3), row(1)], copy_from=50)
    assert [r[0] for r in stored(engine)] == ["event-1"]


def test_a_naive_timestamp_is_refused(engine: Engine) -> None:
    with pytest.raises((ValueError, StatementError), match="naive"), \
            engine.begin() as connection:
        write_rows(connection, OUTBOX, [row(1, NOW.replace(tzinfo=None))], copy_from=50)
    assert stored(engine) == []
