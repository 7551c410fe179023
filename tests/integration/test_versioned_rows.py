"""Rows under a version counter (``mashcore.db.versioned``): written as one short INSERT run
for every row of a flush, with nothing fetched back, and still refusing a stale update
(issue 17). Real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel, select

from mashcore.db import make_engine
from triage.models import TriageCase

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def case(n: int) -> TriageCase:
    """A synthetic case awaiting its rating."""
    return TriageCase(case_reference=f"MASH-2026-V{n:05d}", contact_id=f"contact-{n}",
                      partnership="coventry", kind="referral", status="awaiting",
                      received_at=NOW, opened_at=NOW, threshold_decision_due_at=NOW,
                      children="[]", concern_summary="synthetic", referrer_agency="health")


def test_a_flush_of_versioned_rows_is_one_cached_insert_run_with_no_returning(
        pg_url: str) -> None:
    engine = make_engine(pg_url)
    SQLModel.metadata.create_all(engine, tables=[TriageCase.__table__])  # type: ignore[attr-defined]
    inserts: list[tuple[str, Any, bool]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
             executemany: bool) -> None:
        if statement.startswith("INSERT INTO triage_case"):
            inserts.append((statement, parameters, executemany))

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        with Session(engine) as session:
            session.add_all([case(n) for n in range(6)])
            session.commit()
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    [(statement, parameters, executemany)] = inserts
    assert executemany and len(parameters) == 6  # one run, a row per parameter set
    assert "RETURNING" not in statement
    # Short enough for psycopg to convert it once and reuse it (its cache takes statements
    # of up to 50 parameters): a multi-row VALUES of these 44 columns was past it from 2 rows.
    assert len(parameters[0]) <= 50

    with Session(engine) as session:
        assert list(session.exec(select(TriageCase.version))) == [1] * 6
    engine.dispose()


def test_a_stale_update_is_still_refused(pg_url: str) -> None:
    engine = make_engine(pg_url)
    SQLModel.metadata.create_all(engine, tables=[TriageCase.__table__])  # type: ignore[attr-defined]
    with Session(engine) as session:
        session.add(case(1))
        session.commit()
    with Session(engine) as first, Session(engine) as second:
        mine = first.get(TriageCase, "MASH-2026-V00001")
        theirs = second.get(TriageCase, "MASH-2026-V00001")
        assert mine is not None and theirs is not None
        theirs.status = "decided"
        second.commit()
        mine.status = "closed"
        with pytest.raises(StaleDataError):
            first.commit()
    with Session(engine) as session:
        stored = session.get(TriageCase, "MASH-2026-V00001")
        assert stored is not None and (stored.status, stored.version) == ("decided", 2)
    engine.dispose()
