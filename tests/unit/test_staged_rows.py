"""Rows staged for commit (mashcore.staged): the outbox's and the audit log's rows are written
when their transaction commits, in the order staged, and never for a rolled-back savepoint or
transaction. On a real SQLite database; PostgreSQL's path is the integration tier's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from mashcore.audit import AuditAction, AuditEntry, audit
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.envelope import Event
from mashcore.outbox import Outbox, OutboxRecord
from mashcore.schemas import SchemaRegistry
from mashcore.topics import TopicNamer
from tests.support import case_opened_event as case_opened

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
MANAGER = Principal(subject="tm-1", role=Role.TEAM_MANAGER, agency="childrens-services",
                    partnership="north")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'staged.db'}")
    tables = [OutboxRecord.__table__, AuditEntry.__table__]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=tables)
    yield engine
    engine.dispose()


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(SchemaRegistry(), TopicNamer())


def ref(n: int) -> str:
    return f"MASH-2026-AAAAAA{n:02d}"


def event(n: int) -> Event:
    return case_opened(ref(n))


def emitted(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRecord.key).order_by(col(OutboxRecord.id))))


def audited(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEntry.resource_id).order_by(col(AuditEntry.id))))


def read(uow: UnitOfWork, n: int) -> None:
    audit(uow.session, principal=MANAGER, action=AuditAction.READ, resource="case",
          resource_id=ref(n), at=NOW, case_reference=ref(n))


def test_staged_rows_are_written_at_commit_in_the_order_staged(engine: Engine,
                                                               outbox: Outbox) -> None:
    with unit_of_work(engine) as uow:
        outbox.add(uow, event(3), "cases")
        read(uow, 1)
        outbox.add_many(uow, [outbox.record(event(n), "cases") for n in (1, 2)])
        outbox.add(uow, event(0), "cases")
        assert emitted(engine) == []  # nothing before the commit
        uow.commit()

    assert emitted(engine) == [ref(3), ref(1), ref(2), ref(0)]
    assert audited(engine) == [ref(1)]
    with Session(engine) as session:
        entry = session.exec(select(AuditEntry)).one()
    assert (entry.actor, entry.partnership, entry.at) == ("tm-1", "north", NOW)


def test_a_rolled_back_savepoint_drops_what_was_staged_in_it(engine: Engine,
                                                             outbox: Outbox) -> None:
    with unit_of_work(engine) as uow:
        outbox.add(uow, event(1), "cases")
        kept = uow.session.begin_nested()
        outbox.add(uow, event(2), "cases")
        read(uow, 2)
        kept.commit()
        dropped = uow.session.begin_nested()
        outbox.add(uow, event(3), "cases")
        inner = uow.session.begin_nested()  # inside the dropped one: dropped with it
        read(uow, 3)
        inner.commit()
        dropped.rollback()
        outbox.add(uow, event(4), "cases")
        uow.commit()

    assert emitted(engine) == [ref(1), ref(2), ref(4)]
    assert audited(engine) == [ref(2)]


def test_a_rolled_back_transaction_writes_nothing_then_or_later(engine: Engine,
                                                                outbox: Outbox) -> None:
    with unit_of_work(engine) as uow:
        outbox.add(uow, event(1), "cases")
        read(uow, 1)
        uow.session.rollback()
        outbox.add(uow, event(2), "cases")  # the session's next transaction
        uow.commit()
    with pytest.raises(RuntimeError), unit_of_work(engine) as uow:
        outbox.add(uow, event(3), "cases")
        raise RuntimeError("the command failed before its commit")

    assert emitted(engine) == [ref(2)]
    assert audited(engine) == []


def test_a_session_closed_without_commit_writes_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        audit(session, principal=MANAGER, action=AuditAction.READ, resource="case",
              resource_id=ref(1), at=NOW)

    assert audited(engine) == []
